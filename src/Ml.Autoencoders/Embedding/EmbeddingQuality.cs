using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Embedding;

/// <summary>How faithfully a low-dimensional embedding keeps the neighbourhoods of its input.</summary>
public static class EmbeddingQuality
{
    /// <summary>
    /// Trustworthiness (Venna and Kaski 2001), scikit-learn's <c>sklearn.manifold.trustworthiness</c> with the Euclidean
    /// metric: 1 − 2 / (n k (2n − 3k − 1)) · Σ_i Σ_{j ∈ N_k^emb(i)} max(0, r(i, j) − k), where r(i, j) is the rank of j
    /// among i's neighbours in the input (1 = nearest). 1 means every embedding neighbour is an input neighbour.
    /// Input distances are computed a chunk of rows at a time (chunk x n floats), never as an n x n matrix.
    /// </summary>
    /// <param name="input">Input rows, row-major (n x features).</param>
    /// <param name="features">Values per input row.</param>
    /// <param name="embedding">Embedded rows, row-major (n x dimensions), in the same order.</param>
    /// <param name="dimensions">Values per embedded row.</param>
    /// <param name="k">Neighbours considered; below n / 2.</param>
    public static double Trustworthiness(ReadOnlySpan<float> input, int features, ReadOnlySpan<float> embedding, int dimensions, int k = 10)
    {
        if (features < 1 || input.Length % features != 0) throw new ArgumentException($"Expected a multiple of {features} input values.", nameof(input));
        int n = input.Length / features;
        if (dimensions < 1 || embedding.Length != (long)n * dimensions)
            throw new ArgumentException($"Expected {n} x {dimensions} embedding values, got {embedding.Length}.", nameof(embedding));
        if (k < 1 || k >= n / 2.0) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and below n / 2 = {n / 2.0}.");
        TorchRuntime.EnsureLoaded();
        int[] embeddingNeighbors;
        using (var embedded = new NearestNeighborIndex(embedding, n, dimensions, NeighborMetric.Euclidean, CPU))
        {
            (_, embeddingNeighbors) = Embedding.TsneAffinities.NearestOthers(embedded, embedding, n, k);
        }
        double penalty = 0;
        const int Chunk = 512;
        using var scope = NewDisposeScope();
        var x = TensorSpans.FromSpan(input, n, features).to(ScalarType.Float64);
        var norms = x.pow(Scalars.Two).sum(1);
        var neighbors = tensor(embeddingNeighbors, ScalarType.Int64).reshape(n, k);
        using var kScalar = k.ToScalar(); // alive through the native calls (see Scalars)
        for (int start = 0; start < n; start += Chunk)
        {
            int rows = Math.Min(Chunk, n - start);
            using var inner = NewDisposeScope();
            var q = x.narrow(0, start, rows);
            var d = q.matmul(x.T).mul_(Scalars.MinusTwo).add_(norms.unsqueeze(0), Scalars.One).add_(norms.narrow(0, start, rows).unsqueeze(1), Scalars.One);
            // The row itself is never its own neighbour: push it past every other row.
            using var first = start.ToScalar(); // alive through the native call (see Scalars)
            using var end = (start + rows).ToScalar();
            var self = arange(first, end, Scalars.One, ScalarType.Int64).unsqueeze(1);
            d.scatter_(1, self, full(new long[] { rows, 1 }, Scalars.PositiveInfinity, ScalarType.Float64));
            var chosen = d.gather(1, neighbors.narrow(0, start, rows)); // rows x k
            for (int j = 0; j < k; j++)
            {
                var rank = d.lt(chosen.narrow(1, j, 1)).sum(1).add(Scalars.One, Scalars.One); // 1-based rank of the j-th embedding neighbour
                penalty += rank.sub(kScalar).clamp_min(Scalars.Zero).sum().item<long>();
            }
        }
        return 1 - penalty * 2.0 / (n * (double)k * (2.0 * n - 3.0 * k - 1.0));
    }
}
