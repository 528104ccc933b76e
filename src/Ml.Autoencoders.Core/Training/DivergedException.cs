namespace Ml.Autoencoders.Training;

/// <summary>
/// What every "training stopped being finite" error of the library says: where it happened and which epoch's weights the
/// stage hands over. Catch this to handle the autoencoder's <c>TrainingDivergedException</c> and the fine-tuned
/// classifier's <c>AutoencoderClassifierDivergedException</c> alike; each adds its own <c>BestModel</c>.
/// </summary>
public abstract class DivergedException : InvalidOperationException
{
    private protected DivergedException(string message, TrainingDivergence divergence, Exception? innerException = null)
        : base(message, innerException)
    {
        Epoch = divergence.Epoch;
        Batch = divergence.Batch;
        Loss = divergence.Loss;
        BestEpoch = divergence.BestEpoch;
        CompletedEpochs = divergence.CompletedEpochs;
    }

    /// <summary>One-based epoch in which training stopped being finite.</summary>
    public int Epoch { get; }

    /// <summary>One-based batch within that epoch (the epoch's last batch when the weights or the validation loss were found non-finite after it).</summary>
    public int Batch { get; }

    /// <summary>The non-finite loss value (NaN when the weights, not the loss, were found non-finite).</summary>
    public double Loss { get; }

    /// <summary>One-based epoch whose weights the stage's <c>BestModel</c> holds; 0 when none completed.</summary>
    public int BestEpoch { get; }

    /// <summary>The epochs completed before the divergence.</summary>
    internal IReadOnlyList<EpochRecord> CompletedEpochs { get; }

    /// <summary>The sentence every such error ends its first part with: which weights are handed over.</summary>
    private protected static string BestWeights(int bestEpoch) => bestEpoch > 0
        ? $"The weights of epoch {bestEpoch}, the best so far, are in BestModel. "
        : "No epoch completed with finite weights, so there is no best model. ";
}
