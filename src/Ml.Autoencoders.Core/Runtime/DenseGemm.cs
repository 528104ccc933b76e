using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// The library's own float32 matrix products for dense layers (AVX-512F FMA), used instead of libtorch's MKL on CPUs
/// where MKL runs slowly (the dense layers' autograd function, <c>DenseKernels</c>).
/// <para>
/// Every output element is one fixed sequence of float32 fused multiply-adds over the summed index, whatever the
/// matrix sizes, the tile it falls in or the thread that computes it: (NT) 16 lane-wise chains over k = lane mod 16,
/// reduced by <see cref="Vector512.Sum{T}(Vector512{T})"/>, then the k tail in order; (NN) one chain over k in order.
/// So a row of a product does not depend on the other rows of the batch, and results do not depend on the thread count
/// (threads share out blocks of the output, each element computed by one thread).
/// </para>
/// </summary>
internal static unsafe class DenseGemm
{
    /// <summary>Whether this CPU runs the kernels (AVX-512F).</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    private const int Lanes = 16;

    /// <summary>
    /// C[i, j] = bias[j] + sum_k A[i, k] B[j, k] for i &lt; m, j &lt; n (A: m x k, row stride lda; B: n x k, row stride
    /// ldb; C: m x n, row stride ldc; bias may be null). Both factors are read along k: a dense layer's forward pass
    /// (input times the transposed weight) without any copy.
    /// </summary>
    public static void MultiplyTransposed(float* a, int lda, float* b, int ldb, float* c, int ldc, float* bias, int m, int n, int k, int threads)
    {
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c, pbias = (nint)bias;
        Split(m, n, 4, (long)m * n * k, threads, (i0, i1, j0, j1) =>
            NtBlock((float*)pa + (long)i0 * lda, lda, (float*)pb, ldb, (float*)pc + (long)i0 * ldc, ldc, (float*)pbias, i1 - i0, k, j0, j1));
    }

    /// <summary>
    /// C[i, j] = sum_k A(i, k) B[k, j] for i &lt; m, j &lt; n, with A(i, k) = a[i * rowStride + k * columnStride] (so A
    /// may be a transposed view: a layer's weight gradient reads the output gradient transposed) and B: k x n, row stride
    /// ldb; C: m x n, row stride ldc.
    /// </summary>
    public static void Multiply(float* a, int rowStride, int columnStride, float* b, int ldb, float* c, int ldc, int m, int n, int k, int threads)
    {
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Split(m, n, 2 * Lanes, (long)m * n * k, threads, (i0, i1, j0, j1) =>
            NnBlock((float*)pa + (long)i0 * rowStride, rowStride, columnStride, (float*)pb, ldb, (float*)pc + (long)i0 * ldc, ldc, i1 - i0, k, j0, j1));
    }

    /// <summary>Below this many multiply-adds a second thread costs more than it saves.</summary>
    private const long ParallelWork = 1 << 17;

    /// <summary>Rows per block of work: a multiple of both kernels' row tiles (4 and 8).</summary>
    private const int RowBlock = 64;

    /// <summary>
    /// Runs <paramref name="body"/> over blocks of rows and column units that cover the m x n output. The caller works
    /// too, and blocks go to whichever thread asks next: on a busy machine a helper that is not scheduled in time costs
    /// nothing, since no one waits for a helper that has not started. Which thread computes a block does not change its
    /// bits (every element is one fixed chain of operations).
    /// </summary>
    private static void Split(int m, int n, int unit, long work, int threads, Action<int, int, int, int> body)
    {
        if (m == 0 || n == 0) return;
        int rowBlocks = (m + RowBlock - 1) / RowBlock, units = (n + unit - 1) / unit;
        if (threads <= 1 || work < ParallelWork || rowBlocks * units == 1)
        {
            body(0, m, 0, n);
            return;
        }
        // Column chunks: enough blocks for a few per thread, whole units each.
        int columnChunks = Math.Min(units, Math.Max(1, (4 * threads + rowBlocks - 1) / rowBlocks));
        var job = new Job(rowBlocks * columnChunks, index =>
        {
            int rb = index / columnChunks, cc = index % columnChunks;
            int i0 = rb * RowBlock, i1 = Math.Min(m, i0 + RowBlock);
            int j0 = Math.Min(n, (int)((long)units * cc / columnChunks) * unit), j1 = Math.Min(n, (int)((long)units * (cc + 1) / columnChunks) * unit);
            if (j1 > j0) body(i0, i1, j0, j1);
        });
        for (int t = 1; t < Math.Min(threads, job.Blocks); t++) ThreadPool.UnsafeQueueUserWorkItem(static j => j.Run(), job, preferLocal: false);
        job.Run();
        job.WaitForAll();
    }

