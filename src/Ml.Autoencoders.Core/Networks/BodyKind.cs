using System.Text.Json.Serialization;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// One kind of body, as the rest of the library sees it: its name in model files, the type and JSON name of its
/// options, what it allows of the other options, and how options become a network spec. Each body folder has one;
/// <see cref="Bodies.BodyKinds.All"/> lists them. Nothing outside a body's folder switches on its concrete types.
/// </summary>
internal abstract class BodyKind
{
    /// <summary>The model header's kind, e.g. "dense-autoencoder".</summary>
    public abstract string ModelKind { get; }

    /// <summary>The type of its options (a <see cref="BodyOptions"/>); null for the default dense body, which has none.</summary>
    public abstract Type? OptionsType { get; }

    /// <summary>The JSON discriminator of its options ("kind"); null when it has no options type.</summary>
    public abstract string? OptionsName { get; }

    /// <summary>The name its options had in files written before model format 3 ("Convolution"); null when they had none.</summary>
    public virtual string? FormerPropertyName => null;

    /// <summary>Converters its options need in JSON (bounded lists, read from files treated as hostile).</summary>
    public virtual IEnumerable<JsonConverter> JsonConverters(int maxLayers) => [];

    /// <summary>
    /// What this body allows of the rest of the options (e.g. greedy pretraining only where layers can be peeled);
    /// throws <see cref="ArgumentException"/> naming the option. <paramref name="options"/> is already validated.
    /// </summary>
    public abstract void Validate(BodyOptions? options, BodyUse use);

    /// <summary>
    /// Refuses what only a dense stack can do: greedy pretraining (one layer pair at a time) and a penalty that reads
    /// every dense encoder layer (the contractive penalty's Jacobian). For bodies that have neither.
    /// </summary>
    protected static void RefuseDenseOnly(BodyUse use, string body)
    {
        if (use.PretrainEpochs > 0)
            throw new ArgumentException($"Greedy layer-wise pretraining (PretrainEpochs) is defined for dense bodies; train the {body} end to end.", "PretrainEpochs");
        if (use.LayerwisePenalty is { } penalty)
            throw new ArgumentException($"The {penalty} penalty (it reads every dense encoder layer, e.g. the encoder's Jacobian) is defined for dense bodies; use a denoising or sparse {body}.", "Penalties");
    }

    /// <summary>
    /// The network spec of <paramref name="options"/> with the options' <paramref name="layers"/> for rows of
    /// <paramref name="inputSize"/> values; throws <see cref="ArgumentException"/> when they do not make a network
    /// (e.g. an input size other than the image's). Allocates nothing in proportion to the sizes.
    /// </summary>
    public abstract IBodySpec Spec(BodyOptions? options, CodeLayers layers, int inputSize, Activation outputActivation);
}

/// <summary>
/// What the rest of the options ask of a body: its code layers, greedy pretraining epochs, and the name of a penalty
/// that reads every encoder layer's pre-activation (the contractive penalty), if any.
/// </summary>
internal sealed record BodyUse(CodeLayers Layers, int PretrainEpochs, string? LayerwisePenalty);
