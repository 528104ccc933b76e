using static TorchSharp.torch;

namespace Ml.Autoencoders.Data;

/// <summary>
/// All training rows in one native [rows, features] tensor (on the training device when it fits there):
/// an epoch is index_select over a permutation, with no managed copies.
/// </summary>
internal sealed class InMemoryTrainingData : ITrainingData, IDisposable
{
    private readonly Tensor rows;

    public InMemoryTrainingData(Tensor rows)
    {
        if (rows.dim() != 2) throw new ArgumentException($"Expected a [rows, features] tensor, got {rows.dim()} dimensions.", nameof(rows));
        this.rows = rows;
    }

    public int FeatureCount => (int)rows.shape[1];

    public IEnumerable<TrainingBatch> Batches(int batchSize, Random? shuffle, Device device, CancellationToken cancellation)
    {
        long n = rows.shape[0];
        using var onDevice = rows.device == device ? rows.alias() : rows.to(device);
        using var order = shuffle is null ? null : tensor(Permutation(n, shuffle), device: device);
        for (long start = 0; start < n; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            long count = Math.Min(batchSize, n - start);
            if (order is null)
            {
                yield return onDevice.narrow(0, start, count);
            }
            else
            {
                using var index = order.narrow(0, start, count);
                yield return onDevice.index_select(0, index);
            }
        }
    }

    /// <summary>Fisher-Yates on a managed array: the order depends only on the seed, not on torch's generator.</summary>
    internal static long[] Permutation(long n, Random random)
    {
        var p = new long[n];
        for (long i = 0; i < n; i++) p[i] = i;
        for (long i = n - 1; i > 0; i--)
        {
            long j = random.NextInt64(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    public void Dispose() => rows.Dispose();
}
