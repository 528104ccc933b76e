using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Neighbors;

/// <summary>
/// Exact k-nearest-neighbour search as batched matrix products on TorchSharp: the training rows live in one tensor
/// with their squared norms; each chunk of query rows costs one product with all training rows and one top-k, so
/// memory is chunk x training rows, never a per-row loop. Euclidean candidates come from ‖q‖² − 2 q·t + ‖t‖² (clamped
/// at 0), and the k chosen distances are then recomputed directly; cosine comes from unit-normalised rows. Groundwork for the k-NN trainer (issue 7).
/// </summary>
internal sealed class NearestNeighborIndex : IDisposable
{
    private readonly Tensor train;
    private readonly Tensor squaredNorms;

    public NearestNeighborIndex(ReadOnlySpan<float> rows, int count, int features, NeighborMetric metric, Device? device = null, bool prepared = false)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The index needs at least one row.");
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "Rows need at least one feature.");
        if (rows.Length != (long)count * features) throw new ArgumentException($"Expected {count} x {features} = {(long)count * features} values, got {rows.Length}.", nameof(rows));
        Metric = metric;
        Count = count;
        Features = features;
        using var scope = NewDisposeScope();
        var t = TensorSpans.FromSpan(rows, count, features);
        if (device is not null && device.type != TorchSharp.DeviceType.CPU) t = t.to(device);
        if (metric == NeighborMetric.Cosine && !prepared) t = Normalise(t);
        train = t.contiguous().MoveToOuterDisposeScope();
        squaredNorms = train.square().sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The rows as the index holds them (unit rows for <see cref="NeighborMetric.Cosine"/>): what a model file stores, to
    /// rebuild the same index with <c>prepared: true</c>.
    /// </summary>
    public float[] CopyRows()
    {
        using var scope = NewDisposeScope();
        var values = new float[(long)Count * Features];
        TensorSpans.CopyTo(train.cpu(), values);
        return values;
    }

    public NeighborMetric Metric { get; }

    /// <summary>Where the rows live.</summary>
    public Device Device => train.device;

    public int Count { get; }

    public int Features { get; }

    /// <summary>
    /// The <paramref name="k"/> nearest training rows of each query row, nearest first: distances and training-row
    /// indices, row-major (queries x k). Queries run in chunks of <paramref name="chunkRows"/>.
    /// </summary>
    public (float[] Distances, int[] Indices) Query(ReadOnlySpan<float> queries, int count, int k, int chunkRows = 1024)
    {
        if (k <= 0 || k > Count) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and the {Count} indexed rows.");
        if (chunkRows <= 0) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "Chunks need at least one row.");
        if (queries.Length != (long)count * Features) throw new ArgumentException($"Expected {count} x {Features} = {(long)count * Features} values, got {queries.Length}.", nameof(queries));
        var distances = new float[(long)count * k];
        var indices = new int[(long)count * k];
        for (int start = 0; start < count; start += chunkRows)
        {
            int n = Math.Min(chunkRows, count - start);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var q = TensorSpans.FromSpan(queries.Slice(start * Features, n * Features), n, Features);
            if (train.device.type != TorchSharp.DeviceType.CPU) q = q.to(train.device);
            Tensor d;
            if (Metric == NeighborMetric.Cosine)
                d = Normalise(q).matmul(train.t()).neg_().add_(1);
            else
                d = q.matmul(train.t()).mul_(-2).add_(squaredNorms.unsqueeze(0)).add_(q.square().sum(1, keepdim: true)).clamp_min_(0);
            var (values, positions) = d.topk(k, dim: 1, largest: false, sorted: true);
            if (Metric == NeighborMetric.Euclidean)
            {
                // The expanded form loses digits to cancellation (a row's distance to itself comes out ~1e-3, not 0):
                // recompute the k chosen distances directly (n x k x features) and re-sort them.
                var chosen = train.index_select(0, positions.flatten()).view(n, k, Features);
                var exact = chosen.sub(q.unsqueeze(1)).square().sum(2).sqrt();
                var (sorted, order) = exact.sort(dim: 1);
                values = sorted;
                positions = positions.gather(1, order);
            }
            TensorSpans.CopyTo(values.cpu(), distances.AsSpan(start * k, n * k));
            TensorSpans.ToArray<int>(positions.to_type(ScalarType.Int32).cpu()).CopyTo(indices.AsSpan(start * k, n * k));
        }
        return (distances, indices);
    }

    private static Tensor Normalise(Tensor rows) => rows.div(rows.norm(1, keepdim: true).clamp_min(1e-12));

    public void Dispose()
    {
        train.Dispose();
        squaredNorms.Dispose();
    }
}
