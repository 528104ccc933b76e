using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Neighbors;

/// <summary>
/// A fitted k-nearest-neighbours classifier: the training rows (on the CPU or a GPU), their classes and the voting rule.
/// Usable directly on arrays (<see cref="Predict"/>, <see cref="FindNeighbors"/>) or through
/// <see cref="KNearestNeighborsPredictionTransformer"/> in a pipeline.
/// </summary>
/// <remarks>
/// <para>Tie-breaking: when classes receive equal votes, the class with the smallest key wins (the first in key order;
/// with <c>MapValueToKey(..., keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)</c> that is the smallest
/// label, as in scikit-learn). When several training rows lie at exactly the distance of the k-th nearest, which of them
/// is used is not specified (as in scikit-learn); it is the same from run to run on the same data and device.</para>
/// <para>Holds native memory: <see cref="Dispose"/> frees it at once (otherwise the garbage collector does).</para>
/// </remarks>
public sealed class KNearestNeighborsModel : IDisposable
{
    /// <summary>The k-NN model file as a kind of <see cref="ArtifactContainer"/>: version 2 written, version 1 (fields one by one) read.</summary>
    internal static readonly ArtifactKind Kind = new("k-NN model", "MLAEKNNM"u8.ToArray(), 2, new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.Fields });

    private readonly NearestNeighborIndex index;
    private readonly int[] labels;

    internal KNearestNeighborsModel(NearestNeighborIndex index, int[] labels, int classCount, int k, NeighborWeighting weighting, KeyValueNames? classes, long skippedRows)
    {
        this.index = index;
        this.labels = labels;
        ClassCount = classCount;
        NumberOfNeighbors = k;
        Weighting = weighting;
        Classes = classes;
        SkippedRows = skippedRows;
    }

    /// <summary>Neighbours that vote for each prediction.</summary>
    public int NumberOfNeighbors { get; }

    /// <summary>The distance.</summary>
    public NeighborMetric Metric => index.Metric;

    /// <summary>The voting rule.</summary>
    public NeighborWeighting Weighting { get; }

    /// <summary>Number of classes (the label column's key count); the Score vector has this many slots.</summary>
    public int ClassCount { get; }

    /// <summary>Values per feature vector.</summary>
    public int FeatureCount => index.Features;

    /// <summary>Training rows held.</summary>
    public int TrainingRowCount => index.Count;

    /// <summary>Training rows left out because their label was missing (key 0).</summary>
    public long SkippedRows { get; }

    /// <summary>The label's key values as text, in key order, when the label column had them; otherwise null.</summary>
    public IReadOnlyList<string>? ClassNames => Classes?.Names;

    internal KeyValueNames? Classes { get; }

    /// <summary>Where the training rows live.</summary>
    public ComputeDevice Device => TorchRuntime.ToComputeDevice(index.Device);

    /// <summary>
    /// The <see cref="NumberOfNeighbors"/> nearest training rows of each of <paramref name="rows"/> rows (row-major in
    /// <paramref name="features"/>), nearest first: distances and zero-based training-row positions, row-major.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="features"/> does not hold <paramref name="rows"/> rows.</exception>
    /// <exception cref="Data.AutoencoderDataException">A value is NaN or infinite (names the row, the index and the value).</exception>
    public (float[] Distances, int[] TrainingRows) FindNeighbors(ReadOnlySpan<float> features, int rows) => Neighbors(features, rows, null);

    private (float[] Distances, int[] TrainingRows) Neighbors(ReadOnlySpan<float> features, int rows, NearestNeighborIndex.QueryWorkspace? workspace)
    {
        CheckRows(features, rows);
        using var threads = Threads > 0 ? TorchThreads.Use(Threads) : null;
        return index.Query(features, rows, NumberOfNeighbors, workspace: workspace);
    }

    /// <summary>A work area a cursor keeps between its batches (see <see cref="NearestNeighborIndex.QueryWorkspace"/>).</summary>
    internal static NearestNeighborIndex.QueryWorkspace CreateWorkspace() => new();

    /// <summary>
    /// Threads for each neighbour search (managed loops and TorchSharp's process-wide count, set for the search and
    /// restored after it); 0 leaves both at their defaults. Taken from the trainer's options; not saved (0 after Load).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 0 or above the per-core limit of this machine.</exception>
    public int Threads
    {
        get => threads;
        set
        {
            TorchThreads.Check(value, nameof(Threads), Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore);
            threads = value;
        }
    }

    private int threads;

    /// <summary>
    /// Class scores (vote shares summing to 1, <see cref="ClassCount"/> per row, row-major) and predicted classes as
    /// zero-based class indices (key − 1) for <paramref name="rows"/> rows of <paramref name="features"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="features"/> does not hold <paramref name="rows"/> rows.</exception>
    /// <exception cref="Data.AutoencoderDataException">A value is NaN or infinite (names the row, the index and the value).</exception>
    public (float[] Scores, int[] Classes) Predict(ReadOnlySpan<float> features, int rows)
    {
        var scores = new float[(long)rows * ClassCount];
        var keys = new uint[rows];
        Score(features, rows, scores, keys);
        return (scores, keys.Select(k => (int)k - 1).ToArray());
    }

    internal void Score(ReadOnlySpan<float> features, int rows, Span<float> scores, Span<uint> predictedKeys, NearestNeighborIndex.QueryWorkspace? workspace = null)
    {
        var (distances, neighbors) = Neighbors(features, rows, workspace);
        int k = NumberOfNeighbors;
        float[]? scratch = scores.IsEmpty ? new float[ClassCount] : null;
        for (int r = 0; r < rows; r++)
        {
            Span<float> votes = scratch ?? scores.Slice(r * ClassCount, ClassCount);
            Vote(distances.AsSpan(r * k, k), neighbors.AsSpan(r * k, k), votes);
            if (!predictedKeys.IsEmpty) predictedKeys[r] = (uint)ArgMax(votes) + 1;
        }
    }

    /// <summary>Vote shares of one row's neighbours (see <see cref="NeighborWeighting"/>), normalised to sum to 1.</summary>
    private void Vote(ReadOnlySpan<float> distances, ReadOnlySpan<int> neighbors, Span<float> votes)
    {
        votes.Clear();
        bool exact = Weighting == NeighborWeighting.Distance && distances.IndexOf(0f) >= 0;
        double total = 0;
        for (int j = 0; j < neighbors.Length; j++)
        {
            double w = Weighting == NeighborWeighting.Uniform ? 1 : exact ? (distances[j] == 0 ? 1 : 0) : 1.0 / distances[j];
            votes[labels[neighbors[j]]] += (float)w;
            total += w;
        }
        for (int c = 0; c < votes.Length; c++) votes[c] = (float)(votes[c] / total);
    }

    /// <summary>Position of the largest value; the first one on ties.</summary>
    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int c = 1; c < values.Length; c++)
            if (values[c] > values[best]) best = c;
        return best;
    }

    private void CheckRows(ReadOnlySpan<float> features, int rows)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "Expected a non-negative row count.");
        if (features.Length != (long)rows * FeatureCount)
            throw new ArgumentException($"Expected {rows} rows x {FeatureCount} features = {(long)rows * FeatureCount} values, got {features.Length}.", nameof(features));
        // A NaN distance would otherwise vote like any other (equal shares, class 0): refused as Transform refuses it.
        Pipeline.VectorColumn.CheckFinite(features, FeatureCount, nameof(features), nameof(features), "the k-NN classifier");
    }

    /// <summary>Writes the model (options, class names, labels, training rows) to a file, atomically.</summary>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="path"/>, the reason and keeps the original as the inner exception); a file already there is left as it was.</exception>
    public void Save(string path) => AtomicFile.Write(path, Save);

    /// <summary>
    /// Writes the model to a stream, in the library's container (<c>ArtifactContainer</c>, magic "MLAEKNNM", version 2):
    /// a JSON header (k, metric, weighting, classes, features, rows, skipped rows), then sections holding the class
    /// names, the labels (int32) and the training rows (float32), then a SHA-256 of all before it.
    /// </summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new FileHeader
        {
            NumberOfNeighbors = NumberOfNeighbors, Metric = Metric, Weighting = Weighting, ClassCount = ClassCount,
            FeatureCount = FeatureCount, TrainingRowCount = TrainingRowCount, SkippedRows = SkippedRows,
        };
        ArtifactContainer.Write(stream, Kind, ArtifactContainer.WriteHeader(header),
            [TransformerFile.NamesSection(Classes), ArtifactContainer.Bytes(labels), ArtifactContainer.Bytes(index.CopyRows())]);
    }

    /// <summary>Loads a model written by <see cref="Save(string)"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not a k-NN model.</exception>
    public static KNearestNeighborsModel Load(string path, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.LoadFile(path, Kind, stream => Load(stream, device));

    /// <summary>Loads a model written by <see cref="Save(Stream)"/> (this version or the first) onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a k-NN model.</exception>
    public static KNearestNeighborsModel Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) =>
        Load(ArtifactContainer.ReadAll(stream, Kind.Name), device);

    internal static KNearestNeighborsModel Load(byte[] bytes, ComputeDevice device) =>
        TransformerFile.Load(bytes, Kind, r => LoadFields(r, device), a => LoadContainer(a, bytes.Length, device));

    private static KNearestNeighborsModel LoadContainer(Artifact artifact, long fileBytes, ComputeDevice device)
    {
        var h = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind);
        var sections = artifact.Expect(3, Kind.Name);
        Check(h.NumberOfNeighbors, h.Metric, h.Weighting, h.ClassCount, h.FeatureCount, h.TrainingRowCount, h.SkippedRows);
        if (h.ClassCount > fileBytes) // a Score vector has one slot per class: no more classes than the file has bytes (as version 1)
            throw new AutoencoderModelFormatException($"The k-NN model header claims {h.ClassCount} classes; the file is too short for them.");
        var names = TransformerFile.ReadNames(sections[0], h.ClassCount, Kind.Name);
        var labels = ArtifactContainer.Values<int>(sections[1], h.TrainingRowCount, "the k-NN model's label section");
        var values = ArtifactContainer.Values<float>(sections[2], (long)h.TrainingRowCount * h.FeatureCount, "the k-NN model's training-row section");
        return Create(values, labels, names, h.NumberOfNeighbors, h.Metric, h.Weighting, h.ClassCount, h.FeatureCount, h.TrainingRowCount, h.SkippedRows, device);
    }

    private static void Check(int k, NeighborMetric metric, NeighborWeighting weighting, int classes, int features, int rows, long skipped)
    {
        if (!Enum.IsDefined(metric) || !Enum.IsDefined(weighting) || classes < 1 || features < 1 || rows < 1 || k < 1 || k > rows || skipped < 0)
            throw new AutoencoderModelFormatException($"Invalid k-NN model header (k {k}, metric {metric}, weighting {weighting}, {classes} classes, {features} features, {rows} rows).");
    }

    private static KNearestNeighborsModel Create(float[] values, int[] labels, KeyValueNames? names, int k, NeighborMetric metric, NeighborWeighting weighting,
        int classes, int features, int rows, long skipped, ComputeDevice device)
    {
        for (int i = 0; i < rows; i++)
            if ((uint)labels[i] >= (uint)classes) throw new AutoencoderModelFormatException($"Training row {i} of the k-NN model has class {labels[i]}, outside 0..{classes - 1}.");
        int bad = Pipeline.VectorColumn.IndexOfNonFinite(values);
        if (bad >= 0) throw new AutoencoderModelFormatException($"Training row {bad / features} of the k-NN model holds a non-finite value.");
        var index = new NearestNeighborIndex(values, rows, features, metric, TorchRuntime.Resolve(device), prepared: true);
        return new KNearestNeighborsModel(index, labels, classes, k, weighting, names, skipped);
    }

    /// <summary>Version 1: format version, k, metric, weighting, classes, features, rows, skipped rows, class names, labels, rows, field by field.</summary>
    private static KNearestNeighborsModel LoadFields(BinaryReader r, ComputeDevice device)
    {
        r.ReadInt32(); // the version, checked by the container
        int k = r.ReadInt32();
        var metric = (NeighborMetric)r.ReadInt32();
        var weighting = (NeighborWeighting)r.ReadInt32();
        int classes = r.ReadInt32(), features = r.ReadInt32(), rows = r.ReadInt32();
        long skipped = r.ReadInt64();
        Check(k, metric, weighting, classes, features, rows, skipped);
        long remaining = r.BaseStream.Length - r.BaseStream.Position;
        if ((long)classes > remaining || (Int128)rows * (4 + 4L * features) > remaining) // up to 2^64: Int128 cannot wrap
            throw new AutoencoderModelFormatException($"The k-NN model header claims {rows} rows of {features} features and {classes} classes; the file is too short for them.");
        var names = KeyValueNames.Read(r, classes);
        var labels = TransformerFile.ReadArray<int>(r, rows, "k-NN model");
        var values = TransformerFile.ReadArray<float>(r, (long)rows * features, "k-NN model");
        return Create(values, labels, names, k, metric, weighting, classes, features, rows, skipped, device);
    }

    /// <summary>The JSON header of version 2.</summary>
    private sealed class FileHeader
    {
        public int NumberOfNeighbors { get; set; }
        public NeighborMetric Metric { get; set; }
        public NeighborWeighting Weighting { get; set; }
        public int ClassCount { get; set; }
        public int FeatureCount { get; set; }
        public int TrainingRowCount { get; set; }
        public long SkippedRows { get; set; }
    }

    /// <summary>Frees the training rows held in native memory (the same as the transformer's <c>Release()</c>).</summary>
    public void Dispose() => index.Dispose();

    /// <summary>True once <see cref="Dispose"/> freed the training rows.</summary>
    internal bool IsDisposed => index.IsDisposed;
}
