using Ml.Autoencoders.Networks.Dense;

namespace Ml.Autoencoders.Networks.Tokens;

/// <summary>Shape of a token-sequence autoencoder: its options (vocabulary resolved), the output activation as recorded, and the dense code around its state.</summary>
internal sealed record TokenSequenceNetworkSpec(TokenSequenceOptions Tokens, Activation OutputActivation, DenseNetworkSpec Core) : IBodySpec
{
    /// <inheritdoc />
    public int InputSize => Tokens.MaxLength;

    /// <inheritdoc />
    public int LatentDimension => Core.LatentDimension;

    /// <inheritdoc />
    public LatentHead Head => Core.Head;

    /// <inheritdoc />
    public BodyOptions? Options => Tokens;

    /// <inheritdoc />
    public CodeLayers Layers => Core.Layers;

    /// <inheritdoc />
    public AutoencoderNetwork Create() => new TokenSequenceAutoencoderNetwork(this);

    /// <inheritdoc />
    public List<(string Name, long[] Shape)> ExpectedTensors() => TokenSequenceAutoencoderNetwork.ExpectedTensors(this);
}

/// <summary>
/// The token-sequence body (<see cref="TokenSequenceOptions"/>): variable-length key sequences in, embedding, recurrent
/// encoder, dense code, teacher-forced / greedy recurrent decoder, masked cross-entropy. Refuses greedy pretraining and
/// penalties that read dense encoder layers (the options refuse corruption of tokens).
/// </summary>
internal sealed class TokenSequenceBody : BodyKind
{
    /// <summary>The one instance, listed in <see cref="Bodies.BodyKinds"/>.</summary>
    public static readonly TokenSequenceBody Kind = new();

    private TokenSequenceBody()
    {
    }

    /// <inheritdoc />
    public override string ModelKind => "token-sequence-autoencoder";

    /// <inheritdoc />
    public override Type? OptionsType => typeof(TokenSequenceOptions);

    /// <inheritdoc />
    public override string? OptionsName => "tokens";

    /// <inheritdoc />
    public override void Validate(BodyOptions? options, BodyUse use) => RefuseDenseOnly(use, "token-sequence autoencoder");

    /// <inheritdoc />
    public override IBodySpec Spec(BodyOptions? options, CodeLayers layers, int inputSize, Activation outputActivation)
    {
        var tokens = ((TokenSequenceOptions)options!).Clone();
        tokens.Validate();
        if (tokens.VocabularySize <= 0)
            throw new ArgumentException("The token-sequence body's VocabularySize is not known yet: Fit takes it from the input key column's type.", nameof(options));
        if (inputSize != tokens.MaxLength)
            throw new ArgumentException($"Rows of {inputSize} token slots do not match MaxLength {tokens.MaxLength}.", nameof(inputSize));
        // The dense code reads the encoder's final state and gives back a state-sized vector in (-1, 1), as the state is.
        var core = new DenseNetworkSpec(tokens.HiddenSize, (int[])layers.HiddenSizes.Clone(), (Activation[])layers.HiddenActivations.Clone(),
            layers.LatentDimension, layers.CodeActivation, Activation.Tanh, layers.Head, layers.TiedWeights);
        core.Validate();
        return new TokenSequenceNetworkSpec(tokens, outputActivation, core);
    }
}
