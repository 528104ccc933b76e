using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Corruption;

/// <summary>
/// Additive Gaussian noise: <c>x + Factor · σ · N(0, 1)</c>, then clipped to [<see cref="ClipMin"/>, <see cref="ClipMax"/>]
/// when set. σ is 1 for every feature, or per feature from <see cref="StandardDeviations"/> (heteroscedastic noise).
/// The classic Fashion-MNIST setting is factor 0.6 clipped to [0, 1].
/// </summary>
public sealed class GaussianNoise : InputCorruption
{
    /// <summary>Scale of the noise (the "noise factor").</summary>
    public double Factor { get; set; } = 0.5;

    /// <summary>Optional per-feature standard deviations (one per input feature), multiplied by <see cref="Factor"/>.</summary>
    public float[]? StandardDeviations { get; set; }

    /// <summary>Lower clip of the corrupted values; null for none.</summary>
    public double? ClipMin { get; set; }

    /// <summary>Upper clip of the corrupted values; null for none.</summary>
    public double? ClipMax { get; set; }

    /// <inheritdoc />
    public override void Validate(int featureCount)
    {
        if (!(Factor >= 0) || !double.IsFinite(Factor))
            throw new ArgumentOutOfRangeException(nameof(Factor), Factor, "The noise factor must be a finite number >= 0.");
        if (StandardDeviations is { } s)
        {
            if (featureCount > 0 && s.Length != featureCount)
                throw new ArgumentException($"{nameof(StandardDeviations)} has {s.Length} values; the input has {featureCount} features.", nameof(StandardDeviations));
            for (int i = 0; i < s.Length; i++)
                if (!(s[i] >= 0) || !float.IsFinite(s[i]))
                    throw new ArgumentOutOfRangeException(nameof(StandardDeviations), s[i], $"Standard deviation {i} is {s[i]}; expected a finite number >= 0.");
        }
        // An infinite bound means no bound: that is null. NaN would clip every value to NaN.
        if (ClipMin is { } min && !double.IsFinite(min))
            throw new ArgumentOutOfRangeException(nameof(ClipMin), min, $"{nameof(ClipMin)} must be a finite number, or null for no lower bound.");
        if (ClipMax is { } max && !double.IsFinite(max))
            throw new ArgumentOutOfRangeException(nameof(ClipMax), max, $"{nameof(ClipMax)} must be a finite number, or null for no upper bound.");
        if (ClipMin is { } lo && ClipMax is { } hi && !(lo <= hi))
            throw new ArgumentException($"{nameof(ClipMin)} ({lo}) must not exceed {nameof(ClipMax)} ({hi}).", nameof(ClipMin));
    }

    internal override string? RangeProblem(float min, float max) =>
        min < (ClipMin ?? double.NegativeInfinity) || max > (ClipMax ?? double.PositiveInfinity)
            ? $"the noise is clipped to [{ClipMin?.ToString() ?? "-inf"}, {ClipMax?.ToString() ?? "inf"}] but the values range over [{min}, {max}]: clipping would corrupt clean values too. Scale the column or change ClipMin/ClipMax."
            : null;

    internal override Tensor Apply(Tensor clean, Generator generator)
    {
        using var scope = NewDisposeScope();
        var noise = empty_like(clean).normal_(0, 1, generator);
        if (StandardDeviations is { } s)
            noise.mul_(tensor(s, device: clean.device));
        // Scalars made here and disposed with the scope's end stay alive through the native calls (see Scalars).
        using var factor = Factor.ToScalar();
        var noisy = clean.add(noise, alpha: factor);
        if (ClipMin is not null || ClipMax is not null)
        {
            using var min = ClipMin?.ToScalar();
            using var max = ClipMax?.ToScalar();
            noisy.clamp_(min, max);
        }
        return noisy.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override InputCorruption Clone()
    {
        var copy = (GaussianNoise)MemberwiseClone();
        copy.StandardDeviations = (float[]?)StandardDeviations?.Clone();
        return copy;
    }
}
