namespace Ml.Autoencoders.Training;

/// <summary>The per-epoch record of a training run, and how it ended.</summary>
public sealed class TrainingHistory
{
    internal TrainingHistory(IReadOnlyList<EpochRecord> epochs, int bestEpoch, bool stoppedEarly, bool restoredBest)
    {
        Epochs = epochs;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
        RestoredBestWeights = restoredBest;
    }

    /// <summary>One record per completed epoch, in order.</summary>
    public IReadOnlyList<EpochRecord> Epochs { get; }

    /// <summary>One-based epoch with the lowest monitored loss (validation when present, else training).</summary>
    public int BestEpoch { get; }

    /// <summary>True when early stopping ended the run before the configured number of epochs.</summary>
    public bool StoppedEarly { get; }

    /// <summary>True when the weights of <see cref="BestEpoch"/> were restored at the end (early stopping on).</summary>
    public bool RestoredBestWeights { get; }

    /// <summary>
    /// How the number of epochs was chosen when <c>AutoencoderOptions.Epochs</c> (or, for a fine-tuned classifier,
    /// <c>AutoencoderClassifierOptions.Epochs</c>) was left to the library (the count and the rule, including a cap by
    /// the work budget; under the small-data rule, the choice for its validation run, whose best epoch
    /// <see cref="SmallDataChoice"/> reports); null when the epochs were given, and for a model loaded from a file (the
    /// file keeps the epoch count in its options).
    /// </summary>
    public string? EpochsChoice { get; internal set; }

    /// <summary>
    /// Whether the small-data rule (<c>AutoencoderOptions.SmallDataRows</c>) applied and why (the row count against the
    /// threshold), and what its validation run found (epochs trained, best epoch and its validation loss) before the final
    /// run on all rows that this history records; null when the rule was off or the user set the epochs, a validation
    /// split or early stopping, and for a model loaded from a file (the file keeps the resulting options).
    /// </summary>
    public string? SmallDataChoice { get; internal set; }

    /// <summary>
    /// For a fine-tuned classifier: what the fine-tuning used (pretrained or reinitialised encoder, the encoder's learning
    /// rate and frozen epochs, the auxiliary reconstruction's weight and the value it was scaled by); null for an
    /// autoencoder, and for a classifier loaded from a file.
    /// </summary>
    public string? FineTuningChoice { get; internal set; }

    /// <summary>Mean training rows per second over the epochs after the first <paramref name="warmupEpochs"/>.</summary>
    public double SamplesPerSecond(int warmupEpochs = 0)
    {
        var timed = Epochs.Skip(warmupEpochs).ToList();
        if (timed.Count == 0) timed = Epochs.ToList();
        double seconds = timed.Sum(e => e.Duration.TotalSeconds);
        return seconds > 0 ? timed.Sum(e => e.Rows) / seconds : 0;
    }
}
