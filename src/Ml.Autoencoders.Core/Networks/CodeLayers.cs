namespace Ml.Autoencoders.Networks;

/// <summary>
/// The dense layers around the code that the options describe for every body: hidden widths and their activations
/// (encoder side; the decoder mirrors them), the code's width and activation, the latent head and tied weights. A
/// body reads them as it needs (the dense body is exactly these; a convolutional body uses them only with a dense
/// code) and reports the ones its network really has in <see cref="IBodySpec.Layers"/>. Compared by value.
/// </summary>
internal sealed record CodeLayers(int[] HiddenSizes, Activation[] HiddenActivations, int LatentDimension, Activation CodeActivation,
    LatentHead Head = LatentHead.Deterministic, bool TiedWeights = false)
{
    /// <inheritdoc />
    public bool Equals(CodeLayers? other) => other is not null && HiddenSizes.SequenceEqual(other.HiddenSizes) &&
        HiddenActivations.SequenceEqual(other.HiddenActivations) && LatentDimension == other.LatentDimension &&
        CodeActivation == other.CodeActivation && Head == other.Head && TiedWeights == other.TiedWeights;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(HiddenSizes.Length, LatentDimension, CodeActivation, Head, TiedWeights);

    /// <inheritdoc />
    public override string ToString() =>
        $"hidden [{string.Join(", ", HiddenSizes)}] ({string.Join(", ", HiddenActivations)}), code {LatentDimension} ({CodeActivation}, {Head}{(TiedWeights ? ", tied" : "")})";
}
