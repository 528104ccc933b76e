using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Data;

/// <summary>
/// Training rows read afresh from their source every epoch, for data that should not be held in memory.
/// Shuffling, in two stages, both seeded per epoch:
/// 1. Block order: when the source can shuffle (ML.NET's <c>IDataView.CanShuffle</c>: ML.NET's binary
///    .idv loader reads its blocks in random order, in-memory views permute their rows), it is asked for a cursor in a
///    random order; other sources (text files, rows generated on the fly) are read in their own order.
/// 2. Shuffle buffer: the first <c>bufferRows</c> rows fill it, then each incoming row replaces a uniformly chosen
///    buffered row, which goes into the batch; at the end the buffer is drained in random order.
/// Memory: (bufferRows + 2 x batchSize) x features x 4 bytes (the buffer, the managed batch and its tensor) plus the
/// source cursor's own buffers, independent of the number of rows.
/// </summary>
internal sealed class StreamingTrainingData : ITrainingData
{
    private readonly Func<CancellationToken, Random?, IEnumerable<ReadOnlyMemory<float>>> readRows;
    private readonly int bufferRows;
    private readonly long rowsPerPass;
    private Buffers? spare; // the last pass's arrays, reused by the next pass (an epoch is one pass)

    /// <param name="featureCount">Features per row.</param>
    /// <param name="readRows">Reads the rows of one pass, in an order drawn from the random source when one is given and the source can shuffle; each item is one row (it may be reused after the next item).</param>
    /// <param name="bufferRows">Rows in the shuffle buffer.</param>
    /// <param name="rowsPerPass">Rows one pass yields (counted by the checking pass): neither a batch nor the buffer needs room for more.</param>
    public StreamingTrainingData(int featureCount, Func<CancellationToken, Random?, IEnumerable<ReadOnlyMemory<float>>> readRows, int bufferRows, long rowsPerPass = long.MaxValue)
    {
        FeatureCount = featureCount;
        this.readRows = readRows;
        this.rowsPerPass = Math.Max(1, rowsPerPass);
        // A buffer as large as the data holds all of it, exactly as a larger one would: the pass is the same.
        this.bufferRows = (int)Math.Max(1, Math.Min(bufferRows, this.rowsPerPass));
    }

    /// <summary>
    /// Floats a pass allocates for a batch of <paramref name="batchSize"/> rows and the shuffle buffer of
    /// <paramref name="bufferRows"/> rows, with <paramref name="rowsPerPass"/> rows of <paramref name="featureCount"/> values
    /// (neither holds more rows than a pass yields).
    /// </summary>
    internal static (long Batch, long Buffer) Floats(int featureCount, int batchSize, int bufferRows, long rowsPerPass) =>
        (Math.Min(batchSize, Math.Max(1, rowsPerPass)) * (long)featureCount, Math.Min(bufferRows, Math.Max(1, rowsPerPass)) * (long)featureCount);

    public int FeatureCount { get; }

    public IEnumerable<TrainingBatch> Batches(int batchSize, Random? shuffle, Device device, CancellationToken cancellation)
    {
        int d = FeatureCount;
        // A pass takes the spare arrays (a second pass running at the same time makes its own) and leaves them for the
        // next: the shuffle buffer is bufferRows x features floats (51 MB for 16,384 rows of 784), too much to allocate
        // afresh every epoch.
        var arrays = Interlocked.Exchange(ref spare, null) ?? new Buffers();
        // A batch never holds more rows than the pass has: a batch size above the row count gives one batch of all rows.
        int batchRows = (int)Math.Min(batchSize, rowsPerPass);
        var batch = arrays.Batch is { } b && b.Length == (long)batchRows * d ? b : arrays.Batch = new float[(long)batchRows * d];
        int inBatch = 0;
        float[]? buffer = shuffle is null ? null : arrays.Shuffle ??= new float[(long)bufferRows * d];
        int buffered = 0;
        var sourceOrder = shuffle is null ? null : new Random(shuffle.Next());
        try
        {
            foreach (var row in readRows(cancellation, sourceOrder))
            {
                var span = row.Span;
                if (buffer is null)
                {
                    span.CopyTo(batch.AsSpan(inBatch * d, d));
                }
                else if (buffered < bufferRows)
                {
                    span.CopyTo(buffer.AsSpan(buffered++ * d, d));
                    continue;
                }
                else
                {
                    int slot = shuffle!.Next(bufferRows);
                    buffer.AsSpan(slot * d, d).CopyTo(batch.AsSpan(inBatch * d, d));
                    span.CopyTo(buffer.AsSpan(slot * d, d));
                }
                if (++inBatch == batchRows)
                {
                    yield return ToTensor(batch, inBatch, d, device);
                    inBatch = 0;
                }
            }

            if (buffer is not null)
            {
                // Drain the buffer in random order.
                for (int remaining = buffered; remaining > 0; remaining--)
                {
                    int slot = shuffle!.Next(remaining);
                    buffer.AsSpan(slot * d, d).CopyTo(batch.AsSpan(inBatch * d, d));
                    buffer.AsSpan((remaining - 1) * d, d).CopyTo(buffer.AsSpan(slot * d, d));
                    if (++inBatch == batchRows)
                    {
                        yield return ToTensor(batch, inBatch, d, device);
                        inBatch = 0;
                    }
                }
            }
            if (inBatch > 0) yield return ToTensor(batch, inBatch, d, device);
        }
        finally
        {
            spare = arrays;
        }
    }

    /// <summary>The arrays of one pass.</summary>
    private sealed class Buffers
    {
        public float[]? Batch;
        public float[]? Shuffle;
    }

    private static Tensor ToTensor(float[] batch, int rows, int d, Device device)
    {
        var t = Ml.Autoencoders.Runtime.TensorSpans.FromSpan(new ReadOnlySpan<float>(batch, 0, rows * d), rows, d);
        if (device.type == DeviceType.CPU) return t;
        using (t) return t.to(device);
    }
}
