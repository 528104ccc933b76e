using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Thrown when training stops being finite: the loss (or validation loss) became NaN or infinite, or the weights did.
/// Training stops at that batch, nothing non-finite is saved (a checkpoint is only written after a finite epoch), and
/// the weights of the best epoch so far are handed over in <see cref="BestModel"/>.
/// </summary>
public sealed class TrainingDivergedException : DivergedException
{
    internal TrainingDivergedException(TrainingDivergence d)
        : base($"Training diverged: {d.What} at epoch {d.Epoch}, batch {d.Batch} (learning rate {d.LearningRate:G3}). " + BestWeights(d.BestEpoch) +
               "Lower the learning rate, scale the inputs (for example NormalizeMinMax), or check the data for extreme values.", d)
    {
    }

    /// <summary>
    /// The model with the weights of <see cref="DivergedException.BestEpoch"/> (the lowest monitored loss before the divergence), ready to
    /// use or save; null when no epoch completed. The caller owns it (dispose its <see cref="AutoencoderTransformer.Model"/> when done).
    /// </summary>
    public AutoencoderTransformer? BestModel { get; internal set; }
}
