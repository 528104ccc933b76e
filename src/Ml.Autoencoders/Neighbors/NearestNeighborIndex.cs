using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Neighbors;

/// <summary>
/// Exact k-nearest-neighbour search as batched matrix products on TorchSharp: the training rows live in one tensor
/// with their squared norms; each chunk of query rows costs one product with all training rows and one top-k, so
/// memory is chunk x training rows, never a per-row loop. Euclidean candidates come from ‖q‖² − 2 q·t + ‖t‖² (clamped
/// at 0), and the k chosen distances are then recomputed directly; cosine comes from unit-normalised rows.
/// Euclidean search on a CPU with bfloat16 matrix units instead screens with a bfloat16 product and proves its answer
/// exact (remarks), which is several times faster there (bench/README.md, part (g)).
/// </summary>
/// <remarks>
/// <para>
/// <b>Reduced-precision screening (Euclidean, CPU).</b> Where the CPU multiplies bfloat16 matrices in hardware
/// (avx512_bf16 or amx_bf16; about twice the float32 rate), the product runs in bfloat16 and only screens: it proposes
/// candidates, every returned distance is recomputed exactly (float64 from the float32 rows), and a rigorous bound on
/// the screening error proves that no unexamined row can be nearer than the k-th returned one. The answer is therefore
/// the same exact k nearest rows (ties between exactly equal distances go to the smaller training row) whatever the
/// rounding; only the work varies. A row whose bound leaves too many rows unproven is redone by a float32 screen with
/// its own (far tighter) bound, which examines every row it cannot exclude, so no row is ever approximate.
/// </para>
/// <para>
/// The bfloat16 screen. Rows are centred by the float32 training mean μ (distances are translation-invariant, and
/// smaller norms mean smaller rounding errors): x = q − μ and y = t − μ, exact real vectors. Each is rounded to
/// bfloat16 (x̂, ŷ) and augmented so that one product gives −½ d² directly: the query row is
/// [x̂, a₁, a₂, a₃, 1, 1, 1] and the training row [ŷ, 1, 1, 1, b₁, b₂, b₃], where a₁ + a₂ + a₃ ≈ −½‖x‖² and
/// b₁ + b₂ + b₃ ≈ −½‖y‖² are bfloat16 splits of float64 norms (about 27 bits). The product's entry is then
/// G = bf16(P), P = fp32-accumulated S, S = x̂·ŷ + A + B (bfloat16 products are exact in float32), and the target is
/// v = x·y − ½‖x‖² − ½‖y‖² = −½ d². With e_x = x̂ − x and e_y = ŷ − y measured in float64,
/// </para>
/// <para>
/// |P − v| ≤ ‖x̂‖‖e_y‖ + ‖e_x‖‖y‖ (since x̂·ŷ − x·y = x̂·e_y + e_x·y, Cauchy–Schwarz)
/// + |A + ½‖x‖²| + |B + ½‖y‖²| (split residuals, plus 1e-12 relative for the float64 norms)
/// + γ_W (‖x̂‖‖ŷ‖ + Σ|a| + Σ|b|) (float32 accumulation of W terms in any order, γ_W = W·2⁻²⁴/(1 − W·2⁻²⁴))
/// + 1e-37·W·(1 + ‖x̂‖ + ‖ŷ‖) (the bf16 dot-product instructions flush subnormals, each below 2⁻¹²⁶),
/// </para>
/// <para>
/// and the bound used is twice that (the factor also covers the float64 evaluation of the bound itself). The output
/// rounding to bfloat16 is monotone, so P ≤ succ(G), the next bfloat16 above G: a row with succ(G) + bound &lt; −½ D²
/// (D the k-th exact distance found so far, inflated by 1e-9 relative) is provably farther than k examined rows. Each
/// query row takes the k largest G (a vectorised pass over the row of the product), computes their exact distances,
/// and then examines exactly every row the bound cannot exclude (a second vectorised pass with the query's largest
/// bound turned into a bfloat16 threshold, then the per-row bound), tightening D as it goes. It assumes the bfloat16
/// product accumulates in float32 and rounds its output once, as oneDNN and PyTorch's fallback kernels do.
/// </para>
/// <para>
/// <b>Values large enough to overflow float32.</b> The float32 product path squares and sums values; where rows are so
/// large that a squared norm or a squared distance could pass <see cref="float.MaxValue"/> (features x max|x|² above
/// <see cref="float.MaxValue"/>/8; for rows of 784 features, values above about 2.3e17), that path would give infinite
/// distances and arbitrary neighbours. Only then (training rows: checked once; queries: per chunk) the same search runs
/// in float64, where no finite float32 input can overflow, and the returned distances saturate at
/// <see cref="float.MaxValue"/>. Cosine rows are scaled by their largest magnitude before they are normalised in that
/// case (the direction is unchanged). Everything else keeps the float32 path.
/// </para>
/// <para>
/// The float32 screen (rows over the limit, <see cref="ScreeningExactLimit"/>): G = fl32(q·t) on the raw rows, so
/// |‖q‖² + ‖t‖² − 2G − d²| ≤ 2γ_F‖q‖‖t‖ (F features), doubled likewise, plus 1e-12 relative for the float64 terms;
/// every row it cannot exclude is examined, however many.
/// </para>
/// </remarks>
internal sealed class NearestNeighborIndex : IDisposable
{
    private readonly Tensor train;
    private readonly Tensor squaredNorms;
    private readonly ReducedPrecisionScreen? screen;
    // Whether some training row is large enough for float32 Euclidean arithmetic to overflow (see the remarks).
    private readonly bool trainMayOverflow;
    // Float64 copies of the rows and their squared norms, made on the first query that needs them.
    private (Tensor Rows, Tensor SquaredNorms)? wide;
    private readonly Lock wideGate = new();

