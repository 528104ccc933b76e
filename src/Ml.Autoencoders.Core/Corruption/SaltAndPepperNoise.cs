using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Corruption;

/// <summary>
/// Salt-and-pepper noise: each value is replaced with probability <see cref="Rate"/>, by <see cref="Low"/>
/// or <see cref="High"/> with equal chance.
/// </summary>
public sealed class SaltAndPepperNoise : InputCorruption
{
    /// <summary>Fraction of the values replaced.</summary>
    public double Rate { get; set; } = 0.1;

    /// <summary>The "pepper" value.</summary>
    public float Low { get; set; }

    /// <summary>The "salt" value.</summary>
    public float High { get; set; } = 1;

    /// <inheritdoc />
    public override void Validate(int featureCount)
    {
        CheckRate(Rate, nameof(Rate));
        if (!float.IsFinite(Low) || !float.IsFinite(High) || Low > High)
            throw new ArgumentException($"Expected finite {nameof(Low)} <= {nameof(High)}; got {Low} and {High}.", nameof(Low));
    }

    internal override Tensor Apply(Tensor clean, Generator generator)
    {
        using var scope = NewDisposeScope();
        // One uniform draw decides both whether a value is hit (u < rate) and which way (u < rate / 2).
        var u = empty_like(clean).uniform_(0, 1, generator);
        using var rate = Rate.ToScalar(); // alive through the native calls (see Scalars)
        using var halfRate = (Rate / 2).ToScalar();
        using var low = Low.ToScalar();
        using var high = High.ToScalar();
        var result = clean.masked_fill(u.lt(halfRate), low).masked_fill_(u.ge(halfRate).logical_and_(u.lt(rate)), high);
        return result.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override InputCorruption Clone() => (SaltAndPepperNoise)MemberwiseClone();
}
