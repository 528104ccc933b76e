using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Classification;

/// <summary>
/// Thrown when fine-tuning stops being finite: the cross-entropy (or validation loss) became NaN or infinite, or the
/// weights did. Training stops there; the weights of the best epoch so far (lowest validation loss, or training loss
/// without validation) are handed over in <see cref="BestModel"/>.
/// </summary>
public sealed class AutoencoderClassifierDivergedException : DivergedException
{
    internal AutoencoderClassifierDivergedException(TrainingDivergence d)
        : base($"Fine-tuning diverged: {d.What} at epoch {d.Epoch}, batch {d.Batch} (learning rate {d.LearningRate:G3}). " + BestWeights(d.BestEpoch) +
               "Lower LearningRate (and EncoderLearningRate), scale the inputs, or check the data for extreme values.", d, d)
    {
    }

    /// <summary>
    /// The classifier with the weights of <see cref="DivergedException.BestEpoch"/>, ready to use or save; null when no epoch completed.
    /// The caller owns it (call <c>BestModel.Autoencoder.Model.Dispose()</c> when done).
    /// </summary>
    public AutoencoderClassifierTransformer? BestModel { get; internal set; }
}
