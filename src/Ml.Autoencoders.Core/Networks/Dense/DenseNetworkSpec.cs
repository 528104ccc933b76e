namespace Ml.Autoencoders.Networks.Dense;

/// <summary>
/// Shape of a dense autoencoder: input size, hidden widths of the encoder (the decoder mirrors them),
/// the code width, the activation of every layer, the latent head and whether decoder weights are tied.
/// </summary>
internal sealed record DenseNetworkSpec(
    int InputSize,
    int[] HiddenSizes,
    Activation[] HiddenActivations,
    int LatentDimension,
    Activation CodeActivation,
    Activation OutputActivation,
    LatentHead Head = LatentHead.Deterministic,
    bool TiedWeights = false) : IBodySpec
{
    /// <inheritdoc />
    public BodyOptions? Options => null;

    /// <inheritdoc />
    public CodeLayers Layers => new(HiddenSizes, HiddenActivations, LatentDimension, CodeActivation, Head, TiedWeights);

    /// <inheritdoc />
    public AutoencoderNetwork Create() => new DenseAutoencoderNetwork(this);

    /// <inheritdoc />
    public List<(string Name, long[] Shape)> ExpectedTensors() => DenseAutoencoderNetwork.ExpectedTensors(this);

    /// <summary>Encoder widths from input to code, e.g. 784, 64, 32, 16.</summary>
    public IEnumerable<int> EncoderWidths => new[] { InputSize }.Concat(HiddenSizes).Append(LatentDimension);

    public void Validate()
    {
        if (InputSize <= 0) throw new ArgumentOutOfRangeException(nameof(InputSize), InputSize, "The input size must be positive.");
        if (LatentDimension <= 0) throw new ArgumentOutOfRangeException(nameof(LatentDimension), LatentDimension, "The latent dimension must be positive.");
        for (int i = 0; i < HiddenSizes.Length; i++)
            if (HiddenSizes[i] <= 0)
                throw new ArgumentOutOfRangeException(nameof(HiddenSizes), HiddenSizes[i], $"Hidden layer {i} has width {HiddenSizes[i]}; widths must be positive.");
        if (HiddenActivations.Length != HiddenSizes.Length)
            throw new ArgumentException($"{HiddenActivations.Length} hidden activations were given for {HiddenSizes.Length} hidden layers; give one per layer.", nameof(HiddenActivations));
        if (Head == LatentHead.Gaussian && TiedWeights)
            throw new ArgumentException("Tied weights are not defined for a Gaussian latent head (the decoder's first layer has no single encoder layer to mirror).", nameof(TiedWeights));
        if (Head == LatentHead.Gaussian && CodeActivation != Activation.Linear)
            throw new ArgumentException($"A Gaussian latent head has linear mean and log-variance layers; the code activation is {CodeActivation}.", nameof(CodeActivation));
    }

    public override string ToString() =>
        $"{string.Join("-", EncoderWidths)} (hidden {string.Join(",", HiddenActivations)}, " +
        (Head == LatentHead.Gaussian ? "Gaussian latent" : $"code {CodeActivation}") +
        $", output {OutputActivation}{(TiedWeights ? ", tied weights" : "")})";
}
