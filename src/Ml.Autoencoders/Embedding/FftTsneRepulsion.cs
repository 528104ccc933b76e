using System.Numerics;
using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Embedding;

/// <summary>
/// FFT-accelerated interpolation repulsion for 2-D t-SNE (FIt-SNE, Linderman et al. 2019), O(n + G log G) for a
/// G-node grid instead of O(n²).
/// <para>
/// With the kernel K(y, y') = 1 / (1 + ‖y − y'‖²)² = w², the repulsion needs the potentials
/// φ_c(i) = Σ_j K(y_i, y_j) q_c(j) of three charges per point, q = [1, y_x, y_y] (j = i included, K = 1):
/// F_i = y_i φ_1(i) − (φ_2(i), φ_3(i)) (the self term cancels), and, because (1 + d²) K = w,
/// Z = Σ_i [(1 + ‖y_i‖²) φ_1(i) − 2 y_i·(φ_2, φ_3)(i) + φ_4(i)] − n with the fourth charge ‖y‖². The symmetric
/// kernel gives Σ_i φ_4(i) = Σ_i ‖y_i‖² φ_1(i), so Z = Σ_i [(1 + 2‖y_i‖²) φ_1(i) − 2 y_i·(φ_2, φ_3)(i)] − n and
/// the fourth channel is not needed. Coordinates are taken relative to the grid's centre (the repulsion is
/// translation-invariant), which keeps the cancellations in F and Z small.
/// </para>
/// <para>
/// The potentials: a square box covering the embedding is cut into B x B intervals, each with p x p interpolation
/// nodes at offsets h/(2p) + k h/p (h the interval width), so the nodes form one equispaced M x M grid (M = B p,
/// spacing h/p). (1) Each point spreads its charges onto the p x p nodes of its interval with Lagrange weights
/// (degree p − 1 per axis). (2) The node potentials are the 2-D convolution of the node charges with the kernel
/// sampled at node offsets −(M − 1)..M − 1, computed by FFT on a zero-padded 2M x 2M grid (circulant embedding; the
/// kernel is even, so its transform is real). The transforms are TorchSharp's, the three channels batched and staged
/// (row <c>rfft</c>, column <c>fft</c>, product, column <c>ifft</c>, row <c>irfft</c>) so the zero half of the
/// padded grid is neither transformed forward nor back. (3) Each point interpolates the node potentials back with the
/// same weights. Spreading and interpolating are O(n p²); the transforms O(M² log M) and dominate.
/// </para>
/// <para>
/// Accuracy is set by the interpolation, ~h³: with the defaults, ten dense clusters (σ = 3, range 100) give relative
/// errors ~3e-3 in Z and ~2e-2 in F (‖·‖ over all points), intervals of 0.5 ~3e-4 and ~3e-3, intervals of 0.5 with 5
/// nodes ~1e-5 and ~1e-4; a uniform spread over 5 x 5 (h = 0.1) ~1e-7 and ~1e-5. The transforms run in float32 by
/// default: markedly faster than float64 (bench/README.md, part g), and their rounding (relative ~1e-7
/// at range 1 to ~3e-4 in Z at range 400, growing with the range through the cancellations in Z) stays well under
/// the default interpolation error; pass <c>singlePrecisionFft: false</c> for float64 with finer grids.
/// </para>
/// <para>
/// Grid (FIt-SNE defaults): B = max(<c>minIntervals</c>, ⌈range / <c>intervalWidth</c>⌉), rounded up to a size whose
/// FFT has only factors 2, 3, 5. When the range is at most <c>minIntervals</c> x <c>intervalWidth</c>, h = range / B;
/// beyond, h is exactly <c>intervalWidth</c> (the box then slightly exceeds the range), so the kernel's transform,
/// which depends only on M and h, is reused between calls while B stays the same.
/// </para>
/// </summary>
internal sealed class FftTsneRepulsion : ITsneRepulsion, IDisposable
{
    private const int Channels = 3;

    /// <summary>
    /// Most interpolation nodes per axis: the [3, M, 2M] float64 potentials then still fit one span (&lt; 2 GB); wider
    /// embeddings get wider intervals.
    /// </summary>
    private const int MaxNodes = 4096;

    private readonly double intervalWidth;
    private readonly int minIntervals;
    private readonly int nodesPerInterval;
    private readonly double[] nodeOffsets;
    private readonly double[] lagrangeDenominators;
    private readonly int largestIntervals;
    private readonly ScalarType fftType;

