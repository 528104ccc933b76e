using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Anomaly;

/// <summary>What the anomaly score of a row is.</summary>
public enum AnomalyScoreKind
{
    /// <summary>Mean squared reconstruction error over the features (any body).</summary>
    ReconstructionError,

    /// <summary>
    /// Negative evidence lower bound of a variational autoencoder (Gaussian latent head), per row: the training
    /// reconstruction loss summed over the features, decoded at the posterior mean, plus KlWeight x KL(q(z|x) ‖ N(0, I)).
    /// </summary>
    NegativeElbo,

    /// <summary>
    /// The reconstruction error and the code's distance to the training rows' codes, each on the training rows' scale,
    /// added (the default): per member, (error - training mean) / training deviation + (distance - training mean) /
    /// training deviation, where the distance is the mean Euclidean distance of the row's code to its
    /// <see cref="AutoencoderAnomalyOptions.CodeNeighbors"/> nearest training codes (for a training row, its own code is
    /// one of them, so scoring the training rows again gives their training scores); averaged over the members. A row the network reconstructs well but whose code
    /// lies where no training row's does (a shape the autoencoder generalises to) still scores high. The score is in
    /// deviations, not squared pixels: about 0 for a typical training row.
    /// </summary>
    ReconstructionAndCodeDistance,
}

/// <summary>Every knob of the autoencoder anomaly detector (<c>mlContext.AnomalyDetection.Trainers.Autoencoder</c>).</summary>
public sealed class AutoencoderAnomalyOptions
{
    /// <summary>The feature column: a known-size vector of <see cref="float"/>. Default "Features".</summary>
    public string FeatureColumnName { get; set; } = DefaultColumnNames.Features;

    /// <summary>The appended score column (<see cref="float"/>, higher = more anomalous). Default "Score".</summary>
    public string ScoreColumnName { get; set; } = DefaultColumnNames.Score;

    /// <summary>The appended predicted-label column (<see cref="bool"/>: true = anomaly, Score above the threshold). Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = DefaultColumnNames.PredictedLabel;

    /// <summary>
    /// When set, a column of this name with each feature's squared reconstruction error (a vector as wide as the
    /// input): which features drove the score. Default null (not appended).
    /// </summary>
    public string? FeatureErrorsColumnName { get; set; }

    /// <summary>
    /// The autoencoder (any body: dense, convolutional, variational); its input column is set to
    /// <see cref="FeatureColumnName"/>. Default null: the library's body sized from the input at <c>Fit</c>
    /// (<see cref="DefaultAutoencoder"/>), trained <see cref="Epochs"/> epochs with <see cref="Seed"/>. A body given here
    /// trains with its own epochs and seed (<see cref="Seed"/> when its own is null), and its code must be narrower than the input (see <see cref="AllowWideCode"/>).
    /// </summary>
    public AutoencoderOptions? Autoencoder { get; set; }

    /// <summary>
    /// Epochs of the default body (<see cref="Autoencoder"/> null); null (the default) lets the library choose from the
    /// optimizer steps and the rows: at least <see cref="Defaults.MinEpochs"/> epochs and <see cref="Defaults.MinSteps"/>
    /// steps, at most <see cref="Defaults.MaxEpochs"/> epochs. Each member's <c>History.EpochsChoice</c> says what was chosen.
    /// </summary>
    public int? Epochs { get; set; }

    /// <summary>
    /// Seed of the default body's first member; member i trains with Seed + i. A body given in <see cref="Autoencoder"/>
    /// uses its own seed the same way, or this one when its own is null. Null (the default) lets the <c>MLContext</c>
    /// decide, as ML.NET's trainers do: the context's seed (<c>new MLContext(seed: n)</c>), or for a context created
    /// without one a seed drawn from its random generator (other weights on every run). The seeds used are recorded in
    /// each member's <c>Model.Seed</c> and in a Trace line of <c>mlContext.Log</c>.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Autoencoders trained with consecutive seeds whose scores are averaged (each rescaled by its mean training score,
    /// so that no member dominates): an ensemble's ranking depends far less on the seed than one network's. Null (the
    /// default) means <see cref="Defaults.EnsembleSize"/> members for the default body (1 to 10, more for fewer rows) and 1 for a body given in
    /// <see cref="Autoencoder"/> (its cost is yours to choose).
    /// </summary>
    public int? EnsembleSize { get; set; }

    /// <summary>
    /// Lets a dense code (<see cref="AutoencoderOptions.LatentDimension"/>) be as wide as the input or wider. Off by
    /// default: such a code can learn the identity and reconstruct anomalies as well as normal rows, so <c>Fit</c> refuses
    /// it (<see cref="ArgumentOutOfRangeException"/> naming LatentDimension) unless this is set.
    /// </summary>
    public bool AllowWideCode { get; set; }

    /// <summary>
    /// CPU threads for TorchSharp during <c>Fit</c>, every member included (libtorch's setting is process-wide: it is set
    /// when Fit starts and the previous count is restored when it ends); 0 (the default) leaves the count in force, and
    /// trains with one thread while other processes keep the cores busy. At most
    /// <see cref="AutoencoderOptions.Defaults.MaxThreadsPerCore"/> per core of this machine.
    /// </summary>
    public int Threads { get; set; }