    /// <param name="rows">Training rows, row-major.</param>
    /// <param name="count">How many rows.</param>
    /// <param name="features">Values per row.</param>
    /// <param name="metric">The distance.</param>
    /// <param name="device">Where the rows live (CPU when null).</param>
    /// <param name="prepared">Whether cosine rows are unit rows already.</param>
    /// <param name="reducedPrecision">
    /// Whether Euclidean search on the CPU screens with bfloat16 products (still exact, see the remarks): null decides
    /// by the CPU (bfloat16 matrix units), true forces it (slow where the CPU lacks them; for tests), false never.
    /// </param>
    public NearestNeighborIndex(ReadOnlySpan<float> rows, int count, int features, NeighborMetric metric, Device? device = null, bool prepared = false, bool? reducedPrecision = null)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The index needs at least one row.");
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "Rows need at least one feature.");
        if (rows.Length != (long)count * features) throw new ArgumentException($"Expected {count} x {features} = {(long)count * features} values, got {rows.Length}.", nameof(rows));
        Metric = metric;
        Count = count;
        Features = features;
        bool onCpu = device is null || device.type == TorchSharp.DeviceType.CPU;
        if (reducedPrecision == true && (metric != NeighborMetric.Euclidean || !onCpu))
            throw new ArgumentException("Reduced-precision screening serves Euclidean search on the CPU only.", nameof(reducedPrecision));
        bool large = MayOverflow(rows, features);
        trainMayOverflow = large && metric == NeighborMetric.Euclidean; // unit cosine rows never overflow
        using (var scope = NewDisposeScope())
        {
            var t = TensorSpans.FromSpan(rows, count, features);
            if (!onCpu) t = t.to(device!);
            if (metric == NeighborMetric.Cosine && !prepared) t = Normalise(t, large);
            train = t.contiguous().MoveToOuterDisposeScope();
            squaredNorms = train.pow(Scalars.Two).sum(1).MoveToOuterDisposeScope();
        }
        if (reducedPrecision ?? (metric == NeighborMetric.Euclidean && onCpu && CpuHasBFloat16Units.Value))
            screen = ReducedPrecisionScreen.TryCreate(TensorSpans.AsSpan<float>(train), count, features);
        ScreeningExactLimit = Math.Max(256, count / 32);
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

    /// <summary>Whether Euclidean queries screen with bfloat16 products (exact all the same; see the remarks).</summary>
    internal bool UsesReducedPrecision => screen is not null;

    /// <summary>
    /// How many rows beyond the first k one query row of the bfloat16 screen may examine exactly before the row is
    /// handed to the float32 screen instead (an exact distance costs about as much as 1/2000 of a float32 product row).
    /// </summary>
    internal int ScreeningExactLimit { get; set; }

    /// <summary>What the last <see cref="Query"/> did (reduced-precision path only; zeros otherwise).</summary>
    internal NeighborSearchStatistics LastStatistics { get; private set; }

    /// <summary>
    /// The <paramref name="k"/> nearest training rows of each query row, nearest first: distances and training-row
    /// indices, row-major (queries x k). Queries run in chunks of <paramref name="chunkRows"/>. A
    /// <paramref name="workspace"/> keeps the chunk's product matrix for the next call (a cursor's batches), instead of
    /// allocating it on every call.
    /// </summary>
    public (float[] Distances, int[] Indices) Query(ReadOnlySpan<float> queries, int count, int k, int chunkRows = 1024, QueryWorkspace? workspace = null)
    {
        if (k <= 0 || k > Count) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and the {Count} indexed rows.");
        if (chunkRows <= 0) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "Chunks need at least one row.");
        if (queries.Length != (long)count * Features) throw new ArgumentException($"Expected {count} x {Features} = {(long)count * Features} values, got {queries.Length}.", nameof(queries));
        var distances = new float[(long)count * k];
        var indices = new int[(long)count * k];
        if (screen is not null)
        {
            QueryScreened(queries, count, k, chunkRows, distances, indices, workspace);
            return (distances, indices);
        }
        for (int start = 0; start < count; start += chunkRows)
        {
            int n = Math.Min(chunkRows, count - start);
            using var scope = NewDisposeScope();
            var q = TensorSpans.FromSpan(queries.Slice(start * Features, n * Features), n, Features);
            QueryDense(q, k, distances.AsSpan(start * k, n * k), indices.AsSpan(start * k, n * k));
        }
        return (distances, indices);
    }

    /// <summary>
    /// The float32 product path: one product and one top-k per chunk, then the k chosen recomputed. <paramref name="q"/>
    /// is a contiguous CPU tensor. A chunk whose values could overflow float32 goes to <see cref="QueryWide"/>.
    /// </summary>
    private void QueryDense(Tensor q, int k, Span<float> distances, Span<int> indices)
    {
        var rowValues = TensorSpans.AsSpan<float>(q);
        bool large = MayOverflow(rowValues, Features);
        if (Metric == NeighborMetric.Euclidean && trainMayOverflow)
        {
            QueryWide(q, k, distances, indices);
            return;
        }
        if (Metric == NeighborMetric.Euclidean && large)
        {
            // Only the rows that could overflow take the float64 path: a row's answer never depends on its chunk.
            var wideRows = new List<int>();
            var denseRows = new List<int>();
            for (int r = 0; r < q.shape[0]; r++)
                (MayOverflow(rowValues.Slice(r * Features, Features), Features) ? wideRows : denseRows).Add(r);
            QueryRows(rowValues, wideRows, k, distances, indices, QueryWide);
            QueryRows(rowValues, denseRows, k, distances, indices, QueryDense);
            return;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long n = q.shape[0];
        if (train.device.type != TorchSharp.DeviceType.CPU) q = q.to(train.device);
        Tensor d;
        if (Metric == NeighborMetric.Cosine)
            d = Normalise(q, large).matmul(train.t()).neg_().add_(Scalars.One, Scalars.One).clamp_min_(Scalars.Zero); // rounding can push 1 - cos below 0
        else
            d = q.matmul(train.t()).mul_(Scalars.MinusTwo).add_(squaredNorms.unsqueeze(0), Scalars.One).add_(q.pow(Scalars.Two).sum(1, keepdim: true), Scalars.One).clamp_min_(Scalars.Zero);
        var (values, positions) = d.topk(k, dim: 1, largest: false, sorted: true);
        if (Metric == NeighborMetric.Euclidean)
        {
            // The expanded form loses digits to cancellation (a row's distance to itself comes out ~1e-3, not 0):
            // recompute the k chosen distances directly (n x k x features) and re-sort them.
            var chosen = train.index_select(0, positions.flatten()).view(n, k, Features);
            var exact = chosen.sub(q.unsqueeze(1)).pow(Scalars.Two).sum(2).sqrt();
            var (sorted, order) = exact.sort(dim: 1);
            values = sorted;
            positions = positions.gather(1, order);
        }
        TensorSpans.CopyTo(values.cpu(), distances);
        TensorSpans.ToArray<int>(positions.to_type(ScalarType.Int32).cpu()).CopyTo(indices);
    }

    /// <summary>
    /// The Euclidean search of <see cref="QueryDense"/> in float64, for values large enough to overflow float32 (see the
    /// remarks): candidates from ‖q‖² − 2 q·t + ‖t‖², the k chosen recomputed directly; distances saturate at
    /// <see cref="float.MaxValue"/>.
    /// </summary>
    private void QueryWide(Tensor q, int k, Span<float> distances, Span<int> indices)
    {
        var (rows, norms) = WideRows();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long n = q.shape[0];
        var q64 = q.to(train.device).to_type(ScalarType.Float64);
        var d = q64.matmul(rows.t()).mul_(Scalars.MinusTwo).add_(norms.unsqueeze(0), Scalars.One).add_(q64.pow(Scalars.Two).sum(1, keepdim: true), Scalars.One);
        var (_, positions) = d.topk(k, dim: 1, largest: false, sorted: true);
        var chosen = rows.index_select(0, positions.flatten()).view(n, k, Features);
        var exact = chosen.sub(q64.unsqueeze(1)).pow(Scalars.Two).sum(2).sqrt();
        var (sorted, order) = exact.sort(dim: 1);
        TensorSpans.CopyTo(sorted.clamp_max(Scalars.FloatMax).to_type(ScalarType.Float32).cpu(), distances);
        TensorSpans.ToArray<int>(positions.gather(1, order).to_type(ScalarType.Int32).cpu()).CopyTo(indices);
    }

    private delegate void ChunkQuery(Tensor q, int k, Span<float> distances, Span<int> indices);

    /// <summary>Answers the query rows <paramref name="rows"/> of <paramref name="values"/> with <paramref name="query"/>, writing their slots.</summary>
    private void QueryRows(ReadOnlySpan<float> values, List<int> rows, int k, Span<float> distances, Span<int> indices, ChunkQuery query)
    {
        if (rows.Count == 0) return;
        using var scope = NewDisposeScope();
        var q = empty(new long[] { rows.Count, Features }, dtype: ScalarType.Float32);
        var qs = TensorSpans.AsSpan<float>(q);
        for (int i = 0; i < rows.Count; i++) values.Slice(rows[i] * Features, Features).CopyTo(qs.Slice(i * Features, Features));
        var d = new float[rows.Count * k];
        var ix = new int[rows.Count * k];
        query(q, k, d, ix);
        for (int i = 0; i < rows.Count; i++)
        {
            d.AsSpan(i * k, k).CopyTo(distances.Slice(rows[i] * k, k));
            ix.AsSpan(i * k, k).CopyTo(indices.Slice(rows[i] * k, k));
        }
    }

    /// <summary>The float64 copy of the rows and their squared norms, made once (outside any caller's dispose scope).</summary>
    private (Tensor Rows, Tensor SquaredNorms) WideRows()
    {
        lock (wideGate)
        {
            if (wide is { } made) return made;
            using var noGrad = no_grad();
            var rows = train.to_type(ScalarType.Float64).DetachFromDisposeScope();
            var norms = rows.pow(Scalars.Two).sum(1).DetachFromDisposeScope();
            wide = (rows, norms);
            return (rows, norms);
        }
    }

    /// <summary>
    /// Whether float32 Euclidean arithmetic on rows holding these values could overflow: features x max|x|² above
    /// <see cref="float.MaxValue"/>/8 (a squared distance is at most 4 x features x max|x|², and the expanded form adds
    /// three terms of that size).
    /// </summary>
    internal static bool MayOverflow(ReadOnlySpan<float> values, int features)
    {
        double largest = MaxAbs(values);
        return largest * largest * features > float.MaxValue / 8.0;
    }

    /// <summary>The largest magnitude among finite values, vectorised.</summary>
    private static float MaxAbs(ReadOnlySpan<float> values)
    {
        int i = 0;
        float largest = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(values);
            foreach (var v in vectors) acc = Vector.Max(acc, Vector.Abs(v));
            for (int lane = 0; lane < Vector<float>.Count; lane++) largest = Math.Max(largest, acc[lane]);
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++) largest = Math.Max(largest, Math.Abs(values[i]));
        return largest;
    }

    /// <summary>
    /// Unit rows. Where the values could overflow float32 (<paramref name="large"/>), each row is first divided by the
    /// power of two at or below its largest magnitude: that keeps its norm finite, and being exact it leaves the unit row
    /// of a row that needed no scaling bit for bit what it would have been.
    /// </summary>
    private static Tensor Normalise(Tensor rows, bool large)
    {
        if (large) rows = rows.div(rows.abs().amax(new long[] { 1 }, keepdim: true).clamp_min(Scalars.TinyNorm).log2_().floor_().exp2_());
        return rows.div(rows.norm(1, keepdim: true).clamp_min(Scalars.TinyNorm));
    }

    /// <summary>True once <see cref="Dispose"/> freed the training rows.</summary>
    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        IsDisposed = true;
        train.Dispose();
        squaredNorms.Dispose();
        screen?.Dispose();
        lock (wideGate)
        {
            if (wide is var (rows, norms))
            {
                rows.Dispose();
                norms.Dispose();
            }
            wide = null;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Reduced-precision screening (see the class remarks for the bound).

    /// <summary>Relative slack on exact squared distances (float64 sums of float32 differences: error ≤ ~1e-13).</summary>
    private const double ExactSlack = 1e-9;

    /// <summary>Whether the CPU has bfloat16 matrix instructions (Linux: avx512_bf16 or amx_bf16 among the flags).</summary>
    private static readonly Lazy<bool> CpuHasBFloat16Units = new(() =>
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo")) return false;
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal)) continue;
                var flags = line.Split(new[] { ' ', '\t', ':' }, StringSplitOptions.RemoveEmptyEntries);
                return flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    });

    private unsafe void QueryScreened(ReadOnlySpan<float> queries, int count, int k, int chunkRows, float[] distances, int[] indices, QueryWorkspace? workspace)
    {
        var s = screen!;
        int features = Features, width = s.Width, rowsN = Count, limit = ScreeningExactLimit;
        var stats = new StatisticsAccumulator();
        var fallback = new List<int>();
        var dense = new List<int>();
        int bufferRows = Math.Min(chunkRows, count);
        using var noGrad = no_grad();
        // The product of a chunk with every training row (bufferRows x rows in bfloat16, 123 MB for 1,024 x 60,000):
        // fresh memory costs a page fault per 4 KB when first written, as much as the screen itself on a virtual
        // machine, so a workspace keeps it from one call to the next. Only its first bufferRows rows are written.
        using var owned = workspace is null ? empty(new long[] { bufferRows, rowsN }, dtype: ScalarType.BFloat16) : null;
        var product = owned ?? workspace!.Product(bufferRows, rowsN);
        var bound = new QueryBound[bufferRows];
        var flags = new byte[bufferRows]; // 0 done here, 1 float32 screen, 2 dense path
        fixed (float* queryPointer = queries)
        {
            nint qp = (nint)queryPointer, tp = (nint)Pointer(train);
            for (int start = 0; start < count; start += chunkRows)
            {
                int n = Math.Min(chunkRows, count - start);
                using var scope = NewDisposeScope();
                var augmented = empty(new long[] { n, width }, dtype: ScalarType.BFloat16);
                var aug = TensorSpans.AsSpan<ushort>(augmented);
                for (int i = 0; i < n; i++)
                    flags[i] = s.PrepareQuery(new ReadOnlySpan<float>(queryPointer + (long)(start + i) * features, features), aug.Slice(i * width, width), out bound[i]) ? (byte)0 : (byte)2;
                var g = n == product.shape[0] ? product : product.narrow(0, 0, n);
                g.addmm_(augmented, s.Rows.t(), 0, 1);
                nint gp = (nint)Pointer(product);
                int chunkStart = start;
                Parallel.For(0, n, Runtime.TorchThreads.Parallel, () => new RowScratch(k), (i, _, scratch) =>
                {
                    if (flags[i] != 0) return scratch;
                    int row = chunkStart + i;
                    bool done = s.ScreenRow((ushort*)gp + (long)i * rowsN, (float*)qp + (long)row * features, (float*)tp, bound[i], k, limit, scratch,
                        distances.AsSpan(row * k, k), indices.AsSpan(row * k, k));
                    if (!done) flags[i] = 1;
                    return scratch;
                }, scratch => stats.Add(scratch));
                for (int i = 0; i < n; i++)
                {
                    if (flags[i] == 1) fallback.Add(start + i);
                    else if (flags[i] == 2) dense.Add(start + i);
                }
            }
            ScreenFloat32(queries, fallback, k, chunkRows, distances, indices, stats);
        }
        for (int start = 0; start < dense.Count; start += chunkRows)
        {
            int n = Math.Min(chunkRows, dense.Count - start);
            using var scope = NewDisposeScope();
            var q = empty(new long[] { n, features }, dtype: ScalarType.Float32);
            var qs = TensorSpans.AsSpan<float>(q);
            for (int i = 0; i < n; i++) queries.Slice(dense[start + i] * features, features).CopyTo(qs.Slice(i * features, features));
            var d = new float[n * k];
            var ix = new int[n * k];
            QueryDense(q, k, d, ix);
            for (int i = 0; i < n; i++)
            {
                d.AsSpan(i * k, k).CopyTo(distances.AsSpan(dense[start + i] * k, k));
                ix.AsSpan(i * k, k).CopyTo(indices.AsSpan(dense[start + i] * k, k));
            }
        }
        LastStatistics = new NeighborSearchStatistics(count, stats.ScreenedExact, fallback.Count, stats.FallbackExact, dense.Count);
    }

    /// <summary>The float32 screen for the rows the bfloat16 one handed over (see the class remarks).</summary>
    private unsafe void ScreenFloat32(ReadOnlySpan<float> queries, List<int> rows, int k, int chunkRows, float[] distances, int[] indices, StatisticsAccumulator stats)
    {
        var s = screen!;
        int features = Features, rowsN = Count;
        for (int start = 0; start < rows.Count; start += chunkRows)
        {
            int n = Math.Min(chunkRows, rows.Count - start);
            using var scope = NewDisposeScope();
            var q = empty(new long[] { n, features }, dtype: ScalarType.Float32);
            var qs = TensorSpans.AsSpan<float>(q);
            for (int i = 0; i < n; i++) queries.Slice(rows[start + i] * features, features).CopyTo(qs.Slice(i * features, features));
            var g = q.matmul(train.t()).contiguous();
            nint gp = (nint)Pointer(g), qp = (nint)Pointer(q), tp = (nint)Pointer(train);
            int chunkStart = start;
            Parallel.For(0, n, Runtime.TorchThreads.Parallel, () => new RowScratch(k), (i, _, scratch) =>
            {
                int row = rows[chunkStart + i];
                s.ScreenRowFloat32((float*)gp + (long)i * rowsN, (float*)qp + (long)i * features, (float*)tp, k, scratch,
                    distances.AsSpan(row * k, k), indices.AsSpan(row * k, k));
                return scratch;
            }, scratch => stats.Add(scratch));
        }
    }

    private static unsafe void* Pointer(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous()) throw new InvalidOperationException("Expected a contiguous CPU tensor.");
        // The storage is native memory: it does not move, so the pointer outlives the fixed block.
        fixed (byte* p = t.bytes) return p;
    }

    /// <summary>A squared Euclidean distance of float32 rows, in float64 (differences exact, error ≤ ~1e-13 relative).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe double SquaredDistance(float* a, float* b, int n)
    {
        int i = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc0 = Vector256<double>.Zero;
            var acc1 = Vector256<double>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var (al, ah) = Vector256.Widen(Vector256.Load(a + i));
                var (bl, bh) = Vector256.Widen(Vector256.Load(b + i));
                var dl = al - bl;
                var dh = ah - bh;
                acc0 += dl * dl;
                acc1 += dh * dh;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++)
        {
            double d = (double)a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>
    /// Memory one caller (a cursor) reuses across <see cref="Query"/> calls: the bfloat16 product of a chunk of queries with
    /// the training rows, grown to the largest chunk asked for and freed by <see cref="Dispose"/>. Not for concurrent calls.
    /// </summary>
    internal sealed class QueryWorkspace : IDisposable
    {
        private Tensor? product;

        /// <summary>A [rows or more, columns] bfloat16 CPU tensor whose first <paramref name="rows"/> rows the caller overwrites.</summary>
        public Tensor Product(int rows, int columns)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (product is { } p && p.shape[0] >= rows && p.shape[1] == columns) return p;
            product?.Dispose();
            product = null;
            product = empty(new long[] { rows, columns }, dtype: ScalarType.BFloat16).DetachFromDisposeScope();
            return product;
        }

        private bool disposed;

        public void Dispose()
        {
            disposed = true;
            product?.Dispose();
            product = null;
        }
    }

    /// <summary>Per query row: what its error bound needs (see the class remarks).</summary>
    private readonly record struct QueryBound(double HatNorm, double ErrorNorm, double Constant);

    /// <summary>What one query did, counted per worker thread.</summary>
    private sealed class RowScratch
    {
        public RowScratch(int k)
        {
            TopKeys = new ushort[k];
            TopRows = new int[k];
            BestDistances = new double[k];
            BestRows = new int[k];
        }

        public readonly ushort[] TopKeys;
        public readonly int[] TopRows;
        public readonly double[] BestDistances;
        public readonly int[] BestRows;
        public long ScreenedExact;
        public long FallbackExact;
    }

    private sealed class StatisticsAccumulator
    {
        private long screenedExact, fallbackExact;

        public long ScreenedExact => Interlocked.Read(ref screenedExact);

        public long FallbackExact => Interlocked.Read(ref fallbackExact);

        public void Add(RowScratch s)
        {
            Interlocked.Add(ref screenedExact, s.ScreenedExact);
            Interlocked.Add(ref fallbackExact, s.FallbackExact);
        }
    }

    /// <summary>The bfloat16 copy of the centred, augmented training rows and the per-row terms of the bound.</summary>
    private sealed class ReducedPrecisionScreen : IDisposable
    {
        /// <summary>bfloat16 1.0.</summary>
        private const ushort One = 0x3F80;

        private readonly int features;
        private readonly float[] mean;
        private readonly double gammaW, gammaF, tiny;
        // Per training row j: the terms of the bound that multiply ‖x̂‖, multiply ‖e_x‖, and stand alone; their maxima.
        private readonly double[] perHat, perError, perConstant;
        // Raw float32 rows: ‖t‖² and ‖t‖ (float64) for the float32 screen.
        private readonly double[] rawSquared, rawNorm;

        private ReducedPrecisionScreen(int count, int features)
        {
            this.features = features;
            Width = (features + 6 + 7) / 8 * 8;
            mean = new float[features];
            perHat = new double[count];
            perError = new double[count];
            perConstant = new double[count];
            rawSquared = new double[count];
            rawNorm = new double[count];
            gammaW = Gamma(Width);
            gammaF = Gamma(features);
            tiny = 1e-37 * Width;
            Rows = empty(new long[] { count, Width }, dtype: ScalarType.BFloat16);
        }

        /// <summary>Terms in each product entry (features, the 6 norm columns, zero padding to a multiple of 8).</summary>
        public int Width { get; }

        /// <summary>Training rows x <see cref="Width"/>, bfloat16: [ŷ, 1, 1, 1, b₁, b₂, b₃, 0…].</summary>
        public Tensor Rows { get; }

        private static double Gamma(int n) => n * Math.ScaleB(1.0, -24) / (1 - n * Math.ScaleB(1.0, -24));

        /// <summary>The screen, or null where the rows are not all finite or too large for a safe bound.</summary>
        public static ReducedPrecisionScreen? TryCreate(ReadOnlySpan<float> rows, int count, int features)
        {
            var sum = new double[features];
            for (int j = 0; j < count; j++)
            {
                var row = rows.Slice(j * features, features);
                for (int f = 0; f < features; f++) sum[f] += row[f];
            }
            var s = new ReducedPrecisionScreen(count, features);
            for (int f = 0; f < features; f++)
            {
                s.mean[f] = (float)(sum[f] / count);
                if (!float.IsFinite(s.mean[f])) { s.Dispose(); return null; }
            }
            var bits = TensorSpans.AsSpan<ushort>(s.Rows);
            bits.Clear();
            double maxHat = 0, maxError = 0, maxConstant = 0;
            for (int j = 0; j < count; j++)
            {
                var row = rows.Slice(j * features, features);
                var dst = bits.Slice(j * s.Width, s.Width);
                double yy = 0, ee = 0, hh = 0, tt = 0;
                for (int f = 0; f < features; f++)
                {
                    double y = (double)row[f] - s.mean[f];
                    ushort h = ToBFloat16((float)y);
                    double hv = FromBFloat16(h), e = hv - y;
                    dst[f] = h;
                    yy += y * y;
                    ee += e * e;
                    hh += hv * hv;
                    tt += (double)row[f] * row[f];
                }
                if (!(yy <= 1e30) || !(tt <= 1e30)) { s.Dispose(); return null; }
                dst[features] = dst[features + 1] = dst[features + 2] = One;
                var (residual, absolute) = Split(-0.5 * yy, dst.Slice(features + 3, 3));
                double hatNorm = Math.Sqrt(hh);
                s.perHat[j] = Math.Sqrt(ee) + s.gammaW * hatNorm + s.tiny;
                s.perError[j] = Math.Sqrt(yy);
                s.perConstant[j] = residual + 1e-12 * yy + s.gammaW * absolute + s.tiny * (1 + hatNorm);
                s.rawSquared[j] = tt;
                s.rawNorm[j] = Math.Sqrt(tt);
                maxHat = Math.Max(maxHat, s.perHat[j]);
                maxError = Math.Max(maxError, s.perError[j]);
                maxConstant = Math.Max(maxConstant, s.perConstant[j]);
            }
            s.maxHatField = maxHat;
            s.maxErrorField = maxError;
            s.maxConstantField = maxConstant;
            return s;
        }

        // Set once by TryCreate (readonly fields cannot be assigned from the static factory).
        private double maxHatField, maxErrorField, maxConstantField;

        /// <summary>
        /// Writes the query's augmented bfloat16 row [x̂, a₁, a₂, a₃, 1, 1, 1, 0…] and its bound terms; false where the
        /// row is not finite or too large (it then takes the float32 product path).
        /// </summary>
        public bool PrepareQuery(ReadOnlySpan<float> q, Span<ushort> dst, out QueryBound bound)
        {
            double xx = 0, ee = 0, hh = 0;
            for (int f = 0; f < features; f++)
            {
                double x = (double)q[f] - mean[f];
                ushort h = ToBFloat16((float)x);
                double hv = FromBFloat16(h), e = hv - x;
                dst[f] = h;
                xx += x * x;
                ee += e * e;
                hh += hv * hv;
            }
            dst.Slice(features).Clear();
            if (!(xx <= 1e30))
            {
                bound = default;
                return false;
            }
            var (residual, absolute) = Split(-0.5 * xx, dst.Slice(features, 3));
            dst[features + 3] = dst[features + 4] = dst[features + 5] = One;
            double hatNorm = Math.Sqrt(hh);
            bound = new QueryBound(hatNorm, Math.Sqrt(ee), residual + 1e-12 * xx + gammaW * absolute + tiny * hatNorm);
            return true;
        }

        /// <summary>Writes value ≈ a₁ + a₂ + a₃ (bfloat16 parts); returns |value − Σ parts| and Σ |parts|.</summary>
        private static (double Residual, double Absolute) Split(double value, Span<ushort> parts)
        {
            double rest = value, absolute = 0;
            for (int p = 0; p < parts.Length; p++)
            {
                parts[p] = ToBFloat16((float)rest);
                double part = FromBFloat16(parts[p]);
                rest -= part; // exact: part is rest rounded, within a factor 2 of it
                absolute += Math.Abs(part);
            }
            return (Math.Abs(rest), absolute);
        }

        /// <summary>
        /// One query row of the bfloat16 screen: fills its k nearest (exact) and returns true, or returns false when
        /// more than <paramref name="limit"/> further rows would need exact distances.
        /// </summary>
        public unsafe bool ScreenRow(ushort* g, float* q, float* train, QueryBound bound, int k, int limit, RowScratch scratch, Span<float> distances, Span<int> indices)
        {
            int n = rawSquared.Length;
            // Pass 1: the k largest entries of the product (order-preserving 16-bit keys of the bfloat16 values).
            var topKeys = scratch.TopKeys;
            var topRows = scratch.TopRows;
            int filled = 0;
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j + 16 <= n; j += 16)
                {
                    ushort threshold = filled < k ? (ushort)0 : topKeys[k - 1];
                    uint mask = Vector256.GreaterThan(Keys(Vector256.Load((short*)g + j)), Vector256.Create(threshold)).ExtractMostSignificantBits();
                    while (mask != 0)
                    {
                        int lane = BitOperations.TrailingZeroCount(mask);
                        mask &= mask - 1;
                        InsertTop(topKeys, topRows, ref filled, Key(g[j + lane]), j + lane);
                    }
                }
            }
            for (; j < n; j++) InsertTop(topKeys, topRows, ref filled, Key(g[j]), j);

            // Their exact distances: the best k so far, sorted by (distance, row).
            var best = scratch.BestDistances;
            var bestRows = scratch.BestRows;
            int features = this.features;
            for (int c = 0; c < k; c++)
            {
                best[c] = SquaredDistance(q, train + (long)topRows[c] * features, features);
                bestRows[c] = topRows[c];
            }
            Array.Sort(best, bestRows, 0, k);
            SortTies(best, bestRows, k);

            // Pass 2: every row the bound cannot exclude gets its exact distance.
            double rowBound = 2 * (bound.HatNorm * maxHatField + bound.ErrorNorm * maxErrorField + maxConstantField + bound.Constant);
            double target = -0.5 * best[k - 1] * (1 + ExactSlack);
            int cut = KeyCeiling(target - rowBound) - 1;
            if (cut < 0) return false;
            int examined = 0;
            j = 0;
            for (; ; )
            {
                // Next suspect at or after j: key ≥ cut, i.e. the next bfloat16 above the entry is ≥ target − rowBound.
                int found = -1;
                if (Vector256.IsHardwareAccelerated)
                {
                    var below = Vector256.Create((ushort)(cut - 1));
                    for (; j + 16 <= n; j += 16)
                    {
                        uint mask = cut == 0 ? 0xFFFFu : Vector256.GreaterThan(Keys(Vector256.Load((short*)g + j)), below).ExtractMostSignificantBits();
                        if (mask != 0)
                        {
                            found = j + BitOperations.TrailingZeroCount(mask);
                            break;
                        }
                    }
                }
                if (found < 0)
                {
                    for (; j < n; j++)
                    {
                        if (Key(g[j]) >= cut)
                        {
                            found = j;
                            break;
                        }
                    }
                    if (found < 0) break;
                }
                j = found + 1;
                int key = Key(g[found]);
                if (Array.IndexOf(topRows, found, 0, k) >= 0) continue;
                // The per-row bound, with the next bfloat16 above the entry (output rounding is monotone).
                double above = key >= 0xFF80 ? double.PositiveInfinity : ValueOfKey(key + 1);
                double rowError = 2 * (bound.HatNorm * perHat[found] + bound.ErrorNorm * perError[found] + perConstant[found] + bound.Constant);
                if (above + rowError < target) continue;
                if (++examined > limit)
                {
                    scratch.ScreenedExact += examined - 1;
                    return false;
                }
                double d = SquaredDistance(q, train + (long)found * features, features);
                if (InsertBest(best, bestRows, k, d, found))
                {
                    double tightened = -0.5 * best[k - 1] * (1 + ExactSlack);
                    if (tightened > target)
                    {
                        target = tightened;
                        cut = Math.Max(cut, KeyCeiling(target - rowBound) - 1);
                    }
                }
            }
            scratch.ScreenedExact += examined;
            for (int c = 0; c < k; c++)
            {
                distances[c] = (float)Math.Sqrt(best[c]);
                indices[c] = bestRows[c];
            }
            return true;
        }

        /// <summary>One query row of the float32 screen (no limit: every row it cannot exclude is examined).</summary>
        public unsafe void ScreenRowFloat32(float* g, float* q, float* train, int k, RowScratch scratch, Span<float> distances, Span<int> indices)
        {
            int n = rawSquared.Length, features = this.features;
            double qq = 0;
            for (int f = 0; f < features; f++) qq += (double)q[f] * q[f];
            double qn = Math.Sqrt(qq);
            var best = scratch.BestDistances;
            var bestRows = scratch.BestRows;
            // Pass 1: the k smallest approximate distances, recomputed exactly.
            var approx = new double[k];
            var approxRows = new int[k];
            int filled = 0;
            for (int j = 0; j < n; j++)
            {
                double a = qq + rawSquared[j] - 2.0 * g[j];
                if (filled == k && a >= approx[k - 1]) continue;
                int p = filled < k ? filled++ : k - 1;
                while (p > 0 && approx[p - 1] > a)
                {
                    approx[p] = approx[p - 1];
                    approxRows[p] = approxRows[p - 1];
                    p--;
                }
                approx[p] = a;
                approxRows[p] = j;
            }
            for (int c = 0; c < k; c++)
            {
                best[c] = SquaredDistance(q, train + (long)approxRows[c] * features, features);
                bestRows[c] = approxRows[c];
            }
            Array.Sort(best, bestRows, 0, k);
            SortTies(best, bestRows, k);
            // Pass 2: examine every row whose lower bound does not exceed the k-th exact distance.
            long examined = 0;
            for (int j = 0; j < n; j++)
            {
                double a = qq + rawSquared[j] - 2.0 * g[j];
                double error = 2 * (2 * gammaF * qn * rawNorm[j] + 1e-12 * (qq + rawSquared[j] + 2 * Math.Abs(g[j])) + tiny * (1 + qn + rawNorm[j]));
                if (a - error > best[k - 1] * (1 + ExactSlack)) continue;
                if (Array.IndexOf(approxRows, j, 0, k) >= 0) continue;
                examined++;
                InsertBest(best, bestRows, k, SquaredDistance(q, train + (long)j * features, features), j);
            }
            scratch.FallbackExact += examined;
            for (int c = 0; c < k; c++)
            {
                distances[c] = (float)Math.Sqrt(best[c]);
                indices[c] = bestRows[c];
            }
        }

        /// <summary>Inserts (key, row) among the k largest keys (descending), keeping the earlier row on equal keys.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InsertTop(ushort[] keys, int[] rows, ref int filled, int key, int row)
        {
            int k = keys.Length;
            if (filled == k && key <= keys[k - 1]) return;
            int p = filled < k ? filled++ : k - 1;
            while (p > 0 && keys[p - 1] < key)
            {
                keys[p] = keys[p - 1];
                rows[p] = rows[p - 1];
                p--;
            }
            keys[p] = (ushort)key;
            rows[p] = row;
        }

        /// <summary>Inserts (distance, row) into the sorted best k if it beats the last; true when it did.</summary>
        private static bool InsertBest(double[] best, int[] rows, int k, double d, int row)
        {
            if (d > best[k - 1] || (d == best[k - 1] && row > rows[k - 1])) return false;
            int p = k - 1;
            while (p > 0 && (best[p - 1] > d || (best[p - 1] == d && rows[p - 1] > row)))
            {
                best[p] = best[p - 1];
                rows[p] = rows[p - 1];
                p--;
            }
            best[p] = d;
            rows[p] = row;
            return true;
        }

        /// <summary>Orders equal distances by row (Array.Sort is not stable).</summary>
        private static void SortTies(double[] best, int[] rows, int k)
        {
            for (int i = 1; i < k; i++)
            {
                double d = best[i];
                int r = rows[i], p = i;
                while (p > 0 && best[p - 1] == d && rows[p - 1] > r)
                {
                    rows[p] = rows[p - 1];
                    p--;
                }
                rows[p] = r;
            }
        }

        /// <summary>The smallest key whose bfloat16 value is ≥ <paramref name="value"/> (0 when none is safe to name).</summary>
        private static int KeyCeiling(double value)
        {
            if (double.IsNaN(value) || value < -3.3e38) return 0;
            if (value > 3.3e38) return 0xFF80;
            int key = Key(ToBFloat16((float)value));
            while (key < 0xFF80 && ValueOfKey(key) < value) key++;
            while (key > 0x0080 && ValueOfKey(key - 1) >= value) key--;
            return key;
        }

        /// <summary>Order-preserving 16-bit key of a bfloat16 (larger value, larger key; finite keys 0x0080..0xFF7F).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Key(ushort bits) => (ushort)(bits ^ (((short)bits >> 15) | 0x8000));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<ushort> Keys(Vector256<short> bits) =>
            (bits ^ (Vector256.ShiftRightArithmetic(bits, 15) | Vector256.Create(unchecked((short)0x8000)))).AsUInt16();

        private static double ValueOfKey(int key) => FromBFloat16((ushort)((key & 0x8000) != 0 ? key & 0x7FFF : ~key & 0xFFFF));

        /// <summary>Round-to-nearest-even float32 → bfloat16 (finite inputs).</summary>
        private static ushort ToBFloat16(float value)
        {
            uint bits = BitConverter.SingleToUInt32Bits(value);
            bits += 0x7FFFu + ((bits >> 16) & 1);
            return (ushort)(bits >> 16);
        }

        private static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

        public void Dispose() => Rows.Dispose();
    }
}

/// <summary>What one reduced-precision <see cref="NearestNeighborIndex.Query"/> did.</summary>
/// <param name="Rows">Query rows.</param>
/// <param name="ScreenedExactDistances">Exact distances the bfloat16 screen computed beyond the first k of each row.</param>
/// <param name="FallbackRows">Rows the bfloat16 screen could not settle within its limit, redone by the float32 screen.</param>
/// <param name="FallbackExactDistances">Exact distances the float32 screen computed beyond the first k of each row.</param>
/// <param name="DenseRows">Rows with non-finite or huge values, answered by the plain float32 product path.</param>
internal readonly record struct NeighborSearchStatistics(int Rows, long ScreenedExactDistances, int FallbackRows, long FallbackExactDistances, int DenseRows);
