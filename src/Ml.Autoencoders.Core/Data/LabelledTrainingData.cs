using static TorchSharp.torch;

namespace Ml.Autoencoders.Data;

/// <summary>
/// Labelled rows held in managed memory (row-major features and a class index per row), served as labelled batches of a
/// chosen subset of the rows: what supervised fine-tuning trains and validates on. An epoch's shuffle orders the subset
/// by one <see cref="Random.Next()"/> draw per row (a stable sort on those keys), the order the fine-tuning classifier
/// has always used, so same-seed fits keep their results.
/// </summary>
internal sealed class LabelledTrainingData : ITrainingData
{
    private readonly float[] rows;
    private readonly int[] labels;
    private readonly int[] subset;

    /// <param name="rows">Features, row-major, <paramref name="featureCount"/> per row.</param>
    /// <param name="labels">The class index (0-based) of each row.</param>
    /// <param name="featureCount">Features per row.</param>
    /// <param name="subset">The rows this data serves, in its unshuffled order.</param>
    public LabelledTrainingData(float[] rows, int[] labels, int featureCount, int[] subset)
    {
        if (featureCount < 1 || rows.Length != (long)labels.Length * featureCount)
            throw new ArgumentException($"Expected {labels.Length} rows x {featureCount} features = {(long)labels.Length * featureCount} values, got {rows.Length}.", nameof(rows));
        foreach (int r in subset)
            if ((uint)r >= (uint)labels.Length) throw new ArgumentOutOfRangeException(nameof(subset), r, $"Row {r} is not one of the {labels.Length} rows.");
        this.rows = rows;
        this.labels = labels;
        this.subset = subset;
        FeatureCount = featureCount;
    }

    public int FeatureCount { get; }

    /// <summary>Rows served per epoch.</summary>
    public int Count => subset.Length;

    /// <summary>
    /// Splits all rows into training and validation: the rows in the order of one <see cref="Random.Next()"/> draw each,
    /// the first round(<paramref name="validationFraction"/> x rows) for validation (null when that is none), the rest
    /// for training. <paramref name="random"/> has drawn once per row afterwards (callers that shuffle go on drawing from it).
    /// </summary>
    public static (LabelledTrainingData Train, LabelledTrainingData? Validation) Split(float[] rows, int[] labels, int featureCount, double validationFraction, Random random)
    {
        int n = labels.Length;
        var order = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray();
        int validationRows = (int)Math.Round(validationFraction * n);
        var validation = validationRows > 0 ? new LabelledTrainingData(rows, labels, featureCount, order[..validationRows]) : null;
        return (new LabelledTrainingData(rows, labels, featureCount, order[validationRows..]), validation);
    }

    public IEnumerable<TrainingBatch> Batches(int batchSize, Random? shuffle, Device device, CancellationToken cancellation)
    {
        int d = FeatureCount;
        var order = shuffle is null ? subset : subset.OrderBy(_ => shuffle.Next()).ToArray();
        // No batch holds more rows than there are (a batch size above the row count is one batch of all rows).
        int batchRows = Math.Min(batchSize, Math.Max(1, order.Length));
        var features = new float[(long)batchRows * d];
        var classes = new long[batchRows];
        for (int start = 0; start < order.Length; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(batchSize, order.Length - start);
            for (int r = 0; r < count; r++)
            {
                int row = order[start + r];
                rows.AsSpan(row * d, d).CopyTo(features.AsSpan(r * d, d));
                classes[r] = labels[row];
            }
            yield return ToBatch(features, classes, count, d, device);
        }
    }

    private static TrainingBatch ToBatch(float[] features, long[] classes, int count, int d, Device device)
    {
        var x = Runtime.TensorSpans.FromSpan(features.AsSpan(0, count * d), count, d);
        var y = tensor(classes.AsSpan(0, count).ToArray(), ScalarType.Int64);
        if (device.type == TorchSharp.DeviceType.CPU) return new TrainingBatch(x, y);
        using (x)
        using (y)
            return new TrainingBatch(x.to(device), y.to(device));
    }
}
