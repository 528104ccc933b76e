using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Embedding;

/// <summary>
/// Input similarities of t-SNE. Each row's conditional distribution p_{j|i} ∝ exp(−β_i ‖x_i − x_j‖²) over its
/// neighbours, with β_i found by bisection so that its entropy is ln(perplexity) (scikit-learn's
/// <c>_binary_search_perplexity</c>: 100 steps at most, tolerance 1e-5); then P = (P_cond + P_condᵀ) / (2n), which sums to 1.
/// </summary>
internal static class TsneAffinities
{
    private const int MaxSteps = 100;
    private const double Tolerance = 1e-5;

    /// <summary>
    /// Conditional probabilities of one row from its squared distances (any order), into <paramref name="p"/> (same
    /// length), summing to 1. Returns β.
    /// </summary>
    public static double Conditional(ReadOnlySpan<double> squaredDistances, double perplexity, Span<double> p)
    {
        double desired = Math.Log(perplexity);
        double beta = 1, betaMin = double.NegativeInfinity, betaMax = double.PositiveInfinity;
        double shift = double.PositiveInfinity;
        foreach (double d in squaredDistances) shift = Math.Min(shift, d); // exp(−β(d − min)): same P, no underflow
        for (int step = 0; step < MaxSteps; step++)
        {
            double sum = 0;
            for (int j = 0; j < p.Length; j++) sum += p[j] = Math.Exp(-(squaredDistances[j] - shift) * beta);
            if (sum < 1e-300) sum = 1e-300;
            double weighted = 0;
            for (int j = 0; j < p.Length; j++)
            {
                p[j] /= sum;
                weighted += (squaredDistances[j] - shift) * p[j];
            }
            double entropy = Math.Log(sum) + beta * weighted;
            double diff = entropy - desired;
            if (Math.Abs(diff) <= Tolerance) break;
            if (diff > 0)
            {
                betaMin = beta;
                beta = double.IsPositiveInfinity(betaMax) ? beta * 2 : (beta + betaMax) / 2;
            }
            else
            {
                betaMax = beta;
                beta = double.IsNegativeInfinity(betaMin) ? beta / 2 : (beta + betaMin) / 2;
            }
        }
        return beta;
    }

    /// <summary>
    /// Sparse symmetric P from each row's <paramref name="k"/> nearest other rows (Euclidean distances, row-major):
    /// what the accelerated methods use, with k = 3 x perplexity as in bhtsne and scikit-learn.
    /// </summary>
    public static SparseAffinities FromNeighbors(ReadOnlySpan<float> distances, ReadOnlySpan<int> neighbors, int n, int k, double perplexity)
    {
        var conditional = new double[(long)n * k];
        var distArray = distances.ToArray();
        Parallel.For(0, n, Runtime.TorchThreads.Parallel, () => new double[k], (i, _, squared) =>
        {
            for (int j = 0; j < k; j++)
            {
                double d = distArray[i * k + j];
                squared[j] = d * d;
            }
            Conditional(squared, perplexity, conditional.AsSpan(i * k, k));
            return squared;
        }, _ => { });

        // Symmetrise: every (i, j, p) goes to row i and row j; rows are then sorted by column and duplicates merged.
        var counts = new int[n + 1];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
            {
                counts[i + 1]++;
                counts[neighbors[i * k + j] + 1]++;
            }
        for (int i = 0; i < n; i++) counts[i + 1] += counts[i];
        var columns = new int[counts[n]];
        var values = new double[counts[n]];
        var fill = counts.AsSpan(0, n).ToArray();
        double scale = 1.0 / (2.0 * n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
            {
                int t = neighbors[i * k + j];
                double v = conditional[(long)i * k + j] * scale;
                columns[fill[i]] = t;
                values[fill[i]++] = v;
                columns[fill[t]] = i;
                values[fill[t]++] = v;
            }
        var rowStart = new int[n + 1];
        int write = 0;
        for (int i = 0; i < n; i++)
        {
            int start = counts[i], end = counts[i + 1];
            Array.Sort(columns, values, start, end - start);
            rowStart[i] = write;
            for (int e = start; e < end; e++)
            {
                if (write > rowStart[i] && columns[write - 1] == columns[e]) values[write - 1] += values[e];
                else
                {
                    columns[write] = columns[e];
                    values[write++] = values[e];
                }
            }
        }
        rowStart[n] = write;
        return new SparseAffinities(n, rowStart, columns.AsSpan(0, write).ToArray(), values.AsSpan(0, write).ToArray());
    }

    /// <summary>Each row's nearest other rows (itself left out, also when duplicates tie with it).</summary>
    public static (float[] Distances, int[] Neighbors) NearestOthers(NearestNeighborIndex index, ReadOnlySpan<float> rows, int n, int k)
    {
        var (d, idx) = index.Query(rows, n, k + 1);
        var distances = new float[(long)n * k];
        var neighbors = new int[(long)n * k];
        for (int i = 0; i < n; i++)
        {
            int w = 0;
            for (int j = 0; j <= k && w < k; j++)
            {
                int t = idx[i * (k + 1) + j];
                if (t == i) continue;
                distances[i * k + w] = d[i * (k + 1) + j];
                neighbors[i * k + w++] = t;
            }
        }
        return (distances, neighbors);
    }

    /// <summary>
    /// Dense symmetric P over all pairs (the exact method): squared distances in double precision, each row calibrated
    /// over all other rows. n x n doubles, row-major, zero diagonal.
    /// </summary>
    public static double[] Dense(ReadOnlySpan<float> rows, int n, int features, double perplexity)
    {
        double[] squared;
        using (NewDisposeScope())
        {
            var x = TensorSpans.FromSpan(rows, n, features).to(ScalarType.Float64);
            var norms = x.pow(Scalars.Two).sum(1);
            var d2 = norms.unsqueeze(1).add(norms.unsqueeze(0), Scalars.One).sub(x.matmul(x.T).mul(Scalars.Two));
            squared = TensorSpans.ToArray<double>(d2.clamp_min(Scalars.Zero).contiguous());
        }
        var p = new double[(long)n * n];
        Parallel.For(0, n, Runtime.TorchThreads.Parallel, () => (new double[n - 1], new double[n - 1]), (i, _, buffers) =>
        {
            var (others, conditional) = buffers;
            for (int j = 0, w = 0; j < n; j++) if (j != i) others[w++] = squared[(long)i * n + j];
            Conditional(others, perplexity, conditional);
            for (int j = 0, w = 0; j < n; j++) if (j != i) p[(long)i * n + j] = conditional[w++];
            return buffers;
        }, _ => { });
        double scale = 1.0 / (2.0 * n);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double v = (p[(long)i * n + j] + p[(long)j * n + i]) * scale;
                p[(long)i * n + j] = v;
                p[(long)j * n + i] = v;
            }
        return p;
    }
}

/// <summary>A symmetric sparse P in compressed rows: row i's entries are <c>Columns/Values[RowStart[i]..RowStart[i+1]]</c>.</summary>
internal sealed record SparseAffinities(int Count, int[] RowStart, int[] Columns, double[] Values);
