namespace Ml.Autoencoders.Training;

/// <summary>What happened in one training epoch.</summary>
/// <param name="Epoch">One-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's batches (weighted by rows).</param>
/// <param name="ValidationLoss">Loss on the validation rows after the epoch, or null without validation.</param>
/// <param name="LearningRate">Learning rate used in this epoch.</param>
/// <param name="Duration">Wall time of the epoch, validation included.</param>
/// <param name="Rows">Training rows seen in the epoch.</param>
public sealed record EpochRecord(int Epoch, double TrainLoss, double? ValidationLoss, double LearningRate, TimeSpan Duration, long Rows)
{
    internal static readonly IReadOnlyDictionary<string, double> NoTerms = new Dictionary<string, double>();

    /// <summary>
    /// Mean unweighted value of each term of the objective over the epoch's training batches, by name:
    /// "reconstruction", "kl" (variational), and each penalty's name ("sparsity", "contractive").
    /// Empty when the objective is the reconstruction alone (then it equals <see cref="TrainLoss"/>).
    /// </summary>
    public IReadOnlyDictionary<string, double> Terms { get; init; } = NoTerms;

    /// <summary>The same terms on the validation rows; empty without validation or with a one-term objective.</summary>
    public IReadOnlyDictionary<string, double> ValidationTerms { get; init; } = NoTerms;

    /// <summary>The one-based greedy pretraining stage this epoch belongs to; null for end-to-end training.</summary>
    public int? PretrainingStage { get; init; }

    /// <summary>Training rows per second in this epoch.</summary>
    public double SamplesPerSecond => Duration.TotalSeconds > 0 ? Rows / Duration.TotalSeconds : double.PositiveInfinity;

    /// <summary>The loss that early stopping watches: validation when present, training otherwise.</summary>
    public double MonitoredLoss => ValidationLoss ?? TrainLoss;

    /// <inheritdoc />
    public override string ToString() =>
        (PretrainingStage is { } stage ? $"pretraining stage {stage}, " : "") + $"epoch {Epoch,3}: train {TrainLoss:F5}" + (Terms.Count > 0 ? " (" + string.Join(", ", Terms.Select(t => $"{t.Key} {t.Value:G4}")) + ")" : "") +
        (ValidationLoss is { } v ? $", validation {v:F5}" : "") +
        $", lr {LearningRate:G3}, {Duration.TotalSeconds:F1}s ({SamplesPerSecond:F0} rows/s)";
}
