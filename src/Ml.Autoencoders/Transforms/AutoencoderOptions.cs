using System.Text.Json.Serialization;
using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Bodies;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Every knob of a dense autoencoder stage: columns, network, objective and training. Defaults live in
/// <see cref="Defaults"/>; with them a 16-dimensional code beats PCA-16's reconstruction error on
/// Fashion-MNIST by more than 10% in about a minute on two cores (see docs/autoencoders.md).
/// </summary>
public sealed class AutoencoderOptions
{
    /// <summary>Default values of the options, shared by every catalog overload.</summary>
    public static class Defaults
    {
        /// <summary>Width of the latent code.</summary>
        public const int LatentDimension = 16;
        /// <summary>Hidden widths of the encoder; the decoder mirrors them.</summary>
        public static int[] HiddenLayerSizes => new[] { 256, 128 };
        /// <summary>Activation after each hidden layer.</summary>
        public const Activation HiddenActivation = Activation.LeakyReLU;
        /// <summary>Activation of the code layer: linear, so no code unit can die (ReLU codes lose units).</summary>
        public const Activation CodeActivation = Activation.Linear;
        /// <summary>Fewest epochs when <see cref="AutoencoderOptions.Epochs"/> is left to the library.</summary>
        public const int MinEpochs = 20;
        /// <summary>Fewest optimizer steps when <see cref="AutoencoderOptions.Epochs"/> is left to the library: small data sets get more epochs.</summary>
        public const int MinSteps = 3000;
        /// <summary>Most epochs when <see cref="AutoencoderOptions.Epochs"/> is left to the library.</summary>
        public const int MaxEpochs = 1000;
        /// <summary>
        /// Most optimizer steps x network weights when <see cref="AutoencoderOptions.Epochs"/> is left to the library:
        /// 1e10. The epochs added beyond <see cref="MinEpochs"/> to reach <see cref="MinSteps"/> stop there, so a few rows
        /// of very many features do not get 1,000 epochs of a huge network. (The default network on 60,000 Fashion-MNIST
        /// rows takes 4.4e9, on 2,000 rows 1.4e9: unaffected.)
        /// </summary>
        public const double MaxStepWeights = 1e10;
        /// <summary>
        /// Below this many input rows, when the library chooses the epochs and no validation or early stopping is set,
        /// <c>Fit</c> finds the epoch count with a validation run (<see cref="SmallDataValidationFraction"/> held out,
        /// early stopping) and then trains on all rows for that many epochs (see <see cref="AutoencoderOptions.SmallDataRows"/>):
        /// 10,000. Fashion-MNIST's 60,000 rows are above it.
        /// </summary>
        public const int SmallDataRows = 10_000;
        /// <summary>Fraction of the rows held out for validation by the small-data rule: 0.2.</summary>
        public const double SmallDataValidationFraction = 0.2;
        /// <summary>Early-stopping patience (epochs without a lower validation loss) of the small-data rule: 20.</summary>
        public const int SmallDataPatience = 20;
        /// <summary>Fewest rows the small-data rule splits: 50 (20% of fewer would leave a validation set of a handful of rows).</summary>
        public const int SmallDataMinRows = 50;
        /// <summary>Rows per batch.</summary>
        public const int BatchSize = 128;
        /// <summary>Initial learning rate.</summary>
        public const double LearningRate = 2e-3;
        /// <summary>Learning-rate schedule.</summary>
        public const LearningRateSchedule Schedule = LearningRateSchedule.Cosine;
        /// <summary>Rows per forward pass in <c>Transform</c>.</summary>
        public const int TransformBatchSize = 1024;
        /// <summary>Largest training set cached in memory under <see cref="DataCaching.Auto"/>: 2 GiB.</summary>
        public const long MaxCacheBytes = 2L << 30;
        /// <summary>Rows in the shuffle buffer when streaming.</summary>
        public const int ShuffleBufferRows = 16_384;
        /// <summary>Weight β of a variational autoencoder's KL term (1: the plain VAE's ELBO).</summary>
        public const double KlWeight = 1;
        /// <summary>
        /// Most weights and biases the dense layers (<see cref="AutoencoderOptions.HiddenLayerSizes"/>,
        /// <see cref="AutoencoderOptions.LatentDimension"/>) may have: 2^31, 8 GiB of float32 weights before gradients
        /// and optimizer state. A larger network is a typo, not a model to train.
        /// </summary>
        public const long MaxParameters = 1L << 31;
        /// <summary>Most <see cref="AutoencoderOptions.Threads"/> per CPU core of this machine: 4 (more only adds scheduling overhead).</summary>
        public const int MaxThreadsPerCore = 4;
    }

    // The options the core reads are stored in the core's own records, so the estimator hands them over as they are
    // (no list of copied properties to forget one from): the objective's settings, and the training settings but for
    // the epochs and the seed, which the estimator resolves. The public properties below read and write them.
    private ObjectiveSettings objective = new()
    {
        Loss = ReconstructionLoss.MeanSquaredError, KlWeight = Defaults.KlWeight, Penalties = new List<AutoencoderPenalty>(),
    };

