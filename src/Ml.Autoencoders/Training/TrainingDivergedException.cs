using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Training;

/// <summary>
/// Thrown when training stops being finite: the loss (or validation loss) became NaN or infinite, or the weights did.
/// Training stops at that batch, nothing non-finite is saved (a checkpoint is only written after a finite epoch), and
/// the weights of the best epoch so far are handed over in <see cref="BestModel"/>.
/// </summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    internal TrainingDivergedException(int epoch, int batch, double loss, double learningRate, string what, int bestEpoch)
        : base($"Training diverged: {what} at epoch {epoch}, batch {batch} (learning rate {learningRate:G3}). " +
               (bestEpoch > 0 ? $"The weights of epoch {bestEpoch}, the best so far, are in {nameof(BestModel)}. " : "No epoch completed with finite weights, so there is no best model. ") +
               "Lower the learning rate, scale the inputs (for example NormalizeMinMax), or check the data for extreme values.")
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
        BestEpoch = bestEpoch;
    }

    /// <summary>One-based epoch in which training stopped being finite.</summary>
    public int Epoch { get; }

    /// <summary>One-based batch within that epoch (the epoch's last batch when the weights were found non-finite after it).</summary>
    public int Batch { get; }

    /// <summary>The non-finite loss value (NaN when the weights, not the loss, were found non-finite).</summary>
    public double Loss { get; }

    /// <summary>One-based epoch whose weights <see cref="BestModel"/> holds; 0 when none completed.</summary>
    public int BestEpoch { get; }

    /// <summary>
    /// The model with the weights of <see cref="BestEpoch"/> (the lowest monitored loss before the divergence), ready to
    /// use or save; null when no epoch completed. The caller owns it (dispose its <see cref="AutoencoderTransformer.Model"/> when done).
    /// </summary>
    public AutoencoderTransformer? BestModel { get; internal set; }

    /// <summary>The epochs completed before the divergence.</summary>
    internal IReadOnlyList<EpochRecord> CompletedEpochs { get; init; } = Array.Empty<EpochRecord>();

    /// <summary>What stopped being finite ("the loss became NaN", ...), for a caller that words its own error.</summary>
    internal string What { get; init; } = "";

    /// <summary>The learning rate of the epoch that diverged.</summary>
    internal double LearningRate { get; init; }
}
