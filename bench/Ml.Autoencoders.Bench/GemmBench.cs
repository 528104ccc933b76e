using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
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
        if (args.Contains("--fit")) return Fits(threads, reps, args);
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
                openblas, dnnl, P(x), inputs, P(w), inputs, transB: true, reps, calls, threads,
                viaTranspose: c =>
                {
                    using var wt = w.t().contiguous();
                    DenseGemm.Multiply(P(x), inputs, 1, P(wt), outputs, (float*)c, outputs, batch, outputs, inputs, threads);
                });
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
        Action<nint> own, CblasSgemm? openblas, DnnlSgemm? dnnl, float* pa, int lda, float* pb, int ldb, bool transB, int reps, int calls, int threads, bool transA = false, Action<nint>? viaTranspose = null)
    {
        using var expected = torchOp(a.to(float64), b.to(float64));
        var outputs = new List<Tensor>();
        var candidates = new List<(string Name, Action Call, Tensor Out)>();
        var tOut = torch.zeros(m, n);
        candidates.Add(("MKL", () => { using var r = torchOp(a, b); tOut.copy_(r); }, tOut));
        var oOut = torch.zeros(m, n);
        float* po = P(oOut);
        candidates.Add(("own", () => own((nint)po), oOut));
        var vOut = torch.zeros(m, n);
        float* pv = P(vOut);
        if (viaTranspose != null) candidates.Add(("own-T", () => viaTranspose((nint)pv), vOut));
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
        string? ob = openblas != null ? Med(times[2]).ToString("0", CultureInfo.InvariantCulture) : "-";
        string dn = dnnl != null ? Med(times[^1]).ToString("0", CultureInfo.InvariantCulture) : "-";
        int obIndex = viaTranspose != null ? 3 : 2;
        ob = openblas != null ? Med(times[obIndex]).ToString("0", CultureInfo.InvariantCulture) : "-";
        string viaT = viaTranspose != null ? $" (W^T copy + NN: {Med(times[2]):0} us)" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-22} {mkl,10:0} {ownT,9:0} {ownT / mkl,7:0.00} {gf,9:0} {ob,12} {dn,10}  | {string.Join(' ', candidates.Select(c => Err(c.Out)))}{viaT}"));
        foreach (var c in candidates) c.Out.Dispose();
        vOut.Dispose();
    }

    /// <summary>
    /// <c>--gemm --fit</c>: the classic dense autoencoder and the (e) recipes (VAE, stacked, denoising) fitted on generated
    /// 28x28 images with the dense layers on each route (<see cref="TorchRuntime.DenseLayerProducts"/>), alternating which
    /// goes first; samples/s after the first epoch, medians, and the median of the per-repetition ratios.
    /// </summary>
    private static int Fits(int threads, int reps, string[] args)
    {
        int rows = 16_384, epochs = 3;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rows") rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        var ml = new MLContext(seed: 0);
        var view = ml.Data.Cache(new GeneratedImages(rows));
        var recipes = new (string Name, Func<AutoencoderOptions> Options)[]
        {
            ("classic 784-64-32-16, batch 256", () => new AutoencoderOptions { LatentDimension = 16, HiddenLayerSizes = new[] { 64, 32 }, CodeActivation = Activation.ReLU, OutputActivation = Activation.Sigmoid, LearningRateSchedule = LearningRateSchedule.Constant, BatchSize = 256 }),
            ("vae 784-512-2, batch 128", () => Set(AutoencoderPresets.Variational(2), OptimizerKind.Adam, 1e-3, 128)),
            ("stacked 784-100-30 SGD, batch 256", () => Set(AutoencoderPresets.Stacked(new[] { 100 }, 30), OptimizerKind.Sgd, 1.5, 256)),
            ("denoising 784-256-64, batch 256", () => { var o = AutoencoderPresets.Denoising(0.6); o.HiddenLayerSizes = new[] { 256 }; o.LatentDimension = 64; return Set(o, OptimizerKind.Adam, 1e-3, 256); }),
        };
        Console.WriteLine($"Fit throughput by dense-layer route: {rows} generated rows, {epochs} epochs (first = warm-up), threads {threads}, reps {reps}, load {Load()}");
        foreach (var (name, make) in recipes)
        {
            var own = new List<double>();
            var mkl = new List<double>();
            var ratios = new List<double>();
            var ownCpu = new List<double>();
            var mklCpu = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                double a = 0, b = 0;
                foreach (var route in r % 2 == 0 ? new[] { DenseProducts.Library, DenseProducts.Libtorch } : new[] { DenseProducts.Libtorch, DenseProducts.Library })
                {
                    TorchRuntime.DenseLayerProducts = route;
                    var options = make();
                    options.Epochs = epochs;
                    options.Threads = threads;
                    options.Seed = 0;
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var model = ml.Transforms.Autoencoder(options).Fit(view);
                    double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                    double sps = model.History.SamplesPerSecond(1);
                    (route == DenseProducts.Library ? ownCpu : mklCpu).Add(cpuSeconds * 1e6 / ((double)rows * epochs));
                    model.Model.Dispose();
                    if (route == DenseProducts.Library) a = sps; else b = sps;
                }
                own.Add(a);
                mkl.Add(b);
                ratios.Add(a / b);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    rep {r + 1} {name}: own {a:0} samples/s, libtorch {b:0}, ratio {a / b:0.00}; process CPU per row (all epochs) own {ownCpu[^1]:0.0} us, libtorch {mklCpu[^1]:0.0} us"));
            }
            double Med(List<double> v) { var s = v.OrderBy(t => t).ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  => {name}: own {Med(own):0} vs libtorch {Med(mkl):0} samples/s, median ratio {Med(ratios):0.00}; CPU us/row own {Med(ownCpu):0.0} vs libtorch {Med(mklCpu):0.0}, libtorch/own {Med(mklCpu) / Med(ownCpu):0.00} (load {Load()})"));
        }
        TorchRuntime.DenseLayerProducts = DenseProducts.Libtorch;
        return 0;
    }

    private static AutoencoderOptions Set(AutoencoderOptions o, OptimizerKind optimizer, double lr, int batch)
    {
        o.Optimizer = optimizer;
        o.LearningRate = lr;
        o.LearningRateSchedule = LearningRateSchedule.Constant;
        o.BatchSize = batch;
        if (optimizer == OptimizerKind.Sgd) o.Momentum = 0;
        return o;
    }

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
