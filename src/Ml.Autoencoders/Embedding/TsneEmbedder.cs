using System.Diagnostics;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Runtime;

namespace Ml.Autoencoders.Embedding;

/// <summary>The array-level t-SNE: embeds rows (Fit) and places new rows against a fitted embedding (Place).</summary>
internal static class TsneEmbedder
{
    /// <summary>Rows the exact method accepts at most (its P holds n² doubles).</summary>
    internal const int ExactLimit = 20_000;

    /// <summary>
    /// Embeds <paramref name="n"/> rows of <paramref name="features"/> values; returns the embedding (n x dims, row-major)
    /// and the neighbour index of the rows (kept by the transformer to place new rows).
    /// </summary>
    public static (double[] Embedding, NearestNeighborIndex Index, double KlDivergence) Fit(ReadOnlySpan<float> rows, int n, int features, TsneOptions options)
    {
        options.Validate(n);
        var clock = Stopwatch.StartNew();
        int dims = options.Dimensions;
        var method = options.Resolve(n);
        if (method == TsneGradientMethod.Exact && n > ExactLimit)
            throw new ArgumentOutOfRangeException(nameof(options), n, $"The exact method keeps n x n affinities; {n} rows is above its limit of {ExactLimit}. Use Auto, BarnesHut or FftInterpolation.");
        var index = new NearestNeighborIndex(rows, n, features, NeighborMetric.Euclidean, TorchRuntime.Resolve(options.Device));
        try
        {
            TsneOptimizer optimizer;
            ITsneRepulsion? repulsion = null;
            if (method == TsneGradientMethod.Exact)
            {
                optimizer = new TsneOptimizer(TsneAffinities.Dense(rows, n, features, options.Perplexity), n, dims);
            }
            else
            {
                int k = Math.Min(n - 1, (int)(3 * options.Perplexity + 1));
                var (distances, neighbors) = TsneAffinities.NearestOthers(index, rows, n, k);
                var p = TsneAffinities.FromNeighbors(distances, neighbors, n, k, options.Perplexity);
                repulsion = method == TsneGradientMethod.FftInterpolation ? new FftTsneRepulsion() : new BarnesHutTsneRepulsion(options.Theta);
                optimizer = new TsneOptimizer(p, dims, repulsion);
            }
            var y = Initialize(rows, n, features, options);
            double learningRate = options.LearningRate ?? Math.Max(n / options.EarlyExaggeration, 200);
            using (repulsion as IDisposable)
            {
                optimizer.Run(y, options, learningRate, clock);
                double kl = optimizer.KlDivergence(y);
                if (!double.IsFinite(kl))
                    throw new TsneDivergedException(options.Iterations, options.Iterations, learningRate, $"the KL divergence of the final embedding became {kl}");
                return (y, index, kl);
            }
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>PCA (scaled so the first coordinate has standard deviation 1e-4) or seeded Gaussian noise of that size.</summary>
    internal static double[] Initialize(ReadOnlySpan<float> rows, int n, int features, TsneOptions options)
    {
        int dims = options.Dimensions;
        double[] y;
        if (options.Initialization == TsneInitialization.Pca && features >= dims)
        {
            y = PcaBaseline.Fit(rows, features, dims).Project(rows);
            double mean = 0, squares = 0;
            for (int i = 0; i < n; i++) mean += y[i * dims];
            mean /= n;
            for (int i = 0; i < n; i++) squares += (y[i * dims] - mean) * (y[i * dims] - mean);
            double std = Math.Sqrt(squares / n);
            double scale = std > 0 ? 1e-4 / std : 0;
            for (int e = 0; e < y.Length; e++) y[e] *= scale;
            if (scale > 0) return y;
        }
        var random = new Random(options.Seed ?? 0);
        y = new double[(long)n * dims];
        for (int e = 0; e < y.Length; e++)
            y[e] = 1e-4 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return y;
    }

    /// <summary>
    /// Places <paramref name="m"/> new rows against the fixed training <paramref name="embedding"/> (openTSNE's scheme):
    /// each row's affinities to its 3 x <see cref="TsneOptions.TransformPerplexity"/> nearest training rows; it starts at
    /// their affinity-weighted mean and moves for <see cref="TsneOptions.TransformIterations"/> steps under attraction to
    /// them and repulsion from all training points (Barnes-Hut, normalised per new row); new rows do not interact. A row
    /// identical to a training row gets that row's fitted coordinates.
    /// </summary>
    public static float[] Place(NearestNeighborIndex index, double[] embedding, ReadOnlySpan<float> rows, int m, TsneOptions options, BarnesHutTsneRepulsion tree)
    {
        int dims = options.Dimensions, n = index.Count;
        int k = Math.Min(n, Math.Max(1, (int)(3 * options.TransformPerplexity + 1)));
        var (distances, neighbors) = index.Query(rows, m, k);
        var result = new float[(long)m * dims];
        double perplexity = Math.Min(options.TransformPerplexity, Math.Max(1, k - 1));
        Parallel.For(0, m, Runtime.TorchThreads.Parallel, () => new PlacementBuffers(k, dims), (r, _, b) =>
        {
            var y = b.Point;
            if (distances[r * k] == 0)
            {
                for (int c = 0; c < dims; c++) result[r * dims + c] = (float)embedding[neighbors[r * k] * dims + c];
                return b;
            }
            for (int j = 0; j < k; j++) b.Squared[j] = (double)distances[r * k + j] * distances[r * k + j];
            TsneAffinities.Conditional(b.Squared, perplexity, b.P);
            Array.Clear(y);
            for (int j = 0; j < k; j++)
                for (int c = 0; c < dims; c++) y[c] += b.P[j] * embedding[neighbors[r * k + j] * dims + c];
            Array.Clear(b.Update);
            Array.Fill(b.Gains, 1.0);
            for (int step = 0; step < options.TransformIterations; step++)
            {
                double z = tree.ForceOn(y, b.Force);
                for (int c = 0; c < dims; c++) b.Gradient[c] = -b.Force[c] / z;
                for (int j = 0; j < k; j++)
                {
                    int t = neighbors[r * k + j];
                    double d2 = 0;
                    for (int c = 0; c < dims; c++) d2 += (y[c] - embedding[t * dims + c]) * (y[c] - embedding[t * dims + c]);
                    double coefficient = b.P[j] / (1 + d2);
                    for (int c = 0; c < dims; c++) b.Gradient[c] += coefficient * (y[c] - embedding[t * dims + c]);
                }
                TsneOptimizer.Step(y, b.Gradient, b.Update, b.Gains, PlacementMomentum, PlacementLearningRate);
            }
            for (int c = 0; c < dims; c++) result[r * dims + c] = (float)y[c];
            return b;
        }, _ => { });
        return result;
    }

    /// <summary>Step size of placement; each new row's gradient has unit total attraction (its P sums to 1).</summary>
    private const double PlacementLearningRate = 1.0;

    private const double PlacementMomentum = 0.5;

    private sealed class PlacementBuffers(int k, int dims)
    {
        public double[] Squared { get; } = new double[k];
        public double[] P { get; } = new double[k];
        public double[] Point { get; } = new double[dims];
        public double[] Force { get; } = new double[dims];
        public double[] Gradient { get; } = new double[dims];
        public double[] Update { get; } = new double[dims];
        public double[] Gains { get; } = new double[dims];
    }
}