    private TrainingSettings training = new()
    {
        BatchSize = Defaults.BatchSize, Optimizer = OptimizerKind.Adam, LearningRate = Defaults.LearningRate, Schedule = Defaults.Schedule,
        StepSize = 10, StepFactor = 0.1, Momentum = 0.9, Shuffle = true, Device = ComputeDevice.Auto,
    };

    /// <summary>The objective's settings, with their own copies of the corruption and the penalties (which the caller may change later).</summary>
    internal ObjectiveSettings Objective() => objective with
    {
        Corruption = objective.Corruption?.Clone(),
        Penalties = objective.Penalties.Select(p => p.Clone()).ToArray(),
    };

    /// <summary>The training settings for <paramref name="epochs"/> epochs and the seed of this fit.</summary>
    internal TrainingSettings Training(int epochs) => training with { Epochs = epochs, Seed = FitSeed };

    /// <summary>Input column: a known-size vector of <see cref="float"/>.</summary>
    [DoesNotChangeWeights]
    public string InputColumnName { get; set; } = AutoencoderColumnNames.Features;

    /// <summary>Name of the appended latent-code column.</summary>
    [DoesNotChangeWeights]
    public string LatentColumnName { get; set; } = AutoencoderColumnNames.LatentCode;

    /// <summary>Name of the appended reconstruction column.</summary>
    [DoesNotChangeWeights]
    public string ReconstructionColumnName { get; set; } = AutoencoderColumnNames.Reconstruction;

    /// <summary>Name of the appended reconstruction-error column.</summary>
    [DoesNotChangeWeights]
    public string ReconstructionErrorColumnName { get; set; } = AutoencoderColumnNames.ReconstructionError;

    /// <summary>Name of the appended posterior log-variance column (variational autoencoders).</summary>
    [DoesNotChangeWeights]
    public string LatentLogVarianceColumnName { get; set; } = AutoencoderColumnNames.LatentLogVariance;

    /// <summary>Name of the appended sampled-code column (variational autoencoders).</summary>
    [DoesNotChangeWeights]
    public string SampledLatentCodeColumnName { get; set; } = AutoencoderColumnNames.SampledLatentCode;

    /// <summary>
    /// Which columns <c>Transform</c> appends. Only active columns cost a forward pass. The log-variance and sampled
    /// code need <see cref="LatentHead"/> = <see cref="Networks.LatentHead.Gaussian"/>.
    /// </summary>
    [DoesNotChangeWeights]
    public AutoencoderOutputs Outputs { get; set; } = AutoencoderOutputs.All;

    /// <summary>The name of the column of one output kind.</summary>
    public string ColumnName(AutoencoderOutputs kind) => kind switch
    {
        AutoencoderOutputs.LatentCode => LatentColumnName,
        AutoencoderOutputs.Reconstruction => ReconstructionColumnName,
        AutoencoderOutputs.ReconstructionError => ReconstructionErrorColumnName,
        AutoencoderOutputs.LatentLogVariance => LatentLogVarianceColumnName,
        AutoencoderOutputs.SampledLatentCode => SampledLatentCodeColumnName,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Name one output column kind."),
    };

    /// <summary>
    /// The latent head: a deterministic code, or a Gaussian posterior with a KL term (the variational autoencoder;
    /// see <see cref="KlWeight"/>). The latent-code column of a Gaussian head is the posterior mean.
    /// </summary>
    public LatentHead LatentHead { get; set; } = LatentHead.Deterministic;

    /// <summary>
    /// Weight β of the KL term of a Gaussian head (β-VAE when not 1); used as given, never clamped. The
    /// reconstruction term of a Gaussian head is summed over each row's features, as in the VAE papers.
    /// </summary>
    public double KlWeight { get => objective.KlWeight; set => objective = objective with { KlWeight = value }; }

    /// <summary>KL warm-up: the KL weight rises linearly from 0 to <see cref="KlWeight"/> over this many epochs (0: off). Validation always uses the full weight.</summary>
    public int KlWarmupEpochs { get => objective.KlWarmupEpochs; set => objective = objective with { KlWarmupEpochs = value }; }

    /// <summary>Corruption of the input in training (denoising autoencoder); null for none. Never applied in <c>Transform</c>.</summary>
    public InputCorruption? Corruption { get => objective.Corruption; set => objective = objective with { Corruption = value }; }

    /// <summary>Penalties added to the objective with their weights (<see cref="SparsityPenalty"/>, <see cref="ContractivePenalty"/>).</summary>
    public List<AutoencoderPenalty> Penalties
    {
        get => (List<AutoencoderPenalty>)objective.Penalties;
        set => objective = objective with { Penalties = value };
    }

    /// <summary>Decoder layers use the transposed encoder weights (with their own biases): half the weights. Deterministic head only.</summary>
    public bool TiedWeights { get; set; }

    /// <summary>
    /// Greedy layer-wise pretraining: epochs per stage (0: off). Stage i trains encoder layer i and its mirrored decoder
    /// layer as a shallow autoencoder on the codes of the stages before it (stage 0 on the input, with the
    /// <see cref="Loss"/> and <see cref="Corruption"/>; later stages with squared error on hidden codes), then the whole
    /// network trains end to end for <see cref="Epochs"/>. Penalties apply to the end-to-end phase. Deterministic head only.
    /// </summary>
    public int PretrainEpochs { get; set; }