    /// <summary>
    /// Fraction of training rows the threshold flags as anomalies (in [0, 1)), used when <see cref="Threshold"/> is
    /// null. Default 0.1 (PyOD's default).
    /// </summary>
    public double Contamination { get; set; } = 0.1;

    /// <summary>
    /// An explicit score threshold (rows scoring above it are anomalies); overrides <see cref="Contamination"/>. Kept as a
    /// <see cref="float"/>: NaN, infinities and values beyond ±<see cref="float.MaxValue"/> are refused
    /// (<see cref="ArgumentOutOfRangeException"/>) when the detector is created.
    /// </summary>
    public double? Threshold { get; set; }

    /// <summary>
    /// What the score is. Default <see cref="AnomalyScoreKind.ReconstructionAndCodeDistance"/> (reconstruction error plus
    /// the code's distance to the training codes, both standardised; until 2026-12-05 the default was
    /// <see cref="AnomalyScoreKind.ReconstructionError"/>, the mean squared error alone, which stays available).
    /// </summary>
    public AnomalyScoreKind ScoreKind { get; set; } = AnomalyScoreKind.ReconstructionAndCodeDistance;

    /// <summary>
    /// Nearest training codes whose mean distance is the code part of <see cref="AnomalyScoreKind.ReconstructionAndCodeDistance"/>
    /// (at most the training codes kept). Default <see cref="Defaults.CodeNeighbors"/> (10).
    /// </summary>
    public int CodeNeighbors { get; set; } = Defaults.CodeNeighbors;

    /// <summary>The defaults of the detector's own body, in one place (docs/anomaly-detection.md says why each).</summary>
    public static class Defaults
    {
        /// <summary>
        /// Nearest training codes averaged into the code distance: 10. On one-class Fashion-MNIST (seed 0, one network per
        /// class) 5, 10 and 20 neighbours gave mean AUROC 0.921, 0.922 and 0.924 against 0.910 for the reconstruction error
        /// alone; on four small tables 10 was within 0.01 of the best count on each (bench/README.md, part h).
        /// </summary>
        public const int CodeNeighbors = 10;

        /// <summary>
        /// Most training codes a member keeps for the code distance: 10,000 (a seeded sample beyond; 10,000 codes of 32
        /// values are 1.3 MB in the saved detector, and a row's search is one product with them).
        /// </summary>
        public const int MaxReferenceRows = 10_000;

        /// <summary>Fewest members of the default ensemble: 1 (large data sets: one network is already stable across seeds).</summary>
        public const int MinEnsembleSize = 1;
        /// <summary>Most members of the default ensemble: 10.</summary>
        public const int MaxEnsembleSize = 10;
        /// <summary>
        /// Members x training rows the default ensemble reaches (within [1, 10] members): 5,000. Few rows make one network's
        /// ranking depend most on its seed and cost little to train, so small data sets get more members; from 5,000 rows
        /// on, one network is as stable (bench part h) and an ensemble would only multiply the training time.
        /// </summary>
        public const int EnsembleRows = 5_000;

        /// <summary>The default ensemble size for <paramref name="trainRows"/> rows: 5,000 / rows, rounded up, within [1, 10].</summary>
        public static int EnsembleSize(long trainRows) =>
            (int)Math.Clamp((EnsembleRows + Math.Max(1, trainRows) - 1) / Math.Max(1, trainRows), MinEnsembleSize, MaxEnsembleSize);
        /// <summary>Fewest epochs of the default body: 10.</summary>
        public const int MinEpochs = 10;
        /// <summary>Fewest optimizer steps of the default body: 500 (small data sets get more epochs).</summary>
        public const int MinSteps = 500;
        /// <summary>Most epochs of the default body: 1000.</summary>
        public const int MaxEpochs = 1000;
        /// <summary>Widest code of the default body: 32.</summary>
        public const int MaxLatentDimension = 32;
        /// <summary>Narrowest code of the default body: 2.</summary>
        public const int MinLatentDimension = 2;
        /// <summary>Input values per code unit of the default body: 4 (code = input / 4, within [2, 32]).</summary>
        public const int InputsPerCodeUnit = 4;
        /// <summary>Widest hidden layer of the default body: 128.</summary>
        public const int MaxHiddenSize = 128;
        /// <summary>Narrowest hidden layer of the default body: 16.</summary>
        public const int MinHiddenSize = 16;

        /// <summary>The default code width for rows of <paramref name="inputSize"/> values: input / 4 within [2, 32], and below the input.</summary>
        public static int LatentDimension(int inputSize) =>
            Math.Max(1, Math.Min(inputSize - 1, Math.Clamp(inputSize / InputsPerCodeUnit, MinLatentDimension, MaxLatentDimension)));

        /// <summary>The default hidden width for rows of <paramref name="inputSize"/> values: the input size within [16, 128].</summary>
        public static int HiddenSize(int inputSize) => Math.Clamp(inputSize, MinHiddenSize, MaxHiddenSize);

