using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Classification;

/// <summary>
/// Thrown when fine-tuning stops being finite: the cross-entropy (or validation loss) became NaN or infinite, or the
/// weights did. Training stops there; the weights of the best epoch so far (lowest validation loss, or training loss
/// without validation) are handed over in <see cref="BestModel"/>.
/// </summary>
public sealed class AutoencoderClassifierDivergedException : InvalidOperationException
{
    internal AutoencoderClassifierDivergedException(int epoch, int batch, double loss, double learningRate, string what, int bestEpoch, Exception? innerException = null)
        : base($"Fine-tuning diverged: {what} at epoch {epoch}, batch {batch} (learning rate {learningRate:G3}). " +
               (bestEpoch > 0 ? $"The weights of epoch {bestEpoch}, the best so far, are in {nameof(BestModel)}. " : "No epoch completed with finite weights, so there is no best model. ") +
               "Lower LearningRate (and EncoderLearningRate), scale the inputs, or check the data for extreme values.", innerException)
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
        BestEpoch = bestEpoch;
    }

    /// <summary>One-based epoch in which training stopped being finite.</summary>
    public int Epoch { get; }

    /// <summary>One-based batch within that epoch (the epoch's last batch when the weights or the validation loss were found non-finite after it).</summary>
    public int Batch { get; }

    /// <summary>The non-finite loss value (NaN when the weights, not the loss, were found non-finite).</summary>
    public double Loss { get; }

    /// <summary>One-based epoch whose weights <see cref="BestModel"/> holds; 0 when none completed.</summary>
    public int BestEpoch { get; }

    /// <summary>
    /// The classifier with the weights of <see cref="BestEpoch"/>, ready to use or save; null when no epoch completed.
    /// The caller owns it (call <c>BestModel.Autoencoder.Model.Dispose()</c> when done).
    /// </summary>
    public AutoencoderClassifierTransformer? BestModel { get; internal set; }

    /// <summary>The epochs completed before the divergence.</summary>
    internal IReadOnlyList<EpochRecord> CompletedEpochs { get; init; } = Array.Empty<EpochRecord>();
}