    /// <summary>
    /// Learning rate of the greedy pretraining stages; null uses <see cref="LearningRate"/>. Deeper stages reconstruct
    /// unbounded hidden codes with squared error, which often needs a smaller rate than the end-to-end objective
    /// (the classic SGD 1.5 recipe diverges there; 0.05 trains).
    /// </summary>
    public double? PretrainLearningRate { get; set; }

    /// <summary>
    /// The network body: null (the default) for dense layers only, or a <see cref="ConvolutionalOptions"/> for image
    /// rows. With a convolutional body, <see cref="HiddenLayerSizes"/>, <see cref="LatentDimension"/> and
    /// <see cref="CodeActivation"/> describe the dense code when <see cref="ConvolutionalOptions.DenseCode"/> is set.
    /// </summary>
    public BodyOptions? Body { get; set; }

    /// <summary>Width of the latent code (the bottleneck). The dense layers may have at most <see cref="Defaults.MaxParameters"/> weights.</summary>
    public int LatentDimension { get; set; } = Defaults.LatentDimension;

    /// <summary>
    /// Hidden widths of the encoder, input side first; the decoder mirrors them. Empty for a single-layer autoencoder.
    /// The dense layers may have at most <see cref="Defaults.MaxParameters"/> weights (checked with the input size at <c>Fit</c>).
    /// </summary>
    public int[] HiddenLayerSizes { get; set; } = Defaults.HiddenLayerSizes;

    /// <summary>Activation after every hidden layer, unless <see cref="HiddenActivations"/> names one per layer.</summary>
    public Activation HiddenActivation { get; set; } = Defaults.HiddenActivation;

    /// <summary>Optional per-layer activations (one per hidden layer, input side first); the decoder mirrors them.</summary>
    public Activation[]? HiddenActivations { get; set; }

    /// <summary>Activation of the code layer.</summary>
    public Activation CodeActivation { get; set; } = Defaults.CodeActivation;

    /// <summary>
    /// Activation of the output layer. Null (the default) picks <see cref="Activation.Sigmoid"/> when every
    /// training value lies in [0, 1] and <see cref="Activation.Linear"/> otherwise.
    /// </summary>
    public Activation? OutputActivation { get; set; }

    /// <summary>
    /// Reconstruction loss. <see cref="ReconstructionLoss.BinaryCrossEntropy"/> needs inputs in [0, 1] and a sigmoid output.
    /// Averaged over features for a deterministic code; summed over each row's features for a Gaussian head (the ELBO).
    /// </summary>
    public ReconstructionLoss Loss { get => objective.Loss; set => objective = objective with { Loss = value }; }

    /// <summary>
    /// Training epochs (passes over the data). Null (the default) lets the library choose: at least
    /// <see cref="Defaults.MinEpochs"/> epochs and at least <see cref="Defaults.MinSteps"/> optimizer steps
    /// (so a 2,000-row data set trains for about 190 epochs, 60,000 rows for 20), at most <see cref="Defaults.MaxEpochs"/>,
    /// and no more epochs beyond <see cref="Defaults.MinEpochs"/> than keep optimizer steps x network weights within
    /// <see cref="Defaults.MaxStepWeights"/>. <see cref="TrainingHistory.EpochsChoice"/> says what was chosen and why.
    /// Below <see cref="SmallDataRows"/> rows a validation run then picks the epochs actually trained (the small-data rule).
    /// </summary>
    public int? Epochs { get; set; }

    /// <summary>
    /// The epochs to train on <paramref name="trainRows"/> rows: <see cref="Epochs"/> when set, else the automatic choice
    /// without the work budget (see <see cref="ResolveEpochs(long, long)"/>, which <c>Fit</c> uses).
    /// </summary>
    public int ResolveEpochs(long trainRows) => ChooseEpochs(trainRows, 0).Epochs;

    /// <summary>
    /// The epochs <c>Fit</c> trains a network of <paramref name="weights"/> weights (0: unknown, no work budget) on
    /// <paramref name="trainRows"/> rows: <see cref="Epochs"/> when set, else the automatic choice (see <see cref="Epochs"/>).
    /// </summary>
    public int ResolveEpochs(long trainRows, long weights) => ChooseEpochs(trainRows, weights).Epochs;