    private Tensor? kernelHat;
    private double[]? spreadScratch;
    private int kernelNodes;
    private double kernelSpacing;

    /// <summary>
    /// A repulsion with intervals of width at most <paramref name="intervalWidth"/>, at least
    /// <paramref name="minIntervals"/> intervals per axis and <paramref name="nodesPerInterval"/> interpolation nodes
    /// per interval and axis (FIt-SNE defaults 1, 50, 3); the FFTs run in float32 when
    /// <paramref name="singlePrecisionFft"/>, else float64 (spreading, interpolation and the sums are always float64).
    /// </summary>
    public FftTsneRepulsion(double intervalWidth = 1, int minIntervals = 50, int nodesPerInterval = 3, bool singlePrecisionFft = true)
    {
        fftType = singlePrecisionFft ? ScalarType.Float32 : ScalarType.Float64;
        if (!(intervalWidth > 0) || double.IsInfinity(intervalWidth)) throw new ArgumentOutOfRangeException(nameof(intervalWidth), intervalWidth, "The interval width must be positive and finite.");
        if (minIntervals < 1) throw new ArgumentOutOfRangeException(nameof(minIntervals), minIntervals, "At least one interval per axis is needed.");
        if (nodesPerInterval is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(nodesPerInterval), nodesPerInterval, "Use 1 to 8 interpolation nodes per interval.");
        this.intervalWidth = intervalWidth;
        this.minIntervals = minIntervals;
        this.nodesPerInterval = nodesPerInterval;
        int p = nodesPerInterval;
        nodeOffsets = new double[p];
        lagrangeDenominators = new double[p];
        for (int k = 0; k < p; k++) nodeOffsets[k] = (k + 0.5) / p;
        for (int k = 0; k < p; k++)
        {
            double d = 1;
            for (int m = 0; m < p; m++)
                if (m != k) d *= nodeOffsets[k] - nodeOffsets[m];
            lagrangeDenominators[k] = 1 / d;
        }
        largestIntervals = LargestFftFriendly(MaxNodes / p, p);
        TorchRuntime.EnsureLoaded();
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimensions"/> is not 2.</exception>
    public double Compute(ReadOnlySpan<double> embedding, int count, int dimensions, Span<double> forces)
    {
        TsneRepulsionChecks.Check(embedding, count, dimensions, forces);
        if (dimensions != 2) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "The FFT-interpolation repulsion is for 2-D embeddings only.");
        for (int i = 0; i < embedding.Length; i++)
            if (!double.IsFinite(embedding[i])) throw new ArgumentException($"The embedding holds a non-finite value at {i}.", nameof(embedding));

        // The square box: centred on the embedding's bounding box, B intervals of width h per axis.
        double minX = double.PositiveInfinity, maxX = double.NegativeInfinity, minY = double.PositiveInfinity, maxY = double.NegativeInfinity;
        for (int i = 0; i < count; i++)
        {
            double x = embedding[2 * i], y = embedding[2 * i + 1];
            if (x < minX) minX = x;
            if (x > maxX) maxX = x;
            if (y < minY) minY = y;
            if (y > maxY) maxY = y;
        }
        double range = Math.Max(maxX - minX, maxY - minY);
        double centreX = 0.5 * (minX + maxX), centreY = 0.5 * (minY + maxY);
        if (!(range > 0)) range = intervalWidth; // all points coincide: any box will do
        int intervals;
        double h;
        if (range <= minIntervals * intervalWidth)
        {
            intervals = Math.Min(FftFriendly(minIntervals, nodesPerInterval), largestIntervals);
            h = range / intervals;
        }
        else
        {
            double wanted = Math.Ceiling(range / intervalWidth);
            if (wanted <= largestIntervals)
            {
                intervals = FftFriendly((int)wanted, nodesPerInterval);
                h = intervalWidth;
            }
            else
            {
                // Huge range: cap the grid (the 3 x 2M x 2M transform must stay addressable) and widen the intervals.
                intervals = largestIntervals;
                h = range / intervals;
            }
        }
        int p = nodesPerInterval;
        int m = intervals * p;
        double half = 0.5 * intervals * h;
        double lowX = centreX - half, lowY = centreY - half;

        // Lagrange weights and the first node of each point's interval, per axis.
        var weightsX = new double[count * p];
        var weightsY = new double[count * p];
        var firstX = new int[count];
        var firstY = new int[count];
        var local = new double[count * 2]; // coordinates relative to the centre
        for (int i = 0; i < count; i++)
        {
            double x = embedding[2 * i], y = embedding[2 * i + 1];
            local[2 * i] = x - centreX;
            local[2 * i + 1] = y - centreY;
            firstX[i] = p * Interval((x - lowX) / h, intervals, out double tx);
            firstY[i] = p * Interval((y - lowY) / h, intervals, out double ty);
            Lagrange(tx, weightsX.AsSpan(i * p, p));
            Lagrange(ty, weightsY.AsSpan(i * p, p));
        }

        using var scope = NewDisposeScope();
        var kernel = KernelTransform(m, h / p);

        // (1) Spread the charges [1, x, y] onto the nodes.
        var charges = empty(new long[] { Channels, m, m }, dtype: fftType);
        if (fftType == ScalarType.Float32)
        {
            // Accumulate in float64 and round once, so the node charges (and Z, which amplifies their rounding
            // through its cancellations) do not depend on the order of the points.
            int length = Channels * m * m;
            if (spreadScratch is null || spreadScratch.Length < length) spreadScratch = new double[length];
            var scratch = spreadScratch.AsSpan(0, length);
            Spread(scratch, m, local, firstX, firstY, weightsX, weightsY);
            var single = TensorSpans.AsSpan<float>(charges);
            for (int i = 0; i < length; i++) single[i] = (float)scratch[i];
        }
        else Spread(TensorSpans.AsSpan<double>(charges), m, local, firstX, firstY, weightsX, weightsY);

        // (2) Node potentials: linear convolution with the kernel through a 2M x 2M circular one, staged so the zero
        // half is skipped: the forward row transforms run on the M charged rows only, the inverse ones only on the
        // M rows whose potentials are needed.
        var spectrum = torch.fft.fft_(torch.fft.rfft(charges, 2L * m, dim: 2), 2L * m, dim: 1).mul_(kernel);
        var columns = torch.fft.ifft(spectrum, dim: 1).narrow(1, 0, m);
        var potentials = torch.fft.irfft(columns, 2L * m, dim: 2).contiguous();

        // (3) Interpolate back; F_i = y_i φ_1 − (φ_2, φ_3), Z from φ_1, φ_2, φ_3 (see the class remarks).
        double z = fftType == ScalarType.Float32
            ? Interpolate(TensorSpans.AsSpan<float>(potentials), m, local, firstX, firstY, weightsX, weightsY, forces)
            : Interpolate(TensorSpans.AsSpan<double>(potentials), m, local, firstX, firstY, weightsX, weightsY, forces);
        return z - count;
    }

