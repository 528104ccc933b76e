namespace Ml.Autoencoders.Networks;

/// <summary>
/// Shape of a dense autoencoder: input size, hidden widths of the encoder (the decoder mirrors them),
/// the code width, and the activation of every layer.
/// </summary>
internal sealed record DenseNetworkSpec(
    int InputSize,
    int[] HiddenSizes,
    Activation[] HiddenActivations,
    int LatentDimension,
    Activation CodeActivation,
    Activation OutputActivation)
{
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
    }

    public override string ToString() =>
        $"{string.Join("-", EncoderWidths)} (hidden {string.Join(",", HiddenActivations)}, code {CodeActivation}, output {OutputActivation})";
}