    private sealed class Job(int blocks, Action<int> body)
    {
        private int next, done;

        public int Blocks => blocks;

        public void Run()
        {
            int index;
            while ((index = Interlocked.Increment(ref next) - 1) < blocks)
            {
                body(index);
                Interlocked.Increment(ref done);
            }
        }

        public void WaitForAll()
        {
            var spin = new SpinWait();
            // No Thread.Sleep(1) while a helper finishes its block: a product takes tens of microseconds.
            while (Volatile.Read(ref done) < blocks) spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    // ---- NT: dot products along k ----

    private static void NtBlock(float* a, int lda, float* b, int ldb, float* c, int ldc, float* bias, int m, int k, int j0, int j1)
    {
        // Four weight rows (4 k floats) stay in L1 while every input row streams past them.
        int j = j0;
        for (; j + 4 <= j1; j += 4)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4) Nt4x4(a + (long)i * lda, lda, b + (long)j * ldb, ldb, c + (long)i * ldc + j, ldc, bias == null ? null : bias + j, k);
            for (; i < m; i++)
                for (int s = 0; s < 4; s++)
                    c[(long)i * ldc + j + s] = Dot(a + (long)i * lda, b + (long)(j + s) * ldb, k) + (bias == null ? 0f : bias[j + s]);
        }
        for (; j < j1; j++)
            for (int i = 0; i < m; i++)
                c[(long)i * ldc + j] = Dot(a + (long)i * lda, b + (long)j * ldb, k) + (bias == null ? 0f : bias[j]);
    }

    /// <summary>One element: the same arithmetic as each element of <see cref="Nt4x4"/>.</summary>
    private static float Dot(float* x, float* w, int k)
    {
        int kv = k & ~(Lanes - 1);
        var acc = Vector512<float>.Zero;
        for (int p = 0; p < kv; p += Lanes) acc = Avx512F.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(w + p), acc);
        return Tail(x, w, kv, k, Vector512.Sum(acc));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(float* x, float* w, int from, int k, float sum)
    {
        for (int p = from; p < k; p++) sum = MathF.FusedMultiplyAdd(x[p], w[p], sum);
        return sum;
    }

