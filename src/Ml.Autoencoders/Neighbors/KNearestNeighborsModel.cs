using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Runtime;

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
    private static readonly byte[] Magic = "MLAEKNNM"u8.ToArray();
    private const int FormatVersion = 1;

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
    public (float[] Distances, int[] TrainingRows) FindNeighbors(ReadOnlySpan<float> features, int rows)
    {
        CheckRows(features, rows);
        using var threads = Threads > 0 ? TorchThreads.Use(Threads) : null;
        return index.Query(features, rows, NumberOfNeighbors);
    }

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

    internal void Score(ReadOnlySpan<float> features, int rows, Span<float> scores, Span<uint> predictedKeys)
    {
        var (distances, neighbors) = FindNeighbors(features, rows);
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
    public void Save(string path) => TransformerFile.Save(path, Save);

    /// <summary>
    /// Writes the model to a stream. Layout (little-endian): magic "MLAEKNNM", format version, k, metric, weighting,
    /// classes, features, rows, skipped rows, class names, labels (int32), rows (float32), then a SHA-256 of all before it.
    /// </summary>
    public void Save(Stream stream) => TransformerFile.WriteChecked(stream, Magic, w =>
    {
        w.Write(FormatVersion);
        w.Write(NumberOfNeighbors);
        w.Write((int)Metric);
        w.Write((int)Weighting);
        w.Write(ClassCount);
        w.Write(FeatureCount);
        w.Write(TrainingRowCount);
        w.Write(SkippedRows);
        KeyValueNames.Write(w, Classes);
        foreach (int label in labels) w.Write(label);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(index.CopyRows().AsSpan()));
    });

    /// <summary>Loads a model written by <see cref="Save(string)"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file is damaged, truncated or not a k-NN model.</exception>
    public static KNearestNeighborsModel Load(string path, ComputeDevice device = ComputeDevice.Auto)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, device);
    }

    /// <summary>Loads a model written by <see cref="Save(Stream)"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a k-NN model.</exception>
    public static KNearestNeighborsModel Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.ReadChecked(stream, Magic, "k-NN model", r =>
        {
            int version = r.ReadInt32();
            if (version != FormatVersion) throw new AutoencoderModelFormatException($"k-NN model format version {version} is not supported (this library reads {FormatVersion}).");
            int k = r.ReadInt32();
            var metric = (NeighborMetric)r.ReadInt32();
            var weighting = (NeighborWeighting)r.ReadInt32();
            int classes = r.ReadInt32(), features = r.ReadInt32(), rows = r.ReadInt32();
            long skipped = r.ReadInt64();
            if (!Enum.IsDefined(metric) || !Enum.IsDefined(weighting) || classes < 1 || features < 1 || rows < 1 || k < 1 || k > rows || skipped < 0)
                throw new AutoencoderModelFormatException($"Invalid k-NN model header (k {k}, metric {metric}, weighting {weighting}, {classes} classes, {features} features, {rows} rows).");
            long remaining = r.BaseStream.Length - r.BaseStream.Position;
            if ((long)classes > remaining || (Int128)rows * (4 + 4L * features) > remaining) // up to 2^64: Int128 cannot wrap
                throw new AutoencoderModelFormatException($"The k-NN model header claims {rows} rows of {features} features and {classes} classes; the file is too short for them.");
            var names = KeyValueNames.Read(r, classes);
            var labels = TransformerFile.ReadArray<int>(r, rows, "k-NN model");
            for (int i = 0; i < rows; i++)
                if ((uint)labels[i] >= (uint)classes) throw new AutoencoderModelFormatException($"Training row {i} of the k-NN model has class {labels[i]}, outside 0..{classes - 1}.");
            var values = TransformerFile.ReadArray<float>(r, (long)rows * features, "k-NN model");
            int bad = Pipeline.VectorColumn.IndexOfNonFinite(values);
            if (bad >= 0) throw new AutoencoderModelFormatException($"Training row {bad / features} of the k-NN model holds a non-finite value.");
            var index = new NearestNeighborIndex(values, rows, features, metric, TorchRuntime.Resolve(device), prepared: true);
            return new KNearestNeighborsModel(index, labels, classes, k, weighting, names, skipped);
        });

    /// <summary>Frees the training rows held in native memory (the same as the transformer's <c>Release()</c>).</summary>
    public void Dispose() => index.Dispose();

    /// <summary>True once <see cref="Dispose"/> freed the training rows.</summary>
    internal bool IsDisposed => index.IsDisposed;
}
