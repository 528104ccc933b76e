using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Corruption;

/// <summary>
/// A random corruption of the input applied during training only (the denoising autoencoder): the network
/// sees the corrupted row and is trained to reconstruct the clean one. <c>Transform</c>, the
/// reconstruction-error column and validation always use the clean input.
/// </summary>
/// <remarks>A new corruption is one small class deriving from this one (and one line below, so model files can name it).</remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(GaussianNoise), "gaussian")]
[JsonDerivedType(typeof(MaskingNoise), "masking")]
[JsonDerivedType(typeof(SaltAndPepperNoise), "salt-and-pepper")]
public abstract class InputCorruption
{
    /// <summary>Checks the settings against the input width; throws <see cref="ArgumentException"/> naming the setting.</summary>
    public abstract void Validate(int featureCount);

    /// <summary>
    /// Why this corruption does not fit training data whose values range over [<paramref name="min"/>, <paramref name="max"/>],
    /// or null when it does (checked by <c>Fit</c> after its pass over the data).
    /// </summary>
    internal virtual string? RangeProblem(float min, float max) => null;

    /// <summary>Returns a corrupted copy of <paramref name="clean"/> ([rows, features]); never modifies it.</summary>
    internal abstract Tensor Apply(Tensor clean, Generator generator);

    /// <summary>A copy that shares nothing mutable with this one.</summary>
    public abstract InputCorruption Clone();

    private protected static void CheckRate(double rate, string name)
    {
        if (!(rate >= 0 && rate <= 1))
            throw new ArgumentOutOfRangeException(name, rate, $"{name} must be a fraction in [0, 1].");
    }
}
