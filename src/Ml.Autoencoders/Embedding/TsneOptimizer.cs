using System.Diagnostics;

namespace Ml.Autoencoders.Embedding;

/// <summary>
/// The t-SNE gradient (bhtsne convention, without the factor 4) and its optimisation: gradient descent with momentum
/// (0.5 during early exaggeration, 0.8 after) and per-coordinate gains (+0.2 when the step changes sign, ×0.8 otherwise,
/// at least 0.01), as in scikit-learn, bhtsne and openTSNE; the embedding is re-centred after every step.
/// </summary>
internal sealed class TsneOptimizer
{
    private const double MinGain = 0.01;

    private readonly int n, dims;
    private readonly SparseAffinities? sparse;
    private readonly double[]? dense;
    private readonly ITsneRepulsion? repulsion;
    private readonly double[] forces;
    private readonly double[] positions, gradientBuffer, klParts;

    /// <summary>Sparse P with an accelerated (or exact) repulsion.</summary>
    public TsneOptimizer(SparseAffinities p, int dimensions, ITsneRepulsion repulsion)
    {
        n = p.Count;
        dims = dimensions;
        sparse = p;
        this.repulsion = repulsion;
        forces = new double[(long)n * dims];
        positions = new double[forces.Length];
        gradientBuffer = new double[forces.Length];
        klParts = new double[n];
    }

    /// <summary>Dense P (n x n) with exact all-pairs gradients.</summary>
    public TsneOptimizer(double[] p, int count, int dimensions)
    {
        n = count;
        dims = dimensions;
        dense = p;
        forces = new double[(long)n * dims];
        positions = new double[forces.Length];
        gradientBuffer = new double[forces.Length];
        klParts = new double[n];
    }

