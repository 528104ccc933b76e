namespace Ml.Autoencoders.Training;

/// <summary>
/// The trainer's signal that training stopped being finite: the loss (or validation loss) became NaN or infinite, or the
/// weights did. The network holds the best epoch's weights again when <see cref="BestEpoch"/> is positive. Each stage
/// that trains turns it into its own public error (the autoencoder's TrainingDivergedException, the classifier's
/// AutoencoderClassifierDivergedException), which hands the best model over.
/// </summary>
internal sealed class TrainingDivergence(int epoch, int batch, double loss, double learningRate, string what, int bestEpoch, IReadOnlyList<EpochRecord> completedEpochs)
    : Exception($"Training diverged: {what} at epoch {epoch}, batch {batch} (learning rate {learningRate:G3}).")
{
    /// <summary>One-based epoch in which training stopped being finite.</summary>
    public int Epoch { get; } = epoch;

    /// <summary>One-based batch within that epoch.</summary>
    public int Batch { get; } = batch;

    /// <summary>The non-finite loss (NaN when the weights were found non-finite).</summary>
    public double Loss { get; } = loss;

    /// <summary>The learning rate at that step.</summary>
    public double LearningRate { get; } = learningRate;

    /// <summary>What became non-finite.</summary>
    public string What { get; } = what;

    /// <summary>One-based epoch whose weights the network holds again; 0 when none completed.</summary>
    public int BestEpoch { get; } = bestEpoch;

    /// <summary>The epochs completed before the divergence.</summary>
    public IReadOnlyList<EpochRecord> CompletedEpochs { get; } = completedEpochs;
}
