using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Classification;

/// <summary>Every knob of the fine-tuning classifier (<c>mlContext.MulticlassClassification.Trainers.AutoencoderClassifier</c>).</summary>
public sealed class AutoencoderClassifierOptions
{
    /// <summary>Default values, shared by the catalog overloads.</summary>
    public static class Defaults
    {
        /// <summary>Training epochs: 30.</summary>
        public const int Epochs = 30;
        /// <summary>Rows per batch: 64.</summary>
        public const int BatchSize = 64;
        /// <summary>Learning rate of the head (and of the encoder unless <see cref="EncoderLearningRate"/> is set): 1e-3.</summary>
        public const double LearningRate = 1e-3;
        /// <summary>Dropout before the head: 0.2.</summary>
        public const double HeadDropout = 0.2;
    }

    /// <summary>The pretrained autoencoder whose encoder is fine-tuned (it is copied; the original never changes).</summary>
    public AutoencoderTransformer? Autoencoder { get; set; }

    /// <summary>Start the encoder from random weights of the same architecture instead (training from scratch, for comparison).</summary>
    public bool ReinitializeEncoder { get; set; }

    /// <summary>The label column: a key type (use <c>MapValueToKey</c>). Default "Label".</summary>
    public string LabelColumnName { get; set; } = DefaultColumnNames.Label;

    /// <summary>The feature column; null = the autoencoder's input column.</summary>
    public string? FeatureColumnName { get; set; }

    /// <summary>Name of the appended score column (class probabilities). Default "Score".</summary>
    public string ScoreColumnName { get; set; } = DefaultColumnNames.Score;

    /// <summary>Name of the appended predicted-label column. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = DefaultColumnNames.PredictedLabel;

    /// <summary>Training epochs. Default 30.</summary>
    public int Epochs { get; set; } = Defaults.Epochs;

    /// <summary>Rows per batch. Default 64.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>Adam learning rate of the head. Default 1e-3.</summary>
    public double LearningRate { get; set; } = Defaults.LearningRate;

    /// <summary>Adam learning rate of the encoder; null = <see cref="LearningRate"/>.</summary>
    public double? EncoderLearningRate { get; set; }

    /// <summary>
    /// How both learning rates change over the epochs (each from its own starting rate, as the autoencoder's schedule).
    /// Default <see cref="LearningRateSchedule.Constant"/>.
    /// </summary>
    public LearningRateSchedule LearningRateSchedule { get; set; } = LearningRateSchedule.Constant;

    /// <summary>Final learning rate of the cosine schedule, for the head and the encoder alike. Default 0.</summary>
    public double MinLearningRate { get; set; }

    /// <summary>Epochs between decays of the step schedule. Default 10.</summary>
    public int StepSize { get; set; } = 10;

    /// <summary>Factor applied to both learning rates at each decay of the step schedule, in (0, 1]. Default 0.1.</summary>
    public double StepFactor { get; set; } = 0.1;

    /// <summary>Epochs at the start during which only the head trains (the encoder is frozen, in evaluation mode). Default 0.</summary>
    public int FreezeEncoderEpochs { get; set; }

    /// <summary>Freeze the encoder for good: a linear (or small) model on fixed codes. Default false.</summary>
    public bool FreezeEncoder { get; set; }

    /// <summary>Dropout on the codes before the head, in [0, 1). Default 0.2.</summary>
    public double HeadDropout { get; set; } = Defaults.HeadDropout;

    /// <summary>Fraction of the labelled rows held out for validation (seeded), 0 for none. Default 0.</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Stop after this many epochs without a lower validation loss and restore the best weights; 0 = off. Needs validation.</summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>
    /// Seed of the head's initialisation, dropout, shuffling and the validation split (and of a reinitialised encoder).
    /// Null (the default) lets the <c>MLContext</c> decide, as ML.NET's trainers do: the context's seed
    /// (<c>new MLContext(seed: n)</c>), or for a context created without one a seed drawn from its random generator (other
    /// weights on every run). The seed used is recorded in the fitted classifier's <c>Seed</c> and a Trace line of <c>mlContext.Log</c>.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// CPU threads for TorchSharp during <c>Fit</c> (libtorch's setting is process-wide: it is set when Fit starts and
    /// the previous count is restored when it ends); 0 (the default) leaves the count in force. At most
    /// <see cref="Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore"/> per core of this machine.
    /// </summary>
    public int Threads { get; set; }

    /// <summary>Receives each epoch's record (training loss; validation loss when there is validation).</summary>
    public IProgress<EpochRecord>? Progress { get; set; }

    /// <summary>Stops training between batches (throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken CancellationToken { get; set; }

    internal AutoencoderClassifierOptions Clone() => (AutoencoderClassifierOptions)MemberwiseClone();

    internal void Validate()
    {
        if (Autoencoder is null) throw new ArgumentException("Autoencoder must be a fitted autoencoder (AutoencoderTransformer) whose encoder is fine-tuned.", nameof(Autoencoder));
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be a positive finite number.");
        if (EncoderLearningRate is { } e && (!(e >= 0) || !double.IsFinite(e))) throw new ArgumentOutOfRangeException(nameof(EncoderLearningRate), e, "EncoderLearningRate must be a finite number, 0 or more.");
        if (!Enum.IsDefined(LearningRateSchedule)) throw new ArgumentOutOfRangeException(nameof(LearningRateSchedule), LearningRateSchedule, "Unknown learning-rate schedule.");
        double lowestStart = Math.Min(LearningRate, EncoderLearningRate ?? LearningRate);
        if (!(MinLearningRate >= 0) || (LearningRateSchedule == LearningRateSchedule.Cosine && MinLearningRate > lowestStart))
            throw new ArgumentOutOfRangeException(nameof(MinLearningRate), MinLearningRate, $"Expected 0 <= {nameof(MinLearningRate)} <= the lower of {nameof(LearningRate)} and {nameof(EncoderLearningRate)} ({lowestStart}): the cosine schedule lowers both towards it.");
        if (StepSize < 1) throw new ArgumentOutOfRangeException(nameof(StepSize), StepSize, "StepSize must be at least 1.");
        if (!(StepFactor > 0) || StepFactor > 1) throw new ArgumentOutOfRangeException(nameof(StepFactor), StepFactor, "Expected a factor in (0, 1].");
        if (FreezeEncoderEpochs < 0) throw new ArgumentOutOfRangeException(nameof(FreezeEncoderEpochs), FreezeEncoderEpochs, "FreezeEncoderEpochs must be 0 or more.");
        if (!(HeadDropout >= 0 && HeadDropout < 1)) throw new ArgumentOutOfRangeException(nameof(HeadDropout), HeadDropout, "HeadDropout must be in [0, 1).");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in [0, 1).");
        if (EarlyStoppingPatience < 0) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be 0 or more.");
        Runtime.TorchThreads.Check(Threads, nameof(Threads), Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore);
        if (EarlyStoppingPatience > 0 && ValidationFraction == 0)
            throw new ArgumentException("EarlyStoppingPatience needs validation rows: set ValidationFraction.", nameof(EarlyStoppingPatience));
        foreach (var (name, value) in new[] { (nameof(LabelColumnName), LabelColumnName), (nameof(ScoreColumnName), ScoreColumnName), (nameof(PredictedLabelColumnName), PredictedLabelColumnName) })
            if (string.IsNullOrEmpty(value)) throw new ArgumentException($"{name} must name a column.", name);
    }
}