    /// <summary>
    /// Writes the gradient at <paramref name="y"/> (attractive forces times <paramref name="exaggeration"/>) into
    /// <paramref name="gradient"/>; returns KL(P‖Q) of <paramref name="y"/> when <paramref name="withKl"/> (else NaN).
    /// </summary>
    public double Gradient(ReadOnlySpan<double> y, double exaggeration, Span<double> gradient, bool withKl = false)
    {
        if (dense is not null) return DenseGradient(y, exaggeration, gradient, withKl);
        double z = repulsion!.Compute(y, n, dims, forces);
        y.CopyTo(positions);
        var kl = withKl ? klParts : null;
        // Rows in contiguous ranges (a few per core): each row's sum is computed by one thread in a fixed order, so
        // the gradient does not depend on scheduling.
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, n, Math.Max(256, n / (8 * Environment.ProcessorCount))), Runtime.TorchThreads.Parallel, range =>
        {
            if (dims == 2) Attract2(range.Item1, range.Item2, exaggeration, z, kl);
            else AttractAny(range.Item1, range.Item2, exaggeration, z, kl);
        });
        gradientBuffer.CopyTo(gradient);
        return withKl ? klParts.Sum() + Math.Log(z) : double.NaN;
    }

    /// <summary>Attractive minus normalised repulsive forces for rows [start, end) of a 2-d embedding.</summary>
    private void Attract2(int start, int end, double exaggeration, double z, double[]? kl)
    {
        var p = sparse!;
        int[] rowStart = p.RowStart, columns = p.Columns;
        double[] values = p.Values, y = positions, g = gradientBuffer, f = forces;
        double inverseZ = 1 / z;
        for (int i = start; i < end; i++)
        {
            double xi = y[2 * i], yi = y[2 * i + 1], gx = 0, gy = 0, klRow = 0;
            for (int e = rowStart[i], stop = rowStart[i + 1]; e < stop; e++)
            {
                int j = columns[e];
                double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
                double w = 1 / (1 + dx * dx + dy * dy), pij = values[e];
                double coefficient = exaggeration * pij * w;
                gx += coefficient * dx;
                gy += coefficient * dy;
                if (kl is not null && pij > 0) klRow += pij * Math.Log(pij / w);
            }
            g[2 * i] = gx - f[2 * i] * inverseZ;
            g[2 * i + 1] = gy - f[2 * i + 1] * inverseZ;
            if (kl is not null) kl[i] = klRow;
        }
    }

    /// <summary>As <see cref="Attract2"/> for any dimension count.</summary>
    private void AttractAny(int start, int end, double exaggeration, double z, double[]? kl)
    {
        var p = sparse!;
        double[] y = positions, g = gradientBuffer;
        Span<double> sum = stackalloc double[3];
        for (int i = start; i < end; i++)
        {
            sum.Clear();
            double klRow = 0;
            for (int e = p.RowStart[i]; e < p.RowStart[i + 1]; e++)
            {
                int j = p.Columns[e];
                double d2 = 0;
                for (int c = 0; c < dims; c++) d2 += (y[i * dims + c] - y[j * dims + c]) * (y[i * dims + c] - y[j * dims + c]);
                double w = 1 / (1 + d2), pij = p.Values[e];
                for (int c = 0; c < dims; c++) sum[c] += exaggeration * pij * w * (y[i * dims + c] - y[j * dims + c]);
                if (kl is not null && pij > 0) klRow += pij * Math.Log(pij / w);
            }
            for (int c = 0; c < dims; c++) g[i * dims + c] = sum[c] - forces[i * dims + c] / z;
            if (kl is not null) kl[i] = klRow;
        }
    }

    private double DenseGradient(ReadOnlySpan<double> y, double exaggeration, Span<double> gradient, bool withKl)
    {
        var yArray = y.ToArray();
        var attraction = new double[(long)n * dims];
        var zParts = new double[n];
        var klParts = new double[n];
        var p = dense!;
        Parallel.For(0, n, Runtime.TorchThreads.Parallel, i =>
        {
            double z = 0, kl = 0;
            for (int c = 0; c < dims; c++) forces[i * dims + c] = 0;
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                double d2 = 0;
                for (int c = 0; c < dims; c++)
                {
                    double diff = yArray[i * dims + c] - yArray[j * dims + c];
                    d2 += diff * diff;
                }
                double w = 1 / (1 + d2), pij = p[(long)i * n + j];
                z += w;
                for (int c = 0; c < dims; c++)
                {
                    double diff = yArray[i * dims + c] - yArray[j * dims + c];
                    attraction[i * dims + c] += exaggeration * pij * w * diff;
                    forces[i * dims + c] += w * w * diff;
                }
                if (withKl && pij > 0) kl += pij * Math.Log(pij / w);
            }
            zParts[i] = z;
            klParts[i] = kl;
        });
        double zTotal = zParts.Sum();
        for (int e = 0; e < attraction.Length; e++) gradient[e] = attraction[e] - forces[e] / zTotal;
        return withKl ? klParts.Sum() + Math.Log(zTotal) : double.NaN;
    }

    /// <summary>Runs the optimisation from <paramref name="y"/> (updated in place), reporting progress.</summary>
    public void Run(double[] y, TsneOptions options, double learningRate, Stopwatch clock)
    {
        var gradient = new double[y.Length];
        var update = new double[y.Length];
        var gains = new double[y.Length];
        Array.Fill(gains, 1.0);
        for (int iteration = 0; iteration < options.Iterations; iteration++)
        {
            options.CancellationToken.ThrowIfCancellationRequested();
            options.CheckStop?.Invoke();
            bool early = iteration < options.EarlyExaggerationIterations;
            double exaggeration = early ? options.EarlyExaggeration : 1, momentum = early ? 0.5 : 0.8;
            bool report = options.Progress is not null && ((iteration + 1) % options.ProgressInterval == 0 || iteration + 1 == options.Iterations);
            // KL is reported for the embedding before this step, with exaggeration removed from P.
            double kl = Gradient(y, exaggeration, gradient, report && !early);
            if (report && early) kl = KlDivergence(y);
            Step(y, gradient, update, gains, momentum, learningRate);
            Recentre(y, dims);
            // Checked every step (O(n), cheap next to the gradient): a NaN embedding must never be returned, and the
            // repulsions cannot work on one (the FFT grid would refuse it with an unclear error).
            if (FirstDiverged(y) is { } bad)
                throw new TsneDivergedException(iteration + 1, options.Iterations, learningRate, $"coordinate {bad % dims} of row {bad / dims} became {y[bad]:G3}");
            if (report && !double.IsFinite(kl))
                throw new TsneDivergedException(iteration + 1, options.Iterations, learningRate, $"the KL divergence became {kl}");
            if (report) options.Progress!.Report(new TsneProgress(iteration + 1, options.Iterations, kl, clock.Elapsed));
        }
    }

    /// <summary>
    /// Coordinates beyond this size square to infinity (sqrt(double.MaxValue) is about 1.3e154): every distance to them,
    /// and so Q, is no longer a finite number, although the coordinate itself still is. Real embeddings span hundreds.
    /// </summary>
    internal const double LargestCoordinate = 1e150;

    /// <summary>The index of the first NaN, infinite or overflowing (see <see cref="LargestCoordinate"/>) coordinate, or null.</summary>
    internal static int? FirstDiverged(ReadOnlySpan<double> y)
    {
        for (int e = 0; e < y.Length; e++)
            if (!(Math.Abs(y[e]) <= LargestCoordinate)) return e;
        return null;
    }

    /// <summary>KL(P‖Q) of an embedding.</summary>
    public double KlDivergence(ReadOnlySpan<double> y) => Gradient(y, 1, new double[y.Length], withKl: true);

    /// <summary>One gradient step with momentum and gains (delta-bar-delta), in place.</summary>
    internal static void Step(Span<double> y, ReadOnlySpan<double> gradient, Span<double> update, Span<double> gains, double momentum, double learningRate)
    {
        for (int e = 0; e < y.Length; e++)
        {
            double g = gradient[e];
            gains[e] = Math.Max(g * update[e] < 0 ? gains[e] + 0.2 : gains[e] * 0.8, MinGain);
            update[e] = momentum * update[e] - learningRate * gains[e] * g;
            y[e] += update[e];
        }
    }

    /// <summary>Subtracts the mean of each coordinate.</summary>
    internal static void Recentre(Span<double> y, int dims)
    {
        int count = y.Length / dims;
        for (int c = 0; c < dims; c++)
        {
            double mean = 0;
            for (int i = 0; i < count; i++) mean += y[i * dims + c];
            mean /= count;
            for (int i = 0; i < count; i++) y[i * dims + c] -= mean;
        }
    }
}
