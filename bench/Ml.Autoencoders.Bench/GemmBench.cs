using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// The dense-layer GEMM micro-benchmark (<c>bash bench/run.sh --gemm</c>): for each layer shape the library trains (batch,
/// in, out), its three products (forward x W^T, input gradient dY W, weight gradient dY^T x) timed through libtorch
/// (<c>torch.mm</c>, MKL inside libtorch-cpu), the library's own kernels (<see cref="DenseGemm"/>), and, where the
/// system has them, OpenBLAS (<c>cblas_sgemm</c> of libopenblas.so.0) and oneDNN (<c>dnnl_sgemm</c> of libdnnl.so.2).
/// Candidates run interleaved in every repetition; each figure is the median over repetitions of the mean time of
/// <c>--calls</c> calls. The largest error against a float64 product is printed for each candidate.
/// </summary>
internal static unsafe class GemmBench
{
    private delegate void CblasSgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);
    private delegate void OpenBlasSetThreads(int threads);
    private delegate int DnnlSgemm(sbyte transA, sbyte transB, long m, long n, long k, float alpha, float* a, long lda, float* b, long ldb, float beta, float* c, long ldc);
    private delegate int DnnlSetThreads(int threads);

    public static int Run(string[] args)
    {
        int threads = 2, reps = 7, calls = 200;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--reps") reps = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--calls") calls = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        TorchRuntime.EnsureLoaded();
        torch.set_num_threads(threads);
        Console.WriteLine($"GEMM micro-benchmark: threads {threads}, reps {reps} x {calls} calls, load {Load()}");
        Console.WriteLine($"  own kernels: {(DenseGemm.IsSupported ? "AVX-512F" : "not supported on this CPU")}");

        CblasSgemm? openblas = null;
        if (NativeLibrary.TryLoad("libopenblas.so.0", out var ob) && NativeLibrary.TryGetExport(ob, "cblas_sgemm", out var f))
        {
            openblas = Marshal.GetDelegateForFunctionPointer<CblasSgemm>(f);
            if (NativeLibrary.TryGetExport(ob, "openblas_set_num_threads", out var st)) Marshal.GetDelegateForFunctionPointer<OpenBlasSetThreads>(st)(threads);
            string core = NativeLibrary.TryGetExport(ob, "openblas_get_corename", out var cn) ? Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)cn)()) ?? "?" : "?";
            Console.WriteLine($"  OpenBLAS   : libopenblas.so.0 ({core} kernel)");
        }
        else Console.WriteLine("  OpenBLAS   : not found");
        DnnlSgemm? dnnl = null;
        if (NativeLibrary.TryLoad("libdnnl.so.2", out var dn) && NativeLibrary.TryGetExport(dn, "dnnl_sgemm", out var g))
        {
            dnnl = Marshal.GetDelegateForFunctionPointer<DnnlSgemm>(g);
            if (NativeLibrary.TryGetExport(dn, "dnnl_set_num_threads", out var st)) Marshal.GetDelegateForFunctionPointer<DnnlSetThreads>(st)(threads);
            Console.WriteLine("  oneDNN     : libdnnl.so.2");
        }
        else Console.WriteLine("  oneDNN     : not found");

        var layers = new (int Batch, int In, int Out)[] { (128, 784, 512), (128, 512, 784), (256, 784, 64), (256, 64, 784), (256, 784, 256), (256, 256, 784), (256, 784, 100), (256, 100, 784), (256, 64, 32) };
        Console.WriteLine("  op   (MxKxN)          torch/MKL us   own us  own/MKL  own GF/s   OpenBLAS us  oneDNN us  | max |err| MKL own OB DNNL");
        foreach (var (batch, inputs, outputs) in layers)
        {
            using var scope = NewDisposeScope();
            var gen = new Generator(1);
            var x = rand(new long[] { batch, inputs }, generator: gen);
            var w = randn(new long[] { outputs, inputs }, generator: gen).mul(0.05);
            var dy = randn(new long[] { batch, outputs }, generator: gen);
            Measure($"fwd {batch}x{inputs}x{outputs}", batch, inputs, outputs, x, w, (a, b) => a.mm(b.t()), false, false,
                (c) => DenseGemm.MultiplyTransposed(P(x), inputs, P(w), inputs, (float*)c, outputs, null, batch, outputs, inputs, threads),
                openblas, dnnl, P(x), inputs, P(w), inputs, transB: true, reps, calls, threads);
            Measure($"dX  {batch}x{outputs}x{inputs}", batch, outputs, inputs, dy, w, (a, b) => a.mm(b), false, false,
                (c) => DenseGemm.Multiply(P(dy), outputs, 1, P(w), inputs, (float*)c, inputs, batch, inputs, outputs, threads),
                openblas, dnnl, P(dy), outputs, P(w), inputs, transB: false, reps, calls, threads);
            Measure($"dW  {outputs}x{batch}x{inputs}", outputs, batch, inputs, dy, x, (a, b) => a.t().mm(b), true, false,
                (c) => DenseGemm.Multiply(P(dy), 1, outputs, P(x), inputs, (float*)c, inputs, outputs, inputs, batch, threads),
                openblas, dnnl, P(dy), outputs, P(x), inputs, transB: false, reps, calls, threads, transA: true);
        }
        return 0;
    }

    private static float* P(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(TensorSpans.AsSpan<float>(t)));

    private static void Measure(string name, int m, int k, int n, Tensor a, Tensor b, Func<Tensor, Tensor, Tensor> torchOp, bool _, bool __,
        Action<nint> own, CblasSgemm? openblas, DnnlSgemm? dnnl, float* pa, int lda, float* pb, int ldb, bool transB, int reps, int calls, int threads, bool transA = false)
    {
        using var expected = torchOp(a.to(float64), b.to(float64));
        var outputs = new List<Tensor>();
        var candidates = new List<(string Name, Action Call, Tensor Out)>();
        var tOut = torch.zeros(m, n);
        candidates.Add(("MKL", () => { using var r = torchOp(a, b); tOut.copy_(r); }, tOut));
        var oOut = torch.zeros(m, n);
        float* po = P(oOut);
        candidates.Add(("own", () => own((nint)po), oOut));
        if (openblas != null)
        {
            var bOut = torch.zeros(m, n);
            float* pbo = P(bOut);
            candidates.Add(("OpenBLAS", () => openblas(101, transA ? 112 : 111, transB ? 112 : 111, m, n, k, 1f, pa, lda, pb, ldb, 0f, pbo, n), bOut));
        }
        if (dnnl != null)
        {
            var dOut = torch.zeros(m, n);
            float* pdo = P(dOut);
            candidates.Add(("oneDNN", () => dnnl((sbyte)(transA ? 'T' : 'N'), (sbyte)(transB ? 'T' : 'N'), m, n, k, 1f, pa, lda, pb, ldb, 0f, pdo, n), dOut));
        }
        var times = candidates.Select(_ => new List<double>()).ToList();
        foreach (var c in candidates) for (int i = 0; i < 20; i++) c.Call();
        for (int r = 0; r < reps; r++)
            for (int ci = 0; ci < candidates.Count; ci++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++) candidates[ci].Call();
                times[ci].Add(sw.Elapsed.TotalMilliseconds * 1000 / calls);
            }
        double Med(List<double> v) { var s = v.OrderBy(t => t).ToList(); return s[s.Count / 2]; }
        string Err(Tensor t) => (t.to(float64) - expected).abs().max().item<double>().ToString("0.0e0", CultureInfo.InvariantCulture);
        double mkl = Med(times[0]), ownT = Med(times[1]);
        double gf = 2.0 * m * n * k / ownT / 1000;
        string ob = openblas != null ? Med(times[2]).ToString("0", CultureInfo.InvariantCulture) : "-";
        string dn = dnnl != null ? Med(times[^1]).ToString("0", CultureInfo.InvariantCulture) : "-";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-22} {mkl,10:0} {ownT,9:0} {ownT / mkl,7:0.00} {gf,9:0} {ob,12} {dn,10}  | {string.Join(' ', candidates.Select(c => Err(c.Out)))}"));
        foreach (var c in candidates) c.Out.Dispose();
    }

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
