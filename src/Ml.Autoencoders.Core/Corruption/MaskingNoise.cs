using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Corruption;

/// <summary>Masking (dropout) noise: each input value is set to <see cref="MaskValue"/> with probability <see cref="Rate"/>.</summary>
public sealed class MaskingNoise : InputCorruption
{
    /// <summary>Fraction of the values masked.</summary>
    public double Rate { get; set; } = 0.25;

    /// <summary>The value a masked feature takes.</summary>
    public float MaskValue { get; set; }

    /// <inheritdoc />
    public override void Validate(int featureCount)
    {
        CheckRate(Rate, nameof(Rate));
        if (!float.IsFinite(MaskValue)) throw new ArgumentOutOfRangeException(nameof(MaskValue), MaskValue, "The mask value must be finite.");
    }

    internal override Tensor Apply(Tensor clean, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var rate = Rate.ToScalar(); // alive through the native calls (see Scalars)
        using var maskValue = MaskValue.ToScalar();
        var masked = empty_like(clean).uniform_(0, 1, generator).lt(rate);
        return clean.masked_fill(masked, maskValue).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override InputCorruption Clone() => (MaskingNoise)MemberwiseClone();
}
