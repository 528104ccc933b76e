namespace Ml.Autoencoders.Training;

/// <summary>Thrown when the training loss becomes NaN or infinite; training stops at that batch.</summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    internal TrainingDivergedException(int epoch, int batch, double loss, double learningRate)
        : base($"Training diverged: the loss became {loss} at epoch {epoch}, batch {batch} (learning rate {learningRate:G3}). " +
               "Lower the learning rate, scale the inputs (for example NormalizeMinMax), or check the data for extreme values.")
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
    }

    /// <summary>One-based epoch in which the loss stopped being finite.</summary>
    public int Epoch { get; }

    /// <summary>One-based batch within that epoch.</summary>
    public int Batch { get; }

    /// <summary>The non-finite loss value.</summary>
    public double Loss { get; }
}