    /// <summary>
    /// Adds each point's charges [1, x, y] times its p x p Lagrange weights into the [3, M, M] node grid
    /// <paramref name="grid"/>, which is cleared first.
    /// </summary>
    private void Spread(Span<double> grid, int m, double[] local, int[] firstX, int[] firstY, double[] weightsX, double[] weightsY)
    {
        grid.Clear();
        int p = nodesPerInterval;
        int count = firstX.Length;
        var ones = grid[..(m * m)];
        var xs = grid.Slice(m * m, m * m);
        var ys = grid.Slice(2 * m * m, m * m);
        for (int i = 0; i < count; i++)
        {
            double qx = local[2 * i], qy = local[2 * i + 1];
            int gx = firstX[i], gy = firstY[i];
            for (int b = 0; b < p; b++)
            {
                double wy = weightsY[i * p + b];
                int row = (gy + b) * m + gx;
                for (int a = 0; a < p; a++)
                {
                    double w = wy * weightsX[i * p + a];
                    int cell = row + a;
                    ones[cell] += w;
                    xs[cell] += w * qx;
                    ys[cell] += w * qy;
                }
            }
        }
    }

    /// <summary>
    /// Interpolates the node potentials (<paramref name="phi"/>: [3, M, 2M], the first M columns used) to the points,
    /// writes F and returns Z.
    /// </summary>
    private double Interpolate<T>(ReadOnlySpan<T> phi, int m, double[] local, int[] firstX, int[] firstY, double[] weightsX, double[] weightsY, Span<double> forces)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int p = nodesPerInterval;
        int count = firstX.Length;
        int stride = 2 * m;
        var ones = phi[..(m * stride)];
        var xs = phi.Slice(m * stride, m * stride);
        var ys = phi.Slice(2 * m * stride, m * stride);
        double z = 0;
        for (int i = 0; i < count; i++)
        {
            double p1 = 0, p2 = 0, p3 = 0;
            int gx = firstX[i], gy = firstY[i];
            for (int b = 0; b < p; b++)
            {
                double wy = weightsY[i * p + b];
                int row = (gy + b) * stride + gx;
                for (int a = 0; a < p; a++)
                {
                    double w = wy * weightsX[i * p + a];
                    int cell = row + a;
                    p1 += w * double.CreateTruncating(ones[cell]);
                    p2 += w * double.CreateTruncating(xs[cell]);
                    p3 += w * double.CreateTruncating(ys[cell]);
                }
            }
            double x = local[2 * i], y = local[2 * i + 1];
            forces[2 * i] = x * p1 - p2;
            forces[2 * i + 1] = y * p1 - p3;
            z += (1 + 2 * (x * x + y * y)) * p1 - 2 * (x * p2 + y * p3);
        }
        return z;
    }

    /// <summary>Releases the cached kernel transform.</summary>
    public void Dispose()
    {
        kernelHat?.Dispose();
        kernelHat = null;
        spreadScratch = null;
    }

    /// <summary>
    /// The (real) transform of the 2M x 2M circulant kernel K at node offsets (a, b)·<paramref name="spacing"/>,
    /// a, b ∈ −(M − 1)..M − 1 (index −a stored at 2M − a, index M unused and 0, so the kernel is even and its
    /// transform real); cached while M and the spacing stay the same.
    /// </summary>
    private Tensor KernelTransform(int m, double spacing)
    {
        if (kernelHat is not null && kernelNodes == m && kernelSpacing == spacing) return kernelHat;
        kernelHat?.Dispose();
        kernelHat = null;
        int n = 2 * m;
        var squares = new double[n];
        for (int a = 0; a < n; a++)
        {
            int offset = a < m ? a : a - n;
            squares[a] = (double)offset * offset * spacing * spacing;
        }
        using var scope = NewDisposeScope();
        var circulant = empty(new long[] { n, n }, dtype: ScalarType.Float64);
        var values = TensorSpans.AsSpan<double>(circulant);
        for (int b = 0; b < n; b++)
        {
            var row = values.Slice(b * n, n);
            if (b == m)
            {
                row.Clear();
                continue;
            }
            double sb = squares[b];
            for (int a = 0; a < n; a++)
            {
                double k = 1 / (1 + sb + squares[a]);
                row[a] = a == m ? 0 : k * k;
            }
        }
        kernelHat = torch.fft.rfft2(circulant).real.to(fftType).contiguous().DetachFromDisposeScope();
        kernelNodes = m;
        kernelSpacing = spacing;
        return kernelHat;
    }

    /// <summary>The interval of a coordinate in interval units, clamped into the box, and the position t ∈ [0, 1] in it.</summary>
    private static int Interval(double position, int intervals, out double t)
    {
        int box = (int)Math.Floor(position);
        if (box < 0) box = 0;
        else if (box >= intervals) box = intervals - 1;
        t = position - box;
        return box;
    }

    /// <summary>The Lagrange basis polynomials of the interval's nodes evaluated at <paramref name="t"/>.</summary>
    private void Lagrange(double t, Span<double> weights)
    {
        int p = nodesPerInterval;
        for (int k = 0; k < p; k++)
        {
            double v = lagrangeDenominators[k];
            for (int j = 0; j < p; j++)
                if (j != k) v *= t - nodeOffsets[j];
            weights[k] = v;
        }
    }

    /// <summary>The largest interval count ≤ <paramref name="intervals"/> for which 2 B p has no prime factor above 5 (at least 1).</summary>
    private static int LargestFftFriendly(int intervals, int nodesPerInterval)
    {
        for (int b = intervals; b > 1; b--)
            if (FftFriendly(b, nodesPerInterval) == b) return b;
        return 1;
    }

    /// <summary>The smallest interval count ≥ <paramref name="intervals"/> for which 2 B p has no prime factor above 5.</summary>
    private static int FftFriendly(int intervals, int nodesPerInterval)
    {
        for (int b = Math.Max(1, intervals); ; b++)
        {
            long n = 2L * b * nodesPerInterval;
            while (n % 2 == 0) n /= 2;
            while (n % 3 == 0) n /= 3;
            while (n % 5 == 0) n /= 5;
            if (n == 1) return b;
        }
    }
}
