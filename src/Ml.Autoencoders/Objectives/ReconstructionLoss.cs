using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>How a reconstruction is compared with its input during training.</summary>
public enum ReconstructionLoss
{
    /// <summary>Mean squared error per feature (Gaussian likelihood). Works with any output activation.</summary>
    MeanSquaredError,
    /// <summary>Binary cross-entropy per feature (Bernoulli likelihood). Needs inputs in [0, 1] and a sigmoid output.</summary>
    BinaryCrossEntropy,
}

internal static class ReconstructionLosses
{
    /// <summary>Mean over rows and features, as PyTorch's default reduction.</summary>
    public static Tensor Compute(ReconstructionLoss loss, Tensor reconstruction, Tensor target) => loss switch
    {
        ReconstructionLoss.MeanSquaredError => nn.functional.mse_loss(reconstruction, target),
        ReconstructionLoss.BinaryCrossEntropy => nn.functional.binary_cross_entropy(reconstruction, target),
        _ => throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown reconstruction loss."),
    };
}