    /// <summary>The epochs to train and, when the library chose them, a sentence saying how (null when <see cref="Epochs"/> is set).</summary>
    internal (int Epochs, string? Reason) ChooseEpochs(long trainRows, long weights)
    {
        if (Epochs is { } epochs) return (epochs, null);
        long batches = Math.Max(1, (trainRows + BatchSize - 1) / BatchSize);
        int bySteps = (int)Math.Clamp((Defaults.MinSteps + batches - 1) / batches, Defaults.MinEpochs, Defaults.MaxEpochs);
        string rule = $"at least {Defaults.MinEpochs} epochs and {Defaults.MinSteps} optimizer steps, at most {Defaults.MaxEpochs} epochs; " +
                      $"{trainRows} training rows in batches of {BatchSize} make {batches} steps per epoch";
        // The work budget only trims the epochs that MinSteps added above MinEpochs.
        double budgetEpochs = weights > 0 ? Math.Floor(Defaults.MaxStepWeights / ((double)batches * weights)) : double.PositiveInfinity;
        if (bySteps <= Defaults.MinEpochs || bySteps <= budgetEpochs)
            return (bySteps, $"Epochs chosen by the library: {bySteps} ({rule}).");
        int capped = (int)Math.Max(Defaults.MinEpochs, budgetEpochs);
        return (capped, $"Epochs chosen by the library: {capped}, capped by the work budget from {bySteps} ({rule}): " +
                        $"{batches} steps per epoch x {weights} weights allow {capped} epochs within {Defaults.MaxStepWeights:G3} step-weights " +
                        $"(never fewer than {Defaults.MinEpochs}). Set Epochs to choose yourself.");
    }

    /// <summary>Rows per training batch.</summary>
    public int BatchSize { get => training.BatchSize; set => training = training with { BatchSize = value }; }

    /// <summary>Optimizer.</summary>
    public OptimizerKind Optimizer { get => training.Optimizer; set => training = training with { Optimizer = value }; }

    /// <summary>Initial learning rate.</summary>
    public double LearningRate { get => training.LearningRate; set => training = training with { LearningRate = value }; }

    /// <summary>Learning-rate schedule over the epochs.</summary>
    public LearningRateSchedule LearningRateSchedule { get => training.Schedule; set => training = training with { Schedule = value }; }

    /// <summary>Final learning rate of the cosine schedule.</summary>
    public double MinLearningRate { get => training.MinLearningRate; set => training = training with { MinLearningRate = value }; }

    /// <summary>Epochs between decays of the step schedule.</summary>
    public int StepSize { get => training.StepSize; set => training = training with { StepSize = value }; }

    /// <summary>Factor applied at each decay of the step schedule.</summary>
    public double StepFactor { get => training.StepFactor; set => training = training with { StepFactor = value }; }

    /// <summary>Weight decay (L2 for Adam and SGD, decoupled for AdamW).</summary>
    public double WeightDecay { get => training.WeightDecay; set => training = training with { WeightDecay = value }; }

    /// <summary>Momentum of SGD.</summary>
    public double Momentum { get => training.Momentum; set => training = training with { Momentum = value }; }

    /// <summary>Shuffle the rows every epoch.</summary>
    public bool Shuffle { get => training.Shuffle; set => training = training with { Shuffle = value }; }

    /// <summary>
    /// Seed of weight initialisation, shuffling, noise and the validation split: same seed and data, same weights (on CPU).
    /// Null (the default) lets the <c>MLContext</c> that creates the estimator decide, as ML.NET's trainers do: a context
    /// created with a seed (<c>new MLContext(seed: n)</c>) trains with seed n; a context created without one draws a seed
    /// from its random generator, so each run trains other weights (ML.NET's rule for such a context). The seed used is
    /// recorded: the estimator's and the fitted transformer's <c>Options.Seed</c>, <c>AutoencoderModel.Seed</c>, and a Trace
    /// line of <c>mlContext.Log</c>; set it here to repeat that run. An estimator constructed directly
    /// (<c>new AutoencoderEstimator(options)</c>, no context) trains with 0.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>The seed training uses: <see cref="Seed"/>, which the estimator has resolved (0 when nothing set it).</summary>
    internal int FitSeed => Seed ?? 0;

    /// <summary>Fraction of the training rows held out for validation (chosen by row index and seed). 0 for none.</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Separate validation data with the same input column; takes precedence over <see cref="ValidationFraction"/>.</summary>
    [JsonIgnore]
    public IDataView? ValidationData { get; set; }

    /// <summary>
    /// The small-data rule: when the input has at least <see cref="Defaults.SmallDataMinRows"/> and fewer than this many
    /// rows, <see cref="Epochs"/> is left to the library, none of <see cref="ValidationFraction"/>,
    /// <see cref="ValidationData"/> and <see cref="EarlyStoppingPatience"/> is set and no checkpoint is written or resumed,
    /// <c>Fit</c> first trains a validation run: <see cref="Defaults.SmallDataValidationFraction"/> of the rows held out,
    /// stopping after <see cref="Defaults.SmallDataPatience"/> epochs without a lower validation loss. Then it trains the
    /// returned model on all rows for the best epoch count of that run (the learning-rate schedule spread over those
    /// epochs). Without the rule, the epochs that small data sets get (up to 1,000, to reach
    /// <see cref="Defaults.MinSteps"/> optimizer steps) overfit them: codes that lose to PCA in k-NN (see docs/autoencoders.md, the small-data rule).
    /// The returned model's options say <see cref="Epochs"/> = that count. Default <see cref="Defaults.SmallDataRows"/>;
    /// 0 turns the rule off. <see cref="TrainingHistory.SmallDataChoice"/> says whether it applied and why, and what
    /// the validation run found. Larger data sets train exactly as without the rule.
    /// </summary>
    public int SmallDataRows { get; set; } = Defaults.SmallDataRows;