        /// <summary>The default body's epochs for <paramref name="trainRows"/> rows in batches of <paramref name="batchSize"/>, and a sentence saying why.</summary>
        public static (int Epochs, string Reason) ChooseEpochs(long trainRows, int batchSize)
        {
            long batches = Math.Max(1, (trainRows + batchSize - 1) / batchSize);
            int epochs = (int)Math.Clamp((MinSteps + batches - 1) / batches, MinEpochs, MaxEpochs);
            return (epochs, $"Epochs chosen by the anomaly detector: {epochs} (at least {MinEpochs} epochs and {MinSteps} optimizer steps, at most {MaxEpochs} epochs; " +
                            $"{trainRows} training rows in batches of {batchSize} make {batches} steps per epoch). Set AutoencoderAnomalyOptions.Epochs to choose yourself.");
        }
    }

    /// <summary>
    /// The default body for rows of <paramref name="inputSize"/> values: dense input-h-k with h =
    /// <see cref="Defaults.HiddenSize"/> (the input size within [16, 128]) and a linear code of k =
    /// <see cref="Defaults.LatentDimension"/> (input / 4 within [2, 32], always narrower than the input), the library's
    /// LeakyReLU, the output the autoencoder chooses from the training range (sigmoid when the rows lie in [0, 1], else
    /// linear; compared with an always-linear output in bench parts h and t, bench/README.md), Adam 2e-3 cosine, batch 128. For 784 pixels this is 784-128-32, the body chosen on
    /// one-class Fashion-MNIST. <paramref name="epochs"/> null leaves the choice to <c>Fit</c> (<see cref="Defaults.ChooseEpochs"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputSize"/> is below 2.</exception>
    public static AutoencoderOptions DefaultAutoencoder(int inputSize, int? epochs = null, int? seed = null)
    {
        if (inputSize < 2) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "The anomaly detector needs rows of at least 2 values (a code narrower than the input).");
        return new()
        {
            HiddenLayerSizes = [Defaults.HiddenSize(inputSize)],
            LatentDimension = Defaults.LatentDimension(inputSize),
            OutputActivation = null,
            Epochs = epochs,
            Seed = seed,
        };
    }

    /// <summary>The options the one-line catalog overload uses: the default body, <paramref name="epochs"/> (null: chosen at Fit) and <paramref name="seed"/>.</summary>
    public static AutoencoderAnomalyOptions Default(int? epochs = null, int? seed = null) => new() { Epochs = epochs, Seed = seed };

    internal AutoencoderAnomalyOptions Clone()
    {
        var copy = (AutoencoderAnomalyOptions)MemberwiseClone();
        copy.Autoencoder = Autoencoder?.Clone();
        return copy;
    }

    internal void Validate()
    {
        if (Epochs is { } e && e <= 0) throw new ArgumentOutOfRangeException(nameof(Epochs), e, "Epochs must be positive (or null to let the library choose).");
        if (EnsembleSize is { } m && m <= 0) throw new ArgumentOutOfRangeException(nameof(EnsembleSize), m, "EnsembleSize must be positive (or null for the default).");
        Runtime.TorchThreads.Check(Threads, nameof(Threads), AutoencoderOptions.Defaults.MaxThreadsPerCore);
        if (Autoencoder is null && ScoreKind == AnomalyScoreKind.NegativeElbo)
            throw new ArgumentException("ScoreKind.NegativeElbo needs a variational autoencoder (Autoencoder.LatentHead = Gaussian, e.g. AutoencoderPresets.Variational).", nameof(ScoreKind));
        foreach (var (name, value) in new[] { (nameof(FeatureColumnName), FeatureColumnName), (nameof(ScoreColumnName), ScoreColumnName), (nameof(PredictedLabelColumnName), PredictedLabelColumnName) })
            if (string.IsNullOrEmpty(value)) throw new ArgumentException($"{name} must name a column.", name);
        if (!(Contamination >= 0 && Contamination < 1)) throw new ArgumentOutOfRangeException(nameof(Contamination), Contamination, "Contamination must be in [0, 1).");
        // The detector keeps the threshold as a float: a double beyond float's range would become infinity.
        if (Threshold is { } t && !float.IsFinite((float)t))
            throw new ArgumentOutOfRangeException(nameof(Threshold), t, $"Threshold must be a finite value within float's range (±{float.MaxValue}).");
        if (!Enum.IsDefined(ScoreKind)) throw new ArgumentOutOfRangeException(nameof(ScoreKind), ScoreKind, "Unknown score kind.");
        if (CodeNeighbors < 1) throw new ArgumentOutOfRangeException(nameof(CodeNeighbors), CodeNeighbors, "CodeNeighbors must be at least 1.");
        if (ScoreKind == AnomalyScoreKind.NegativeElbo && Autoencoder is not null && Autoencoder.LatentHead != LatentHead.Gaussian)
            throw new ArgumentException("ScoreKind.NegativeElbo needs a variational autoencoder (Autoencoder.LatentHead = Gaussian, e.g. AutoencoderPresets.Variational).", nameof(ScoreKind));
    }
}
