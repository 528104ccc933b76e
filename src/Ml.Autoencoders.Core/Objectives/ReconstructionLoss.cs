using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>How a reconstruction is compared with its input during training.</summary>
public enum ReconstructionLoss
{
    /// <summary>Squared error (Gaussian likelihood). Works with any output activation.</summary>
    MeanSquaredError,
    /// <summary>Binary cross-entropy (Bernoulli likelihood). Needs inputs in [0, 1] and a sigmoid output.</summary>
    BinaryCrossEntropy,
}

internal static class ReconstructionLosses
{
    /// <summary>
    /// Mean over rows and features (PyTorch's default reduction), or, with <paramref name="sumPerRow"/>, summed over
    /// each row's features and averaged over rows: the negative log-likelihood term of the ELBO, as in the VAE papers.
    /// </summary>
    public static Tensor Compute(ReconstructionLoss loss, Tensor reconstruction, Tensor target, bool sumPerRow = false)
    {
        var reduction = sumPerRow ? nn.Reduction.Sum : nn.Reduction.Mean;
        var value = loss switch
        {
            ReconstructionLoss.MeanSquaredError => nn.functional.mse_loss(reconstruction, target, reduction),
            ReconstructionLoss.BinaryCrossEntropy => nn.functional.binary_cross_entropy(reconstruction, target, reduction: reduction),
            _ => throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown reconstruction loss."),
        };
        if (!sumPerRow) return value;
        using var rows = target.shape[0].ToScalar(); // alive through the native call (see Scalars)
        return value.div_(rows);
    }
}
