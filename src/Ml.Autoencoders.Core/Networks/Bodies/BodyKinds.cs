using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Custom;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Networks.Tokens;

namespace Ml.Autoencoders.Networks.Bodies;

/// <summary>
/// Every body the library has, listed once: adding a body is its folder (options, network, spec, kind) and one line
/// in <see cref="All"/>. Options, model files and their JSON find bodies here, never by concrete type.
/// </summary>
internal static class BodyKinds
{
    /// <summary>The bodies; the first is the default (no body options).</summary>
    public static readonly IReadOnlyList<BodyKind> All =
    [
        DenseBody.Kind,
        ConvolutionalBody.Kind,
        RecurrentBody.Kind,
        TokenSequenceBody.Kind,
        CustomBody.Kind,
    ];

    /// <summary>The body <paramref name="options"/> select (the dense default for null).</summary>
    public static BodyKind For(BodyOptions? options) => options is null
        ? All[0]
        : All.FirstOrDefault(k => k.OptionsType == options.GetType())
            ?? throw new ArgumentException($"{options.GetType().Name} is not a body this library lists.", nameof(options));

    /// <summary>The body a model header names, or null when this library version has none by that name.</summary>
    public static BodyKind? ByModelKind(string? name) => All.FirstOrDefault(k => k.ModelKind == name);

    /// <summary>
    /// <paramref name="json"/> with what body options need: their polymorphism (a "kind" property naming the body) and
    /// each body's converters. Call before the options are first used.
    /// </summary>
    public static JsonSerializerOptions AddTo(JsonSerializerOptions json, int maxLayers)
    {
        foreach (var kind in All)
            foreach (var converter in kind.JsonConverters(maxLayers))
                json.Converters.Add(converter);
        json.TypeInfoResolver = (json.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(Polymorphism);
        return json;
    }

    private static void Polymorphism(JsonTypeInfo info)
    {
        if (info.Type != typeof(BodyOptions)) return;
        info.PolymorphismOptions = new JsonPolymorphismOptions
        {
            TypeDiscriminatorPropertyName = "kind",
            UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization,
        };
        foreach (var kind in All)
            if (kind.OptionsType is { } type)
                info.PolymorphismOptions.DerivedTypes.Add(new JsonDerivedType(type, kind.OptionsName!));
    }
}
