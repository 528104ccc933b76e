using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Classification;

/// <summary>Every knob of the fine-tuning classifier (<c>mlContext.MulticlassClassification.Trainers.AutoencoderClassifier</c>).</summary>
public sealed class AutoencoderClassifierOptions
{
    /// <summary>Default values, shared by the catalog overloads.</summary>
    public static class Defaults
    {
        /// <summary>Fewest epochs when <see cref="Epochs"/> is left to the library: 30.</summary>
        public const int MinEpochs = 30;
        /// <summary>
        /// Fewest optimizer steps when <see cref="Epochs"/> is left to the library: 1,000 (30 epochs of 100 labelled rows
        /// in batches of 64 are only 60 steps, too few for the head to learn).
        /// </summary>
        public const int MinSteps = 1000;
        /// <summary>Most epochs the library chooses: 1,000.</summary>
        public const int MaxEpochs = 1000;
        /// <summary>Rows per batch: 64.</summary>
        public const int BatchSize = 64;
        /// <summary>Learning rate of the head (and of the encoder unless <see cref="EncoderLearningRate"/> is set): 1e-3.</summary>
        public const double LearningRate = 1e-3;
        /// <summary>Dropout before the head: 0.2.</summary>
        public const double HeadDropout = 0.2;
        /// <summary>Weight of the autoencoder's own objective kept as an auxiliary loss while fine-tuning: 0.3.</summary>
        public const double ReconstructionWeight = 0.3;
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

    /// <summary>
    /// Training epochs; null (the default) lets the library choose from the labelled training rows: at least
    /// <see cref="Defaults.MinEpochs"/> epochs and at least <see cref="Defaults.MinSteps"/> optimizer steps, at most
    /// <see cref="Defaults.MaxEpochs"/> epochs (so 100 labelled rows in batches of 64 train for 500 epochs, 6,000 rows for
    /// 30). <see cref="TrainingHistory.EpochsChoice"/> says what was chosen.
    /// </summary>
    public int? Epochs { get; set; }

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

    /// <summary>
    /// Weight of the autoencoder's own objective (its reconstruction loss, with its corruption, KL term and penalties),
    /// kept beside the cross-entropy while the encoder trains, so that fine-tuning on few labels keeps the features that
    /// pretraining found. The term is the objective on each batch divided by its value on the labelled training rows
    /// before fine-tuning, times this weight (so the weight means the same for any loss and pixel scale); the decoder
    /// trains along at the encoder's learning rate. 0 turns it off (the cross-entropy alone, as before this option
    /// existed); ignored with <see cref="FreezeEncoder"/>. Default <see cref="Defaults.ReconstructionWeight"/> (0.3).
    /// </summary>
    public double ReconstructionWeight { get; set; } = Defaults.ReconstructionWeight;

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

    /// <summary>
    /// The epochs to train on <paramref name="trainRows"/> labelled rows: <see cref="Epochs"/> when set (no choice to
    /// report), otherwise the rule of <see cref="Epochs"/>, with what it chose and why.
    /// </summary>
    internal (int Epochs, string? Choice) ChooseEpochs(int trainRows)
    {
        if (Epochs is { } given) return (given, null);
        long batches = Math.Max(1, (trainRows + (long)BatchSize - 1) / BatchSize);
        int epochs = (int)Math.Clamp((Defaults.MinSteps + batches - 1) / batches, Defaults.MinEpochs, Defaults.MaxEpochs);
        return (epochs, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{epochs} epochs of {batches} batches ({trainRows} labelled training rows, batch {BatchSize}): at least {Defaults.MinEpochs} epochs and {Defaults.MinSteps} optimizer steps, at most {Defaults.MaxEpochs} epochs"));
    }

    internal void Validate()
    {
        if (Autoencoder is null) throw new ArgumentException("Autoencoder must be a fitted autoencoder (AutoencoderTransformer) whose encoder is fine-tuned.", nameof(Autoencoder));
        if (Epochs is < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1 (or null: chosen by the library).");
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
        if (!(ReconstructionWeight >= 0) || !double.IsFinite(ReconstructionWeight)) throw new ArgumentOutOfRangeException(nameof(ReconstructionWeight), ReconstructionWeight, "ReconstructionWeight must be a finite number, 0 or more.");
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
