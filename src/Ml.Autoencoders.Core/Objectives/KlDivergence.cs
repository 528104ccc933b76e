using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>The KL term of the variational autoencoder.</summary>
internal static class KlDivergence
{
    /// <summary>
    /// KL(N(μ, σ²) ‖ N(0, I)) in closed form, summed over latent units and averaged over rows:
    /// −½ Σ (1 + log σ² − μ² − σ²). Never clamped.
    /// </summary>
    public static Tensor FromStandardNormal(Tensor mean, Tensor logVariance)
    {
        using var scope = NewDisposeScope();
        using var factor = (-0.5 / mean.shape[0]).ToScalar(); // alive through the native call (see Scalars)
        return PerUnit(mean, logVariance).sum().mul_(factor).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same KL for each row on its own ([rows]), summed over its latent units: the rows' mean is
    /// <see cref="FromStandardNormal"/>. What an anomaly score reads per row.
    /// </summary>
    public static Tensor PerRow(Tensor mean, Tensor logVariance)
    {
        using var scope = NewDisposeScope();
        return PerUnit(mean, logVariance).sum(1).mul_(Scalars.MinusHalf).MoveToOuterDisposeScope();
    }

    /// <summary>1 + log σ² − μ² − σ² for each row and latent unit: the one definition both reductions sum.</summary>
    private static Tensor PerUnit(Tensor mean, Tensor logVariance) =>
        logVariance.add(Scalars.One, Scalars.One).sub_(mean.pow(Scalars.Two)).sub_(logVariance.exp());

    /// <summary>
    /// The weight of the KL term in a zero-based epoch: <paramref name="beta"/>, ramped linearly from 0 over the first
    /// <paramref name="warmupEpochs"/> epochs when asked (0 turns the ramp off).
    /// </summary>
    public static double WeightAt(double beta, int warmupEpochs, int epoch) =>
        warmupEpochs <= 0 ? beta : beta * Math.Min(1.0, (double)epoch / warmupEpochs);
}
