using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Custom;

/// <summary>
/// A body of your own TorchSharp modules (set <c>AutoencoderOptions.Body</c> to one): <see cref="CreateEncoder"/>
/// builds a module that maps rows (batch x <see cref="InputSize"/>) to features (batch x
/// <see cref="EncoderOutputSize"/>), <see cref="CreateDecoder"/> one that maps features back to rows. Between them
/// sits the library's dense code (<c>HiddenLayerSizes</c>, then a code of <c>LatentDimension</c>, or a Gaussian head),
/// so every corruption, the sparsity penalty, the variational head, Transform's columns, checkpoints and the anomaly
/// detector work as with the built-in bodies; the encoder's output goes through the dense code as it is (put an
/// activation at the end of your encoder if you want one). The modules are built under the fit's seed, and their
/// parameters are trained, saved and loaded by name with the rest of the network.
/// Model files store <see cref="Name"/>, not code: before loading one, register the same factories under that name
/// with <see cref="Register"/> (or load with options that carry them). The model file checks the weights' names and
/// shapes against modules built from the registered factories.
/// </summary>
public sealed class CustomBodyOptions : BodyOptions
{
    private static readonly ConcurrentDictionary<string, (Func<nn.Module<Tensor, Tensor>> Encoder, Func<nn.Module<Tensor, Tensor>> Decoder)> Registered = new(StringComparer.Ordinal);

    /// <summary>The body's name: stored in model files, and the key its factories are registered under. Required.</summary>
    public string Name { get; set; } = "";

    /// <summary>Values per row the encoder reads (and the decoder gives back). Required.</summary>
    public int InputSize { get; set; }

    /// <summary>Values per row the encoder gives (and the decoder reads). Required.</summary>
    public int EncoderOutputSize { get; set; }

    /// <summary>Builds a new encoder (rows to features); null: the factory registered under <see cref="Name"/>.</summary>
    [JsonIgnore]
    public Func<nn.Module<Tensor, Tensor>>? CreateEncoder { get; set; }

    /// <summary>Builds a new decoder (features to rows); null: the factory registered under <see cref="Name"/>.</summary>
    [JsonIgnore]
    public Func<nn.Module<Tensor, Tensor>>? CreateDecoder { get; set; }

    /// <summary>
    /// Registers the factories of the body called <paramref name="name"/> for this process, so model files that name it
    /// load (and options without factories use them). Registering a name again replaces its factories.
    /// </summary>
    public static void Register(string name, Func<nn.Module<Tensor, Tensor>> createEncoder, Func<nn.Module<Tensor, Tensor>> createDecoder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(createEncoder);
        ArgumentNullException.ThrowIfNull(createDecoder);
        Registered[name] = (createEncoder, createDecoder);
    }

    /// <summary>The factories: the options' own, else those registered under the name.</summary>
    /// <exception cref="ArgumentException">Neither: the message says how to register them.</exception>
    internal (Func<nn.Module<Tensor, Tensor>> Encoder, Func<nn.Module<Tensor, Tensor>> Decoder) Factories()
    {
        if (CreateEncoder is { } encoder && CreateDecoder is { } decoder) return (encoder, decoder);
        if (Registered.TryGetValue(Name, out var registered)) return registered;
        throw new ArgumentException($"The custom body '{Name}' has no encoder and decoder factories: set CreateEncoder and CreateDecoder, " +
            $"or call CustomBodyOptions.Register(\"{Name}\", ...) with the modules it was trained with before loading its model.", nameof(CreateEncoder));
    }

    /// <inheritdoc />
    public override CustomBodyOptions Clone() => (CustomBodyOptions)MemberwiseClone();

    /// <inheritdoc />
    public override void Validate()
    {
        const int maxWidth = 1 << 24;
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("A custom body needs a Name (model files store it, not code).", nameof(Name));
        if (Name.Length > 200) throw new ArgumentException("A custom body's Name has at most 200 characters.", nameof(Name));
        if (InputSize <= 0 || InputSize > maxWidth) throw new ArgumentOutOfRangeException(nameof(InputSize), InputSize, $"InputSize must be in 1..{maxWidth}.");
        if (EncoderOutputSize <= 0 || EncoderOutputSize > maxWidth) throw new ArgumentOutOfRangeException(nameof(EncoderOutputSize), EncoderOutputSize, $"EncoderOutputSize must be in 1..{maxWidth}.");
        if ((CreateEncoder is null) != (CreateDecoder is null))
            throw new ArgumentException("Give both CreateEncoder and CreateDecoder, or neither (then the factories registered under the Name are used).", nameof(CreateDecoder));
    }

    /// <inheritdoc />
    internal override int? RowSize => InputSize;
}
