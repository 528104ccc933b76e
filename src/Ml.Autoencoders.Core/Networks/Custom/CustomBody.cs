using Ml.Autoencoders.Networks.Dense;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Custom;

/// <summary>
/// A user's body (<see cref="CustomBodyOptions"/>): their encoder and decoder modules around the dense code. Its spec
/// builds the modules once and runs two zero rows through them, so a module whose sizes disagree with the options is
/// named before training or loading. Refuses greedy pretraining and penalties that read dense encoder layers.
/// </summary>
internal sealed class CustomBody : BodyKind
{
    /// <summary>The one instance, listed in <see cref="Bodies.BodyKinds"/>.</summary>
    public static readonly CustomBody Kind = new();

    private CustomBody()
    {
    }

    /// <inheritdoc />
    public override string ModelKind => "custom-autoencoder";

    /// <inheritdoc />
    public override Type? OptionsType => typeof(CustomBodyOptions);

    /// <inheritdoc />
    public override string? OptionsName => "custom";

    /// <inheritdoc />
    public override void Validate(BodyOptions? options, BodyUse use) => RefuseDenseOnly(use, "custom-body autoencoder");

    /// <inheritdoc />
    public override IBodySpec Spec(BodyOptions? options, CodeLayers layers, int inputSize, Activation outputActivation)
    {
        var custom = ((CustomBodyOptions)options!).Clone();
        custom.Validate();
        if (inputSize != custom.InputSize)
            throw new ArgumentException($"Rows of {inputSize} values do not fit the custom body '{custom.Name}', which reads {custom.InputSize}.", nameof(inputSize));
        var (createEncoder, createDecoder) = custom.Factories();
        custom.CreateEncoder = createEncoder;
        custom.CreateDecoder = createDecoder;
        CheckShapes(custom);
        var core = new DenseNetworkSpec(custom.EncoderOutputSize, (int[])layers.HiddenSizes.Clone(), (Activation[])layers.HiddenActivations.Clone(),
            layers.LatentDimension, layers.CodeActivation, Activation.Linear, layers.Head, layers.TiedWeights);
        core.Validate();
        return new CustomNetworkSpec(custom, outputActivation, core);
    }

    /// <summary>Builds the modules (under the lock of seeded draws, so concurrent fits stay reproducible) and checks the sizes two zero rows come out with.</summary>
    private static void CheckShapes(CustomBodyOptions custom)
    {
        lock (SeededNetworks.Lock)
        {
            using var scope = NewDisposeScope();
            using var encoder = custom.CreateEncoder!() ?? throw new ArgumentException($"The custom body '{custom.Name}': CreateEncoder returned null.", nameof(custom.CreateEncoder));
            using var decoder = custom.CreateDecoder!() ?? throw new ArgumentException($"The custom body '{custom.Name}': CreateDecoder returned null.", nameof(custom.CreateDecoder));
            using var noGrad = no_grad();
            var features = encoder.forward(zeros(2, custom.InputSize));
            if (!features.shape.SequenceEqual(new long[] { 2, custom.EncoderOutputSize }))
                throw new ArgumentException($"The custom body '{custom.Name}': its encoder maps 2 rows of {custom.InputSize} values to shape [{string.Join(", ", features.shape)}]; EncoderOutputSize says [2, {custom.EncoderOutputSize}].", nameof(custom.EncoderOutputSize));
            var rows = decoder.forward(zeros(2, custom.EncoderOutputSize));
            if (!rows.shape.SequenceEqual(new long[] { 2, custom.InputSize }))
                throw new ArgumentException($"The custom body '{custom.Name}': its decoder maps 2 rows of {custom.EncoderOutputSize} values to shape [{string.Join(", ", rows.shape)}]; it must give back [2, {custom.InputSize}].", nameof(custom.CreateDecoder));
        }
    }
}