    private static void Nt4x4(float* a, int lda, float* b, int ldb, float* c, int ldc, float* bias, int k)
    {
        int kv = k & ~(Lanes - 1);
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        float* b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        for (int p = 0; p < kv; p += Lanes)
        {
            var x0 = Vector512.Load(a0 + p);
            var x1 = Vector512.Load(a1 + p);
            var x2 = Vector512.Load(a2 + p);
            var x3 = Vector512.Load(a3 + p);
            var w = Vector512.Load(b0 + p);
            c00 = Avx512F.FusedMultiplyAdd(x0, w, c00); c10 = Avx512F.FusedMultiplyAdd(x1, w, c10);
            c20 = Avx512F.FusedMultiplyAdd(x2, w, c20); c30 = Avx512F.FusedMultiplyAdd(x3, w, c30);
            w = Vector512.Load(b1 + p);
            c01 = Avx512F.FusedMultiplyAdd(x0, w, c01); c11 = Avx512F.FusedMultiplyAdd(x1, w, c11);
            c21 = Avx512F.FusedMultiplyAdd(x2, w, c21); c31 = Avx512F.FusedMultiplyAdd(x3, w, c31);
            w = Vector512.Load(b2 + p);
            c02 = Avx512F.FusedMultiplyAdd(x0, w, c02); c12 = Avx512F.FusedMultiplyAdd(x1, w, c12);
            c22 = Avx512F.FusedMultiplyAdd(x2, w, c22); c32 = Avx512F.FusedMultiplyAdd(x3, w, c32);
            w = Vector512.Load(b3 + p);
            c03 = Avx512F.FusedMultiplyAdd(x0, w, c03); c13 = Avx512F.FusedMultiplyAdd(x1, w, c13);
            c23 = Avx512F.FusedMultiplyAdd(x2, w, c23); c33 = Avx512F.FusedMultiplyAdd(x3, w, c33);
        }
        float bias0 = 0, bias1 = 0, bias2 = 0, bias3 = 0;
        if (bias != null) (bias0, bias1, bias2, bias3) = (bias[0], bias[1], bias[2], bias[3]);
        StoreRow(c, a0, b0, b1, b2, b3, kv, k, c00, c01, c02, c03, bias0, bias1, bias2, bias3);
        StoreRow(c + ldc, a1, b0, b1, b2, b3, kv, k, c10, c11, c12, c13, bias0, bias1, bias2, bias3);
        StoreRow(c + 2 * ldc, a2, b0, b1, b2, b3, kv, k, c20, c21, c22, c23, bias0, bias1, bias2, bias3);
        StoreRow(c + 3 * ldc, a3, b0, b1, b2, b3, kv, k, c30, c31, c32, c33, bias0, bias1, bias2, bias3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, float* x, float* b0, float* b1, float* b2, float* b3, int kv, int k,
        Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3, float bias0, float bias1, float bias2, float bias3)
    {
        c[0] = Tail(x, b0, kv, k, Vector512.Sum(s0)) + bias0;
        c[1] = Tail(x, b1, kv, k, Vector512.Sum(s1)) + bias1;
        c[2] = Tail(x, b2, kv, k, Vector512.Sum(s2)) + bias2;
        c[3] = Tail(x, b3, kv, k, Vector512.Sum(s3)) + bias3;
    }

    // ---- NN: broadcast A, vectors along B's rows ----

    private static void NnBlock(float* a, int rs, int cs, float* b, int ldb, float* c, int ldc, int m, int k, int j0, int j1)
    {
        int j = j0;
        for (; j + 2 * Lanes <= j1; j += 2 * Lanes)
        {
            int i = 0;
            for (; i + 8 <= m; i += 8) Nn8x32(a + (long)i * rs, rs, cs, b + j, ldb, c + (long)i * ldc + j, ldc, k);
            for (; i < m; i++) Nn1xV(a + (long)i * rs, cs, b + j, ldb, c + (long)i * ldc + j, k, 2);
        }
        if (j < j1) NnTail(a, rs, cs, b + j, ldb, c + j, ldc, m, k, j1 - j);
    }

    /// <summary>
    /// The last <paramref name="width"/> (&lt; 32) columns: copied into a zero-padded panel 32 wide and multiplied by the
    /// same kernels (the padding lanes multiply zeros and are not written back), so each element is still the one chain.
    /// </summary>
    private static void NnTail(float* a, int rs, int cs, float* b, int ldb, float* c, int ldc, int m, int k, int width)
    {
        const int Panel = 2 * Lanes;
        var bPanel = ArrayPool<float>.Shared.Rent(Math.Max(1, k * Panel));
        var cPanel = ArrayPool<float>.Shared.Rent(Math.Max(1, Math.Min(m, 8) * Panel));
        try
        {
            fixed (float* pb = bPanel, pc = cPanel)
            {
                for (int p = 0; p < k; p++)
                {
                    float* row = pb + (long)p * Panel;
                    for (int q = 0; q < width; q++) row[q] = b[(long)p * ldb + q];
                    for (int q = width; q < Panel; q++) row[q] = 0f;
                }
                for (int i = 0; i < m; i += 8)
                {
                    int rows = Math.Min(8, m - i);
                    if (rows == 8) Nn8x32(a + (long)i * rs, rs, cs, pb, Panel, pc, Panel, k);
                    else
                        for (int r = 0; r < rows; r++) Nn1xV(a + (long)(i + r) * rs, cs, pb, Panel, pc + r * Panel, k, width > Lanes ? 2 : 1);
                    for (int r = 0; r < rows; r++)
                        new ReadOnlySpan<float>(pc + r * Panel, width).CopyTo(new Span<float>(c + (long)(i + r) * ldc, width));
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(bPanel);
            ArrayPool<float>.Shared.Return(cPanel);
        }
    }

    private static void Nn1xV(float* x, int cs, float* b, int ldb, float* c, int k, int vectors)
    {
        var s0 = Vector512<float>.Zero;
        var s1 = Vector512<float>.Zero;
        for (int p = 0; p < k; p++)
        {
            var v = Vector512.Create(x[(long)p * cs]);
            float* row = b + (long)p * ldb;
            s0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(row), s0);
            if (vectors == 2) s1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(row + Lanes), s1);
        }
        s0.Store(c);
        if (vectors == 2) s1.Store(c + Lanes);
    }

    private static void Nn8x32(float* a, int rs, int cs, float* b, int ldb, float* c, int ldc, int k)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        long r = rs;
        for (int p = 0; p < k; p++)
        {
            float* row = b + (long)p * ldb;
            var w0 = Vector512.Load(row);
            var w1 = Vector512.Load(row + Lanes);
            float* x = a + (long)p * cs;
            var v = Vector512.Create(x[0]);
            c00 = Avx512F.FusedMultiplyAdd(v, w0, c00); c01 = Avx512F.FusedMultiplyAdd(v, w1, c01);
            v = Vector512.Create(x[r]);
            c10 = Avx512F.FusedMultiplyAdd(v, w0, c10); c11 = Avx512F.FusedMultiplyAdd(v, w1, c11);
            v = Vector512.Create(x[2 * r]);
            c20 = Avx512F.FusedMultiplyAdd(v, w0, c20); c21 = Avx512F.FusedMultiplyAdd(v, w1, c21);
            v = Vector512.Create(x[3 * r]);
            c30 = Avx512F.FusedMultiplyAdd(v, w0, c30); c31 = Avx512F.FusedMultiplyAdd(v, w1, c31);
            v = Vector512.Create(x[4 * r]);
            c40 = Avx512F.FusedMultiplyAdd(v, w0, c40); c41 = Avx512F.FusedMultiplyAdd(v, w1, c41);
            v = Vector512.Create(x[5 * r]);
            c50 = Avx512F.FusedMultiplyAdd(v, w0, c50); c51 = Avx512F.FusedMultiplyAdd(v, w1, c51);
            v = Vector512.Create(x[6 * r]);
            c60 = Avx512F.FusedMultiplyAdd(v, w0, c60); c61 = Avx512F.FusedMultiplyAdd(v, w1, c61);
            v = Vector512.Create(x[7 * r]);
            c70 = Avx512F.FusedMultiplyAdd(v, w0, c70); c71 = Avx512F.FusedMultiplyAdd(v, w1, c71);
        }
        long l = ldc;
        c00.Store(c); c01.Store(c + Lanes);
        c10.Store(c + l); c11.Store(c + l + Lanes);
        c20.Store(c + 2 * l); c21.Store(c + 2 * l + Lanes);
        c30.Store(c + 3 * l); c31.Store(c + 3 * l + Lanes);
        c40.Store(c + 4 * l); c41.Store(c + 4 * l + Lanes);
        c50.Store(c + 5 * l); c51.Store(c + 5 * l + Lanes);
        c60.Store(c + 6 * l); c61.Store(c + 6 * l + Lanes);
        c70.Store(c + 7 * l); c71.Store(c + 7 * l + Lanes);
    }
}
