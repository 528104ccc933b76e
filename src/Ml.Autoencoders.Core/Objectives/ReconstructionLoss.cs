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

    /// <summary>
    /// The loss of each element before any reduction ([rows, features]): the very function <see cref="Compute"/> reduces
    /// (PyTorch's; binary cross-entropy clamps each log at −100, as training does).
    /// </summary>
    public static Tensor Elementwise(ReconstructionLoss loss, Tensor reconstruction, Tensor target) => loss switch
    {
        ReconstructionLoss.MeanSquaredError => nn.functional.mse_loss(reconstruction, target, nn.Reduction.None),
        ReconstructionLoss.BinaryCrossEntropy => nn.functional.binary_cross_entropy(reconstruction, target, reduction: nn.Reduction.None),
        _ => throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown reconstruction loss."),
    };

    /// <summary>
    /// Each row's loss ([rows]): summed over its features (<paramref name="sumPerRow"/>, the row's negative log-likelihood
    /// term, whose mean over rows <see cref="Compute"/> gives with <c>sumPerRow</c>) or averaged over them (whose mean over
    /// rows is <see cref="Compute"/>'s default). What an anomaly score reads per row.
    /// </summary>
    public static Tensor PerRow(ReconstructionLoss loss, Tensor reconstruction, Tensor target, bool sumPerRow)
    {
        using var elements = Elementwise(loss, reconstruction, target);
        return sumPerRow ? elements.sum(1) : elements.mean([1L]);
    }
}