    /// <summary>
    /// False when the small-data rule cannot apply whatever the row count: the rule is off, or the user chose epochs,
    /// validation, early stopping or checkpoints. <c>Fit</c> counts rows for the rule only when this is true.
    /// </summary>
    internal bool SmallDataRuleMayApply =>
        SmallDataRows > 0 && Epochs is null && !(ValidationFraction > 0) && ValidationData is null && EarlyStoppingPatience == 0
        && CheckpointPath is null && ResumeFromCheckpoint is null;

    /// <summary>
    /// The options <c>Fit</c> trains with on <paramref name="inputRows"/> rows (null: the count is unknown) and a
    /// sentence saying whether the small-data rule (see <see cref="SmallDataRows"/>) applied and why; the sentence is
    /// null when the rule is off or the user chose epochs, validation or early stopping. Returns this object itself
    /// when nothing changes.
    /// </summary>
    internal (AutoencoderOptions Options, string? Reason) ApplySmallDataRule(long? inputRows)
    {
        if (!SmallDataRuleMayApply) return (this, null);
        string rows = inputRows is { } n ? $"{n}" : $"at least {SmallDataRows}";
        if (inputRows is not { } count || count >= SmallDataRows)
            return (this, $"Small-data rule not applied: {rows} rows, not below {nameof(SmallDataRows)} = {SmallDataRows}.");
        if (count < Defaults.SmallDataMinRows)
            return (this, $"Small-data rule not applied: {count} rows are too few to hold out a validation set (fewer than {Defaults.SmallDataMinRows}).");
        var effective = Clone();
        effective.ValidationFraction = Defaults.SmallDataValidationFraction;
        effective.EarlyStoppingPatience = Defaults.SmallDataPatience;
        return (effective, $"Small-data rule applied: {count} rows, below {nameof(SmallDataRows)} = {SmallDataRows}, and no epochs, validation " +
                           $"or early stopping were set, so a validation run held out {Defaults.SmallDataValidationFraction * 100:F0}% of the rows " +
                           $"({nameof(ValidationFraction)} = {Defaults.SmallDataValidationFraction}) and stopped after {Defaults.SmallDataPatience} " +
                           $"epochs without a lower validation loss ({nameof(EarlyStoppingPatience)} = {Defaults.SmallDataPatience}) to find the epoch count: " +
                           $"the epochs chosen for small data overfit without it. Set {nameof(SmallDataRows)} = 0 to turn it off.");
    }

    /// <summary>Epochs without improvement of the monitored loss (validation, else training) before stopping; 0 turns early stopping off. When on, the best epoch's weights are restored.</summary>
    public int EarlyStoppingPatience { get => training.EarlyStoppingPatience; set => training = training with { EarlyStoppingPatience = value }; }

    /// <summary>Smallest decrease of the monitored loss that counts as an improvement.</summary>
    public double EarlyStoppingMinDelta { get => training.EarlyStoppingMinDelta; set => training = training with { EarlyStoppingMinDelta = value }; }

    /// <summary>Device to train and run on.</summary>
    [DoesNotChangeWeights]
    public ComputeDevice Device { get => training.Device; set => training = training with { Device = value }; }

    /// <summary>
    /// CPU threads for TorchSharp during <c>Fit</c> (libtorch's setting is process-wide: it is set when Fit starts and
    /// the previous count is restored when it ends); 0 leaves TorchSharp's default. The estimator refuses more than
    /// <see cref="Defaults.MaxThreadsPerCore"/> x <see cref="Environment.ProcessorCount"/> (oversubscribed threads make
    /// training many times slower, never faster).
    /// </summary>
    [DoesNotChangeWeights]
    public int Threads { get; set; }

    /// <summary>How <c>Fit</c> holds the training rows.</summary>
    [DoesNotChangeWeights]
    public DataCaching Caching { get; set; } = DataCaching.Auto;

    /// <summary>Largest cache under <see cref="DataCaching.Auto"/>, in bytes.</summary>
    [DoesNotChangeWeights]
    public long MaxCacheBytes { get; set; } = Defaults.MaxCacheBytes;

    /// <summary>Rows in the shuffle buffer when streaming.</summary>
    public int ShuffleBufferRows { get; set; } = Defaults.ShuffleBufferRows;

    /// <summary>Rows per forward pass when <c>Transform</c> computes its columns.</summary>
    [DoesNotChangeWeights]
    public int TransformBatchSize { get; set; } = Defaults.TransformBatchSize;

    /// <summary>Receives a record after every epoch.</summary>
    [JsonIgnore]
    public IProgress<EpochRecord>? Progress { get => training.Progress; set => training = training with { Progress = value }; }

    /// <summary>
    /// File the latest training checkpoint is written to (null: no checkpoints). Every
    /// <see cref="CheckpointEveryEpochs"/> epochs, and after the last one, <c>Fit</c> writes the weights, the optimizer
    /// state, the learning-rate schedule position, the random state (shuffle order and the noise/sampling generator),
    /// the early-stopping state and the history to a temporary file beside it, then renames it over this path: a crash
    /// mid-write leaves the previous checkpoint intact. Resume with <see cref="ResumeFromCheckpoint"/>. Checkpoints
    /// cover end-to-end training; greedy pretraining (<see cref="PretrainEpochs"/>) is not checkpointed but its result
    /// is, so a resumed run skips it. <c>Fit</c> checks before any training that the directory exists (it is not
    /// created) and a file can be created in it (<see cref="Training.AutoencoderCheckpointException"/> otherwise).
    /// </summary>
    [DoesNotChangeWeights]
    public string? CheckpointPath { get; set; }

