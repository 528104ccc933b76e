using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Anomaly;

/// <summary>
/// A fitted autoencoder anomaly detector. <see cref="BatchTransformer.Transform"/> appends, lazily and a batch at a time, <c>Score</c>
/// (<see cref="float"/>, higher = more anomalous: the reconstruction error, or a VAE's negative ELBO) and
/// <c>PredictedLabel</c> (<see cref="bool"/>, Score &gt; <see cref="Threshold"/>), the column types
/// <c>mlContext.AnomalyDetection.Evaluate</c> wants, and optionally each feature's squared error.
/// </summary>
/// <remarks>
/// With several members (<see cref="AutoencoderAnomalyOptions.EnsembleSize"/>), Score is the mean of the members' scores,
/// each multiplied by <see cref="MemberWeights"/> (the members' mean training score over its own), so it stays in the units
/// of one member's score and no member dominates. With one member it is exactly that member's score.
/// The threshold can change at any time (<see cref="Threshold"/>, <see cref="SetThresholdByContamination"/>) without
/// retraining: Score never depends on it. <c>mlContext.AnomalyDetection.ChangeModelThreshold(detector, threshold)</c>, as
/// for ML.NET's own detectors, leaves this transformer as it is and returns another one over the same
/// <see cref="Model"/> (<see cref="WithThreshold"/>). As ML.NET's prediction transformers, it is an
/// <see cref="ISingleFeaturePredictionTransformer{TModel}"/> of its <see cref="AutoencoderAnomalyModel"/>.
/// Not <see cref="IDisposable"/> (see <see cref="BatchTransformer"/>); <see cref="BatchTransformer.Release"/> frees every
/// member's network at once, for every transformer sharing the model (<c>Model.Dispose()</c> of each of
/// <see cref="Members"/>, or <c>Autoencoder.Model.Dispose()</c> with one member, does the same).
/// </remarks>
public sealed class AutoencoderAnomalyTransformer : BatchTransformer, ISingleFeaturePredictionTransformer<AutoencoderAnomalyModel>
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencodersAnomaly";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer (signatures are 8 characters for the model, at most 24 for the loader).</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(AutoencoderAnomalyTransformer), "MLAEANOM", LoaderSignature, "AnomalyDetector.bin", "anomaly detector",
        (t, s) => ((AutoencoderAnomalyTransformer)t).Save(s), s => Load(s));

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    /// <summary>
    /// The anomaly detector file as a kind of <see cref="ArtifactContainer"/>: version 4 written (version 3 and the
    /// code-distance score's reference codes and statistics); version 3 (no code-distance score), and versions 1 (one
    /// member) and 2 (an ensemble), fields one by one, read.
    /// </summary>
    internal static readonly ArtifactKind Kind = new("anomaly detector", "MLAEANOM"u8.ToArray(), 4,
        new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.Fields, [2] = ArtifactLayout.Fields, [3] = ArtifactLayout.Sectioned });

    private readonly AutoencoderAnomalyOptions options;
    private readonly Mapper mapper;
    private float threshold;

    internal AutoencoderAnomalyTransformer(IReadOnlyList<AutoencoderTransformer> members, float[] weights, AutoencoderAnomalyOptions options, float[] trainingScores, float threshold,
        CodeDistance[]? codeParts = null)
        : this(new AutoencoderAnomalyModel(members, weights, options.ScoreKind, trainingScores, codeParts), options, threshold)
    {
    }

    private AutoencoderAnomalyTransformer(AutoencoderAnomalyModel model, AutoencoderAnomalyOptions options, float threshold)
    {
        Model = model;
        this.options = options.Clone();
        this.options.Autoencoder = Autoencoder.Options;
        this.options.Autoencoder.Progress = null;
        this.threshold = threshold;
        mapper = new Mapper(this);
    }

    /// <summary>
    /// The trained members, their weights, the score kind and the training scores: what scores, without the threshold.
    /// Shared by the transformers <see cref="WithThreshold"/> (<c>ChangeModelThreshold</c>) returns.
    /// </summary>
    public AutoencoderAnomalyModel Model { get; }

    /// <summary>
    /// A transformer over the same <see cref="Model"/> (no copy, no retraining) whose PredictedLabel uses
    /// <paramref name="threshold"/>; this one keeps its own. <c>mlContext.AnomalyDetection.ChangeModelThreshold</c> calls it.
    /// Both share the members' native memory: <see cref="BatchTransformer.Release"/> of either frees it for both.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException">The model was released.</exception>
    public AutoencoderAnomalyTransformer WithThreshold(float threshold)
    {
        if (!float.IsFinite(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "Threshold must be finite.");
        Model.Lifetime.ThrowIfReleased();
        return new AutoencoderAnomalyTransformer(Model, options, threshold);
    }

    /// <summary>The first (or only) trained autoencoder (encode, reconstruct, history).</summary>
    public AutoencoderTransformer Autoencoder => Model.Autoencoder;

    /// <summary>Every trained autoencoder of the ensemble, first = <see cref="Autoencoder"/> (one unless <see cref="AutoencoderAnomalyOptions.EnsembleSize"/> asked for more).</summary>
    public IReadOnlyList<AutoencoderTransformer> Members => Model.Members;

    /// <summary>
    /// Each member's factor in Score: the members' mean training score divided by this member's (all 1 for one member,
    /// or when a member reconstructs its training rows exactly).
    /// </summary>
    public IReadOnlyList<float> MemberWeights => Model.MemberWeights;

    /// <summary>The weights that rescale each member's score to the members' common mean training score (all 1 when a mean is not positive and finite).</summary>
    internal static float[] WeightsFromMeans(double[] meanTrainingScores)
    {
        var w = new float[meanTrainingScores.Length];
        bool usable = meanTrainingScores.All(m => m > 0 && double.IsFinite(m));
        double common = usable ? meanTrainingScores.Average() : 0;
        for (int i = 0; i < w.Length; i++) w[i] = usable ? (float)(common / meanTrainingScores[i]) : 1f;
        return w;
    }

    /// <summary>What the score is.</summary>
    public AnomalyScoreKind ScoreKind => Model.ScoreKind;

    /// <summary>Rows scoring above this are anomalies (PredictedLabel true). Settable; Score does not change with it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or infinite (the threshold is left as it was).</exception>
    public float Threshold
    {
        get => threshold;
        set => threshold = float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(Threshold), value, "Threshold must be finite.");
    }

    /// <summary>The scores of the training rows (in training order), from which contamination thresholds are taken.</summary>
    public float[] TrainingScores => Model.TrainingScores;

    /// <summary>The feature column read.</summary>
    public string FeatureColumnName => options.FeatureColumnName;

    /// <summary>A known-size vector of <see cref="float"/> with <see cref="InputSize"/> values.</summary>
    public DataViewType FeatureColumnType => new VectorDataViewType(NumberDataViewType.Single, InputSize);

    /// <summary>Values per input row.</summary>
    public int InputSize => Model.InputSize;

    /// <summary>
    /// Sets <see cref="Threshold"/> so that round(<paramref name="fraction"/> x training rows) training rows score above it
    /// (fewer when scores tie at the threshold): 0 flags none of them; a fraction that rounds to every row puts the
    /// threshold just below the lowest training score.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is outside [0, 1) or NaN; the threshold is left as it was.</exception>
    public void SetThresholdByContamination(double fraction) => threshold = Model.ThresholdForContamination(fraction);

    /// <summary>Anomaly scores of rows (row-major, <see cref="InputSize"/> values each).</summary>
    /// <exception cref="ArgumentException"><paramref name="rows"/> does not hold <paramref name="count"/> rows.</exception>
    /// <exception cref="AutoencoderDataException">A value is NaN or infinite (names the row, the index and the value), as Transform reports it.</exception>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="BatchTransformer.Release"/>).</exception>
    public float[] Score(ReadOnlySpan<float> rows, int count) => Model.Score(rows, count, FeatureColumnName);

    /// <summary>The threshold above which round(fraction x n) of <paramref name="scores"/> lie.</summary>
    internal static float ContaminationThreshold(float[] scores, double fraction)
    {
        if (!(fraction >= 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The contamination fraction must be in [0, 1).");
        if (scores.Length == 0) throw new InvalidOperationException("There are no training scores to take a threshold from.");
        var sorted = (float[])scores.Clone();
        Array.Sort(sorted);
        int flagged = (int)Math.Round(fraction * sorted.Length);
        // Every row flagged (a fraction close to 1, or few rows): just below the lowest score, so all of them lie above it.
        // The lowest finite float has nothing below it that is finite; a row scoring exactly that stays unflagged.
        if (flagged >= sorted.Length) return sorted[0] > -float.MaxValue ? MathF.BitDecrement(sorted[0]) : sorted[0];
        // The (flagged + 1)-th largest score: exactly `flagged` rows lie above it unless scores tie there.
        return sorted[sorted.Length - 1 - flagged];
    }

    /// <summary>
    /// Writes the detector to a stream, in the library's container (magic "MLAEANOM", version 4): a JSON header (column
    /// names, score kind, contamination, threshold, counts; for the code-distance score its neighbours, each member's
    /// reference-code count and statistics), then sections holding the training scores (float32), the members' weights
    /// (float32), each member's own model file and, for the code-distance score, each member's reference codes
    /// (float32), then a SHA-256 of all before it.
    /// </summary>
    /// <exception cref="InvalidOperationException">A value the loader refuses (a non-finite threshold or weight); nothing is written.</exception>
    public override void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        // Load refuses these: never write a file that cannot be read back.
        if (!float.IsFinite(threshold)) throw new InvalidOperationException($"The anomaly detector cannot be saved: its threshold {threshold} is not finite.");
        var header = new FileHeader
        {
            FeatureColumnName = options.FeatureColumnName, ScoreColumnName = options.ScoreColumnName,
            PredictedLabelColumnName = options.PredictedLabelColumnName, FeatureErrorsColumnName = options.FeatureErrorsColumnName,
            ScoreKind = options.ScoreKind, Contamination = options.Contamination, Threshold = threshold,
            TrainingScoreCount = Model.TrainingScoresView.Length, MemberCount = Model.Members.Count,
        };
        var codeParts = Model.CodeParts;
        if (codeParts is not null)
        {
            header.CodeNeighbors = codeParts[0].Neighbors;
            header.CodeReferenceRows = codeParts.Select(p => p.Rows).ToArray();
            header.CodeStatistics = codeParts.SelectMany(p => p.Statistics.ToArray()).ToArray();
        }
        var sections = new List<ReadOnlyMemory<byte>> { ArtifactContainer.Bytes(Model.TrainingScoresView), ArtifactContainer.Bytes(Model.MemberWeights.ToArray()) };
        sections.AddRange(Model.Members.Select(TransformerFile.AutoencoderSection));
        if (codeParts is not null) sections.AddRange(codeParts.Select(p => ArtifactContainer.Bytes(p.Codes.ToArray())));
        ArtifactContainer.Write(stream, Kind, ArtifactContainer.WriteHeader(header), sections);
    }

    /// <summary>Loads a detector written by <see cref="BatchTransformer.Save(string)"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not an anomaly detector.</exception>
    public static AutoencoderAnomalyTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.LoadFile(path, Kind, stream => Load(stream, device));

    /// <summary>Loads a detector written by <see cref="Save(Stream)"/> (this version or an earlier one).</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not an anomaly detector.</exception>
    public static AutoencoderAnomalyTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.Load(ArtifactContainer.ReadAll(stream, Kind.Name), Kind, r => LoadFields(r, device), a => LoadContainer(a, device));

    private static AutoencoderAnomalyTransformer LoadContainer(Artifact artifact, ComputeDevice device)
    {
        var h = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind);
        var options = new AutoencoderAnomalyOptions
        {
            FeatureColumnName = TransformerFile.Name(h.FeatureColumnName, nameof(h.FeatureColumnName), Kind.Name),
            ScoreColumnName = TransformerFile.Name(h.ScoreColumnName, nameof(h.ScoreColumnName), Kind.Name),
            PredictedLabelColumnName = TransformerFile.Name(h.PredictedLabelColumnName, nameof(h.PredictedLabelColumnName), Kind.Name),
            FeatureErrorsColumnName = h.FeatureErrorsColumnName is null ? null : TransformerFile.Name(h.FeatureErrorsColumnName, nameof(h.FeatureErrorsColumnName), Kind.Name),
            ScoreKind = h.ScoreKind,
            Contamination = h.Contamination,
            CodeNeighbors = h.CodeNeighbors ?? AutoencoderAnomalyOptions.Defaults.CodeNeighbors,
        };
        CheckHeader(options, h.TrainingScoreCount, h.Threshold);
        if (!(h.Contamination >= 0 && h.Contamination < 1)) // what Fit accepts, so what Save writes
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header: Contamination {h.Contamination} is not in [0, 1).");
        if (h.MemberCount < 1 || h.MemberCount > ArtifactContainer.MaxSections - 2)
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header ({h.MemberCount} ensemble members; 1 to {ArtifactContainer.MaxSections - 2} expected).");
        bool codeDistance = options.ScoreKind == AnomalyScoreKind.ReconstructionAndCodeDistance;
        if (codeDistance && artifact.Version < 4)
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header: score kind {options.ScoreKind} in a version {artifact.Version} file (it came with version 4).");
        if (!codeDistance && (h.CodeNeighbors is not null || h.CodeReferenceRows is not null || h.CodeStatistics is not null))
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header: code-distance fields for score kind {options.ScoreKind}.");
        if (codeDistance && (h.CodeNeighbors is not { } neighbors || h.CodeReferenceRows?.Length != h.MemberCount || h.CodeStatistics?.Length != 4 * h.MemberCount))
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header: the code-distance score needs CodeNeighbors, {h.MemberCount} CodeReferenceRows and {4 * h.MemberCount} CodeStatistics.");
        var sections = artifact.Expect(2 + h.MemberCount * (codeDistance ? 2 : 1), Kind.Name);
        var scores = ArtifactContainer.Values<float>(sections[0], h.TrainingScoreCount, "the anomaly detector's training-score section");
        var weights = ArtifactContainer.Values<float>(sections[1], h.MemberCount, "the anomaly detector's member-weight section");
        Func<AutoencoderTransformer, int, CodeDistance>? codePart = !codeDistance ? null : (member, m) =>
        {
            string what = $"anomaly detector (member {m}'s reference codes)";
            long values = (long)h.CodeReferenceRows![m] * member.Model.LatentDimension;
            if (h.CodeReferenceRows[m] < 1 || values > int.MaxValue)
                throw new AutoencoderModelFormatException($"Invalid {what}: {h.CodeReferenceRows[m]} reference codes.");
            var codes = ArtifactContainer.Values<float>(sections[2 + h.MemberCount + m], (int)values, $"the {what} section");
            return CodeDistance.Load(member, codes, h.CodeNeighbors!.Value, CodeDistance.MemberStatistics.From(h.CodeStatistics.AsSpan(4 * m, 4), what), what);
        };
        return Create(options, scores, h.Threshold, weights, m => TransformerFile.LoadAutoencoder(sections[2 + m], device, $"anomaly detector (member {m})"), codePart);
    }

    private static void CheckHeader(AutoencoderAnomalyOptions options, int count, float threshold)
    {
        if (count < 0 || !Enum.IsDefined(options.ScoreKind) || !float.IsFinite(threshold))
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header ({count} training scores, score kind {options.ScoreKind}, threshold {threshold}).");
    }

    /// <summary>
    /// The detector from checked parts; <paramref name="member"/> loads member m, <paramref name="codePart"/> (the
    /// code-distance score) its reference codes (all are disposed when one fails).
    /// </summary>
    private static AutoencoderAnomalyTransformer Create(AutoencoderAnomalyOptions options, float[] scores, float threshold, float[] weights, Func<int, AutoencoderTransformer> member,
        Func<AutoencoderTransformer, int, CodeDistance>? codePart = null)
    {
        if (weights.Any(w => !float.IsFinite(w) || w <= 0)) throw new AutoencoderModelFormatException("Invalid anomaly detector: an ensemble weight is not positive and finite.");
        var members = new List<AutoencoderTransformer>();
        var parts = new List<CodeDistance>();
        try
        {
            for (int m = 0; m < weights.Length; m++)
            {
                members.Add(member(m));
                if (members[m].InputSize != members[0].InputSize)
                    throw new AutoencoderModelFormatException($"Invalid anomaly detector: member {m} reads {members[m].InputSize} values, member 0 {members[0].InputSize}.");
                if (codePart is not null) parts.Add(codePart(members[m], m));
            }
            return new AutoencoderAnomalyTransformer(members, weights, options, scores, threshold, codePart is null ? null : parts.ToArray());
        }
        catch
        {
            foreach (var m in members) m.Model.Dispose();
            foreach (var p in parts) p.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Versions 1 and 2: format version, four column names, score kind, contamination, threshold, training scores, then
    /// (version 2) the member count and weights, then each member's model file length first, field by field.
    /// </summary>
    private static AutoencoderAnomalyTransformer LoadFields(BinaryReader r, ComputeDevice device)
    {
        int version = r.ReadInt32();
        var options = new AutoencoderAnomalyOptions
        {
            FeatureColumnName = TransformerFile.ReadName(r),
            ScoreColumnName = TransformerFile.ReadName(r),
            PredictedLabelColumnName = TransformerFile.ReadName(r),
            FeatureErrorsColumnName = TransformerFile.ReadName(r) is { Length: > 0 } name ? name : null,
            ScoreKind = (AnomalyScoreKind)r.ReadInt32(),
            Contamination = r.ReadDouble(),
        };
        float threshold = r.ReadSingle();
        int count = r.ReadInt32();
        CheckHeader(options, count, threshold);
        if (options.ScoreKind == AnomalyScoreKind.ReconstructionAndCodeDistance)
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header: score kind {options.ScoreKind} in a version {version} file (it came with version 4).");
        if (4L * count > r.BaseStream.Length - r.BaseStream.Position)
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header ({count} training scores, score kind {options.ScoreKind}, threshold {threshold}).");
        var scores = TransformerFile.ReadArray<float>(r, count, "anomaly detector");
        // Version 1 held one autoencoder and no weights.
        int memberCount = version == 1 ? 1 : r.ReadInt32();
        if (memberCount < 1 || 4L * memberCount > r.BaseStream.Length - r.BaseStream.Position)
            throw new AutoencoderModelFormatException($"Invalid anomaly detector header ({memberCount} ensemble members).");
        var weights = version == 1 ? [1f] : TransformerFile.ReadArray<float>(r, memberCount, "anomaly detector");
        return Create(options, scores, threshold, weights, m => TransformerFile.ReadAutoencoder(r, device, "anomaly detector", last: m == memberCount - 1));
    }

    /// <summary>The JSON header of versions 3 and 4 (the code-distance fields: version 4, that score only).</summary>
    private sealed class FileHeader
    {
        public string? FeatureColumnName { get; set; }
        public string? ScoreColumnName { get; set; }
        public string? PredictedLabelColumnName { get; set; }
        public string? FeatureErrorsColumnName { get; set; }
        public AnomalyScoreKind ScoreKind { get; set; }
        public double Contamination { get; set; }
        public float Threshold { get; set; }
        public int TrainingScoreCount { get; set; }
        public int MemberCount { get; set; }
        public int? CodeNeighbors { get; set; }
        public int[]? CodeReferenceRows { get; set; }
        public float[]? CodeStatistics { get; set; }
    }

    private protected override IBatchMapper BatchMapper => mapper;

    /// <summary>A body that reads images needs images of its shape and pixel order.</summary>
    private protected override void CheckInput(DataViewSchema schema) => VectorColumn.CheckImageInput(schema, FeatureColumnName, Autoencoder.OptionsView.Body);

    /// <summary>Maps feature batches to scores, labels and per-feature errors.</summary>
    private sealed class Mapper : IBatchMapper
    {
        private readonly AutoencoderAnomalyTransformer parent;

        public Mapper(AutoencoderAnomalyTransformer parent)
        {
            this.parent = parent;
            var columns = new List<MappedColumn>
            {
                new(parent.options.ScoreColumnName, NumberDataViewType.Single),
                new(parent.options.PredictedLabelColumnName, BooleanDataViewType.Instance),
            };
            if (parent.options.FeatureErrorsColumnName is { } errors)
                columns.Add(new MappedColumn(errors, new VectorDataViewType(NumberDataViewType.Single, parent.InputSize)));
            Columns = columns;
        }

        public string InputColumnName => parent.options.FeatureColumnName;

        public int InputSize => parent.InputSize;

        public int BatchSize => parent.Autoencoder.TransformBatchSize;

        public string Consumer => "the anomaly detector";

        // One lifetime per model: every transformer over it (ChangeModelThreshold) waits for and sees the same release.
        public NativeLifetime Lifetime => parent.Model.Lifetime;

        public IReadOnlyList<MappedColumn> Columns { get; }

        public void Map(ReadOnlySpan<float> inputs, int rows, long firstRow, MappedBatch batch)
        {
            var scores = batch.IsActive(0) || batch.IsActive(1) ? batch.Floats(0) : default;
            var work = batch.Scratch(rows + parent.Model.WorkLength(rows)).AsSpan(); // kept by the cursor's batch: no array per batch
            var scratch = scores.IsEmpty ? work[..rows] : scores[..rows];
            var errors = Columns.Count > 2 && batch.IsActive(2) ? batch.Floats(2)[..(rows * InputSize)] : default;
            parent.Model.ScoreBatch(inputs, rows, scratch, errors, work[rows..]);
            if (batch.IsActive(1))
            {
                var labels = batch.Bools(1);
                float t = parent.threshold;
                for (int r = 0; r < rows; r++) labels[r] = scratch[r] > t;
            }
        }
    }
}