    /// <summary>Epochs between checkpoints (default 1: after every epoch). The last epoch always writes one.</summary>
    [DoesNotChangeWeights]
    public int CheckpointEveryEpochs { get; set; } = 1;

    /// <summary>
    /// A checkpoint written by an earlier <c>Fit</c> with the same options and data: training continues after its last
    /// epoch, and on CPU with the same seed ends with exactly the weights an uninterrupted run gives. <c>Fit</c> refuses
    /// (<see cref="Training.AutoencoderCheckpointException"/>) a checkpoint written with other training options, another network
    /// or other data (row count and value range), and a damaged one (<see cref="Persistence.AutoencoderModelFormatException"/>).
    /// </summary>
    [DoesNotChangeWeights]
    public string? ResumeFromCheckpoint { get; set; }

    /// <summary>
    /// Cancels training at the next batch boundary; <c>Fit</c> then throws <see cref="OperationCanceledException"/>.
    /// The checkpoint at <see cref="CheckpointPath"/>, if any, stays the last one completed and loadable.
    /// </summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get => training.CancellationToken; set => training = training with { CancellationToken = value }; }

    /// <summary>Checks every value; throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        RequireName(InputColumnName, nameof(InputColumnName));
        RequireName(LatentColumnName, nameof(LatentColumnName));
        RequireName(ReconstructionColumnName, nameof(ReconstructionColumnName));
        RequireName(ReconstructionErrorColumnName, nameof(ReconstructionErrorColumnName));
        RequireName(LatentLogVarianceColumnName, nameof(LatentLogVarianceColumnName));
        RequireName(SampledLatentCodeColumnName, nameof(SampledLatentCodeColumnName));
        if (Outputs == 0 || (Outputs & ~AutoencoderOutputs.AllVariational) != 0)
            throw new ArgumentOutOfRangeException(nameof(Outputs), Outputs, "Choose at least one of LatentCode, Reconstruction, ReconstructionError, LatentLogVariance, SampledLatentCode.");
        ValidateEnums();
        ValidateVariant();
        Positive(LatentDimension, nameof(LatentDimension));
        if (HiddenLayerSizes is null) throw new ArgumentNullException(nameof(HiddenLayerSizes), "Use an empty array for no hidden layer.");
        for (int i = 0; i < HiddenLayerSizes.Length; i++)
            if (HiddenLayerSizes[i] <= 0)
                throw new ArgumentOutOfRangeException(nameof(HiddenLayerSizes), HiddenLayerSizes[i], $"Hidden layer {i} has width {HiddenLayerSizes[i]}; widths must be positive.");
        CheckParameterCount((int?)null);
        if (HiddenActivations is not null && HiddenActivations.Length != HiddenLayerSizes.Length)
            throw new ArgumentException($"{nameof(HiddenActivations)} has {HiddenActivations.Length} entries for {HiddenLayerSizes.Length} hidden layers; give one per layer or leave it null.", nameof(HiddenActivations));
        ValidateBody();
        if (Epochs is { } e) Positive(e, nameof(Epochs));
        Positive(BatchSize, nameof(BatchSize));
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        if (!(MinLearningRate >= 0) || MinLearningRate > LearningRate)
            throw new ArgumentOutOfRangeException(nameof(MinLearningRate), MinLearningRate, $"Expected 0 <= {nameof(MinLearningRate)} <= {nameof(LearningRate)} ({LearningRate}).");
        Positive(StepSize, nameof(StepSize));
        if (!(StepFactor > 0) || StepFactor > 1)
            throw new ArgumentOutOfRangeException(nameof(StepFactor), StepFactor, "Expected a factor in (0, 1].");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be >= 0.");
        if (!(Momentum >= 0) || Momentum >= 1)
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Expected momentum in [0, 1).");
        if (!(ValidationFraction >= 0) || ValidationFraction >= 1)
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "Expected a fraction in [0, 1).");
        if (SmallDataRows < 0)
            throw new ArgumentOutOfRangeException(nameof(SmallDataRows), SmallDataRows, "Expected rows >= 0 (0 turns the small-data rule off).");
        if (EarlyStoppingPatience < 0)
            throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "Patience must be >= 0 (0 turns early stopping off).");
        if (!(EarlyStoppingMinDelta >= 0) || !double.IsFinite(EarlyStoppingMinDelta))
            throw new ArgumentOutOfRangeException(nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, "Expected a finite delta >= 0.");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be >= 0 (0 keeps TorchSharp's default).");
        if (MaxCacheBytes < 0) throw new ArgumentOutOfRangeException(nameof(MaxCacheBytes), MaxCacheBytes, "Expected bytes >= 0.");
        Positive(ShuffleBufferRows, nameof(ShuffleBufferRows));
        Positive(CheckpointEveryEpochs, nameof(CheckpointEveryEpochs));
        if (CheckpointPath is { } c && string.IsNullOrWhiteSpace(c)) throw new ArgumentException($"{nameof(CheckpointPath)} must be a file path or null.", nameof(CheckpointPath));
        if (ResumeFromCheckpoint is { } r && string.IsNullOrWhiteSpace(r)) throw new ArgumentException($"{nameof(ResumeFromCheckpoint)} must be a file path or null.", nameof(ResumeFromCheckpoint));
        Positive(TransformBatchSize, nameof(TransformBatchSize));
        if (Loss == ReconstructionLoss.BinaryCrossEntropy && OutputActivation is { } act && act != Activation.Sigmoid)
            throw new ArgumentException($"{nameof(ReconstructionLoss.BinaryCrossEntropy)} needs a sigmoid output; {nameof(OutputActivation)} is {act}.", nameof(OutputActivation));
        var names = AutoencoderTransformer.OutputColumns(Outputs, this).Select(c => c.Name).ToArray();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
            throw new ArgumentException($"The output column names must differ: {string.Join(", ", names.Select(n => $"'{n}'"))}.");
    }

    /// <summary>
    /// Refuses dense layers with more than <see cref="Defaults.MaxParameters"/> weights, naming the widest of
    /// <see cref="LatentDimension"/> and <see cref="HiddenLayerSizes"/>. Without <paramref name="inputSize"/> (before the
    /// data is seen) the input counts as 1 value, a lower bound that already catches an absurd width.
    /// </summary>
    internal void CheckParameterCount(int? inputSize) =>
        CheckParameterCount(BodyKinds.For(null).Spec(null, new CodeLayers(HiddenLayerSizes, new Activation[HiddenLayerSizes.Length], LatentDimension,
            Activation.Linear, LatentHead, TiedWeights && LatentHead == LatentHead.Deterministic), inputSize ?? 1, Activation.Linear), inputSize);

    /// <summary>The same refusal for the whole network <paramref name="spec"/> (built with the real input size).</summary>
    internal void CheckParameterCount(IBodySpec spec) => CheckParameterCount(spec, spec.InputSize);

    private void CheckParameterCount(IBodySpec spec, int? inputSize)
    {
        long count = ParameterCount(spec);
        if (count <= Defaults.MaxParameters) return;
        int widest = HiddenLayerSizes.Length == 0 ? -1 : Array.IndexOf(HiddenLayerSizes, HiddenLayerSizes.Max());
        bool latent = widest < 0 || LatentDimension >= HiddenLayerSizes[widest];
        string name = latent ? nameof(LatentDimension) : nameof(HiddenLayerSizes);
        object value = latent ? LatentDimension : HiddenLayerSizes[widest];
        string shape = $"{(inputSize is { } n ? n.ToString() : "at least 1")} inputs, {nameof(HiddenLayerSizes)} [{string.Join(", ", HiddenLayerSizes)}], {nameof(LatentDimension)} {LatentDimension}";
        throw new ArgumentOutOfRangeException(name, value,
            $"{(latent ? nameof(LatentDimension) : $"{nameof(HiddenLayerSizes)}[{widest}]")} = {value} makes a network of " +
            $"{(count == long.MaxValue ? "more than 9.2e18" : count.ToString("N0"))} weights ({shape}); the limit is {Defaults.MaxParameters:N0}. Use narrower layers.");
    }

    /// <summary>Weights and biases of a network of <paramref name="spec"/>'s shape; <see cref="long.MaxValue"/> when the count overflows.</summary>
    internal static long ParameterCount(IBodySpec spec)
    {
        try
        {
            long total = 0;
            foreach (var (_, shape) in spec.ExpectedTensors())
            {
                long size = 1;
                foreach (long d in shape) size = checked(size * d);
                total = checked(total + size);
            }
            return total;
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }

    /// <summary>Refuses what depends on this machine, not on the model: more than <see cref="Defaults.MaxThreadsPerCore"/> threads per core.</summary>
    internal void CheckForThisMachine()
    {
        TorchThreads.Check(Threads, nameof(Threads), Defaults.MaxThreadsPerCore);
    }

    /// <summary>Every enum value is one the library knows (a cast integer or a damaged model file can hold any).</summary>
    private void ValidateEnums()
    {
        static void Known<T>(T value, string name) where T : struct, Enum
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(name, value, $"Unknown {typeof(T).Name} value {value}.");
        }
        Known(HiddenActivation, nameof(HiddenActivation));
        foreach (var a in HiddenActivations ?? []) Known(a, nameof(HiddenActivations));
        Known(CodeActivation, nameof(CodeActivation));
        if (OutputActivation is { } output) Known(output, nameof(OutputActivation));
        Known(Loss, nameof(Loss));
        Known(Optimizer, nameof(Optimizer));
        Known(LearningRateSchedule, nameof(LearningRateSchedule));
        Known(Device, nameof(Device));
        Known(Caching, nameof(Caching));
    }

    /// <summary>The variant parts: which combinations make sense.</summary>
    private void ValidateVariant()
    {
        if (!Enum.IsDefined(LatentHead)) throw new ArgumentOutOfRangeException(nameof(LatentHead), LatentHead, "Unknown latent head.");
        bool gaussian = LatentHead == LatentHead.Gaussian;
        if (!(KlWeight >= 0) || !double.IsFinite(KlWeight))
            throw new ArgumentOutOfRangeException(nameof(KlWeight), KlWeight, "The KL weight must be a finite number >= 0.");
        if (KlWarmupEpochs < 0)
            throw new ArgumentOutOfRangeException(nameof(KlWarmupEpochs), KlWarmupEpochs, "KL warm-up epochs must be >= 0 (0 turns warm-up off).");
        if (PretrainLearningRate is { } plr && (!(plr > 0) || !double.IsFinite(plr)))
            throw new ArgumentOutOfRangeException(nameof(PretrainLearningRate), plr, "The pretraining learning rate must be a positive finite number (or null to use LearningRate).");
        if (PretrainEpochs < 0)
            throw new ArgumentOutOfRangeException(nameof(PretrainEpochs), PretrainEpochs, "Pretraining epochs must be >= 0 (0 turns greedy pretraining off).");
        if (!gaussian)
        {
            if (KlWeight != Defaults.KlWeight || KlWarmupEpochs != 0)
                throw new ArgumentException($"{nameof(KlWeight)} and {nameof(KlWarmupEpochs)} weight the KL term of a variational autoencoder; set {nameof(LatentHead)} = Gaussian to use them.", nameof(KlWeight));
            var variationalOnly = Outputs & (AutoencoderOutputs.LatentLogVariance | AutoencoderOutputs.SampledLatentCode);
            if (variationalOnly != 0)
                throw new ArgumentException($"The {variationalOnly} output needs a variational autoencoder ({nameof(LatentHead)} = Gaussian).", nameof(Outputs));
        }
        else
        {
            if (TiedWeights)
                throw new ArgumentException($"{nameof(TiedWeights)} needs a deterministic code: a Gaussian head's mean and log-variance layers have no single decoder layer to mirror.", nameof(TiedWeights));
            if (PretrainEpochs > 0)
                throw new ArgumentException($"Greedy layer-wise pretraining ({nameof(PretrainEpochs)}) trains deterministic codes; it is not defined for a Gaussian latent head. Train the variational autoencoder end to end.", nameof(PretrainEpochs));
            if (CodeActivation != Activation.Linear)
                throw new ArgumentException($"A Gaussian head's mean and log-variance are linear; {nameof(CodeActivation)} must be Linear, not {CodeActivation}.", nameof(CodeActivation));
        }
        Corruption?.Validate(0);
        if (Penalties is null) throw new ArgumentNullException(nameof(Penalties), "Use an empty list for no penalty.");
        for (int i = 0; i < Penalties.Count; i++)
            if (Penalties[i] is null) throw new ArgumentException($"Penalty {i} is null.", nameof(Penalties));
    }

    /// <summary>The body's own values, what it allows of the other options, and the penalties on its code (after the layers are checked).</summary>
    private void ValidateBody()
    {
        Body?.Validate();
        if (Body?.TokenSlots is not null && Corruption is not null)
            throw new ArgumentException("A token-sequence body reads keys, which noise on values would make meaningless; set Corruption to null.", nameof(Corruption));
        if (Body?.TokenSlots is not null && Loss != ReconstructionLoss.MeanSquaredError)
            throw new ArgumentException($"A token-sequence body always trains on the masked cross-entropy of its tokens; leave {nameof(Loss)} at its default.", nameof(Loss));
        BodyKinds.For(Body).Validate(Body, new BodyUse(Layers(), PretrainEpochs, Penalties.FirstOrDefault(p => p.NeedsTrace)?.Name));
        foreach (var penalty in Penalties)
            penalty.Validate(LatentHead, Body?.CodeActivation(CodeActivation) ?? CodeActivation);
    }

    /// <summary>The dense layers around the code these options describe (what every body reads of them).</summary>
    internal CodeLayers Layers() => new((int[])HiddenLayerSizes.Clone(),
        HiddenActivations is { } acts ? (Activation[])acts.Clone() : Enumerable.Repeat(HiddenActivation, HiddenLayerSizes.Length).ToArray(),
        LatentDimension, CodeActivation, LatentHead, TiedWeights);

    /// <summary>The network these options describe for rows of <paramref name="inputSize"/> values (see <see cref="BodyKind.Spec"/>).</summary>
    internal IBodySpec Spec(int inputSize, Activation outputActivation) => BodyKinds.For(Body).Spec(Body, Layers(), inputSize, outputActivation);

    /// <summary>A shallow copy (the arrays are copied too).</summary>
    public AutoencoderOptions Clone()
    {
        var copy = (AutoencoderOptions)MemberwiseClone();
        copy.HiddenLayerSizes = (int[])HiddenLayerSizes.Clone();
        copy.HiddenActivations = (Activation[]?)HiddenActivations?.Clone();
        copy.Corruption = Corruption?.Clone();
        copy.Body = Body?.Clone();
        copy.Penalties = Penalties?.Select(p => p?.Clone()!).ToList()!;
        return copy;
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }

    private static void RequireName(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must name a column.", name);
    }
}
