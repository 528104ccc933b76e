using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Transforms;
using TorchSharp;

namespace Ml.Autoencoders.Bench;

/// <summary>PredictionEngine input of the soak: one generated image.</summary>
internal sealed class SoakImage
{
    [VectorType(GeneratedImages.Size)]
    public float[] Features { get; set; } = new float[GeneratedImages.Size];
}

/// <summary>PredictionEngine output of the soak: the autoencoder's three default columns.</summary>
internal sealed class SoakPrediction
{
    public float[] LatentCode { get; set; } = Array.Empty<float>();

    public float[] Reconstruction { get; set; } = Array.Empty<float>();

    public float ReconstructionError { get; set; }
}

/// <summary>Options of the soak mode (<c>bash bench/run.sh --soak ...</c>).</summary>
internal sealed class SoakConfig
{
    public int Threads = 2;
    public long Rows = 5_000_000;          // (t) rows through the cursor
    public long Interval = 500_000;        // (t) rows between memory checkpoints
    public long WarmupRows = 1_000_000;    // (t) rows before the slope starts
    public long PredictionEngineRows = 200_000; // (p)
    public long DownstreamRows = 1_000_000; // (d) rows through each downstream cursor
    public int Epochs = 30;                // (e) epochs per fit
    public int WarmupEpochs = 5;           // (e) epochs before the slope starts
    public int TrainRows = 20_000;         // rows of the brief fit and of (e)
    public int FitEpochs = 2;              // epochs of the brief fit
    public int? TransformBatch;            // null = the library's default
    public HashSet<char> Parts = new() { 't', 'p', 'd', 'e' };
    public bool Quick;
    public string Command = "";

    // Thresholds (see bench/README.md, "Soak"). RSS and glibc's bytes in use are judged on the median of the growth
    // rates between consecutive checkpoints after the warm-up: a leak raises every interval, while one-off steps (glibc's
    // heap growing, the runtime allocating or freeing a block: measured 0.5-6 MB) raise or lower one. Managed memory after
    // a forced collection has no such steps and is judged on its least-squares slope.
    public const double MaxRssMbPerMillionRows = 2.0;
    public const double MaxRssMbPerEpoch = 0.5;
    public const double MaxMallocMbPerMillionRows = 2.0;
    public const double MaxMallocMbPerEpoch = 0.25;
    // RSS and malloc readings jitter by up to ~0.1 MB between two checkpoints (pages touched, runtime buffers), which
    // short intervals turn into large rates: their limit is at least JitterMb per interval.
    public const double JitterMb = 0.1;
    public const double MaxManagedMbPerMillionRows = 0.25;
    public const double MaxManagedMbPerEpoch = 0.05;

    public static SoakConfig Parse(string[] args)
    {
        var c = new SoakConfig();
        if (args.Contains("--quick"))
        {
            c.Quick = true;
            c.Rows = 1_000_000;
            c.Interval = 100_000;
            c.WarmupRows = 200_000;
            c.PredictionEngineRows = 50_000;
            c.DownstreamRows = 200_000;
            c.Epochs = 12;
            c.WarmupEpochs = 4;
            c.TrainRows = 5_000;
        }
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            long Long() => long.Parse(Next().Replace("_", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
            switch (a)
            {
                case "--soak":
                case "--quick":
                    break;
                case "--threads": c.Threads = (int)Long(); break;
                case "--rows": c.Rows = Long(); break;
                case "--interval": c.Interval = Long(); break;
                case "--warmup-rows": c.WarmupRows = Long(); break;
                case "--pe-rows": c.PredictionEngineRows = Long(); break;
                case "--downstream-rows": c.DownstreamRows = Long(); break;
                case "--epochs": c.Epochs = (int)Long(); break;
                case "--warmup-epochs": c.WarmupEpochs = (int)Long(); break;
                case "--train-rows": c.TrainRows = (int)Long(); break;
                case "--fit-epochs": c.FitEpochs = (int)Long(); break;
                case "--batch": c.TransformBatch = (int)Long(); break;
                case "--only": c.Parts = new HashSet<char>(Next().Where(char.IsLetter)); break;
                case "-h":
                case "--help":
                    Console.WriteLine("bash bench/run.sh --soak [--quick] [--threads T] [--rows N] [--interval N] [--warmup-rows N] [--pe-rows N] " +
                                      "[--downstream-rows N] [--epochs N] [--warmup-epochs N] [--train-rows N] [--fit-epochs N] [--batch N] [--only tpde]");
                    Environment.Exit(0);
                    break;
                default: throw new ArgumentException($"Unknown soak option {a} (try --soak --help)");
            }
        }
        if (c.Threads < 1 || c.Rows < 1 || c.Interval < 1 || c.WarmupRows < 0 || c.PredictionEngineRows < 10 || c.DownstreamRows < 10 ||
            c.Epochs < 3 || c.WarmupEpochs < 0 || c.TrainRows < 100 || c.FitEpochs < 1 || c.TransformBatch is < 1)
            throw new ArgumentException("soak: every count must be positive (--pe-rows and --downstream-rows >= 10, --epochs >= 3, --train-rows >= 100)");
        if (c.Rows < c.WarmupRows + 3 * c.Interval)
            throw new ArgumentException($"soak: --rows ({c.Rows}) must leave at least 3 checkpoints (--interval {c.Interval}) after --warmup-rows ({c.WarmupRows})");
        if (c.Epochs < c.WarmupEpochs + 3)
            throw new ArgumentException($"soak: --epochs ({c.Epochs}) must exceed --warmup-epochs ({c.WarmupEpochs}) by at least 3");
        c.Command = Environment.GetEnvironmentVariable("BENCH_COMMAND") is { Length: > 0 } cmd
            ? cmd
            : "dotnet Ml.Autoencoders.Bench.dll " + string.Join(' ', args);
        return c;
    }
}

/// <summary>
/// Soak mode: memory over long Transform runs and many epochs. Every checkpoint reads the managed heap, forces a full
/// collection, reads it again with the GC's committed bytes, the process RSS from /proc/self/status and TorchSharp's live
/// tensor counts; the growth per million rows (per epoch) is the least-squares slope after a warm-up.
/// </summary>
internal static class SoakBench
{
    private static readonly List<(string Figure, string Value, string Target, bool? Pass)> Results = new();

    public static int Run(string[] args)
    {
        SoakConfig cfg;
        try { cfg = SoakConfig.Parse(args); }
        catch (Exception e) { Console.Error.WriteLine(e.Message); return 2; }
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        var total = Stopwatch.StartNew();

        Runtime.TorchRuntime.EnsureLoaded();
        torch.set_num_threads(cfg.Threads);
        Console.WriteLine($"Ml.Autoencoders soak {(cfg.Quick ? "(QUICK: fewer rows and epochs)" : "")}");
        Console.WriteLine($"  command : {cfg.Command}");
        Console.WriteLine($"  host    : {Environment.ProcessorCount} logical cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, server GC {System.Runtime.GCSettings.IsServerGC}");
        Console.WriteLine($"  torch   : TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch threads {torch.get_num_threads()}");
        Console.WriteLine($"  env     : MALLOC_ARENA_MAX={Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") ?? "-"} MALLOC_MMAP_THRESHOLD_={Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") ?? "-"} MALLOC_TRIM_THRESHOLD_={Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") ?? "-"} DOTNET_GCgen0size={Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? "-"}");
        Console.WriteLine("  columns : managed = GC.GetTotalMemory(false); managed(GC) = the same after a forced full collection; committed = GC committed bytes;");
        Console.WriteLine("            RSS / anon = VmRSS / RssAnon of /proc/self/status; native~ = RssAnon - GC committed; malloc / mfree = glibc mallinfo2 bytes in use / free in its heaps;");
        Console.WriteLine("            thr = threads; live = TorchSharp live tensors (this thread / process), read before the forced collection");
        Console.WriteLine($"  start   : {Probe.Take().Describe()}");

        var ml = new MLContext(seed: 0);
        Console.WriteLine();
        var sw = Stopwatch.StartNew();
        var transformer = ml.Transforms.Autoencoder(Options(cfg, cfg.FitEpochs)).Fit(new GeneratedImages(cfg.TrainRows, seed: 11));
        if (cfg.TransformBatch is int batch) transformer.TransformBatchSize = batch;
        Console.WriteLine($"fit: {transformer.Model.Architecture}, {cfg.FitEpochs} epochs over {cfg.TrainRows:N0} generated rows in {sw.Elapsed.TotalSeconds:F1}s, " +
                          $"train loss {transformer.History.Epochs[^1].TrainLoss:F5}; transform batch {transformer.TransformBatchSize}");
        Console.WriteLine($"  after fit: {Probe.Take().Describe()}");
        try
        {
            if (cfg.Parts.Contains('t')) TransformSoak(cfg, transformer);
            if (cfg.Parts.Contains('p')) PredictionEngineSoak(cfg, ml, transformer);
            if (cfg.Parts.Contains('d')) DownstreamSoak(cfg, ml, transformer);
            if (cfg.Parts.Contains('e'))
            {
                EpochSoak(cfg, ml, DataCaching.Memory);
                EpochSoak(cfg, ml, DataCaching.Stream);
            }
        }
        finally
        {
            transformer.Model.Dispose();
        }

        Console.WriteLine();
        Console.WriteLine(new string('=', 120));
        Console.WriteLine($"SOAK SUMMARY ({(cfg.Quick ? "quick" : "full")}, threads {cfg.Threads}, total {total.Elapsed.TotalSeconds:F0}s)");
        Console.WriteLine($"command: {cfg.Command}");
        int w = Results.Max(r => r.Figure.Length);
        int wv = Results.Max(r => r.Value.Length);
        foreach (var r in Results)
            Console.WriteLine($"{r.Figure.PadRight(w)} | {r.Value.PadLeft(wv)} | {r.Target,-12} | {(r.Pass switch { true => "PASS", false => "FAIL", null => "" })}");
        Console.WriteLine($"targets: {Results.Count(r => r.Pass == true)} PASS, {Results.Count(r => r.Pass == false)} FAIL");
        Console.WriteLine($"  end     : {Probe.Take().Describe()}");
        return 0;
    }

    private static AutoencoderOptions Options(SoakConfig cfg, int epochs) => new()
    {
        HiddenLayerSizes = new[] { 128 },
        LatentDimension = 32,
        Epochs = epochs,
        BatchSize = 256,
        Threads = cfg.Threads,
        Seed = 0,
    };

    // ------------------------------------------------------------------------------------------------
    // (t) a long Transform through one cursor
    // ------------------------------------------------------------------------------------------------
    private static void TransformSoak(SoakConfig cfg, AutoencoderTransformer transformer)
    {
        Header($"(t) Transform cursor over {cfg.Rows:N0} generated rows (LatentCode, Reconstruction, ReconstructionError); checkpoint every {cfg.Interval:N0} rows, slope after {cfg.WarmupRows:N0}");
        var view = transformer.Transform(new GeneratedImages(cfg.Rows, seed: 1));
        var columns = new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError }
            .Select(n => view.Schema[n]).ToArray();
        var series = new Series("(t) cursor", cfg.WarmupRows);
        double checksum = 0;
        using (var cursor = view.GetRowCursor(columns))
        {
            var latent = cursor.GetGetter<VBuffer<float>>(columns[0]);
            var reconstruction = cursor.GetGetter<VBuffer<float>>(columns[1]);
            var error = cursor.GetGetter<float>(columns[2]);
            VBuffer<float> z = default, r = default;
            float e = 0;
            series.Start();
            long n = 0;
            while (cursor.MoveNext())
            {
                latent(ref z);
                reconstruction(ref r);
                error(ref e);
                checksum += e;
                if (++n % cfg.Interval == 0) series.Checkpoint(n);
            }
            if (n != cfg.Rows) throw new InvalidOperationException($"The cursor returned {n:N0} rows, not {cfg.Rows:N0}.");
            if (n % cfg.Interval != 0) series.Checkpoint(n);
        }
        Console.WriteLine($"    mean ReconstructionError {checksum / cfg.Rows:F6}; after disposing the cursor: {Probe.Take().Describe()}");
        series.Report(perMillion: true);
    }

    // ------------------------------------------------------------------------------------------------
    // (p) PredictionEngine, one row at a time
    // ------------------------------------------------------------------------------------------------
    private static void PredictionEngineSoak(SoakConfig cfg, MLContext ml, AutoencoderTransformer transformer)
    {
        long interval = Math.Max(1, cfg.PredictionEngineRows / 10);
        Header($"(p) PredictionEngine<SoakImage, SoakPrediction> over {cfg.PredictionEngineRows:N0} generated rows (all three columns); checkpoint every {interval:N0}, slope after {2 * interval:N0}");
        var source = new GeneratedImages(cfg.PredictionEngineRows, seed: 5);
        var series = new Series("(p) PredictionEngine", 2 * interval);
        double checksum = 0;
        using (var engine = ml.Model.CreatePredictionEngine<SoakImage, SoakPrediction>(transformer))
        {
            var input = new SoakImage();
            var output = new SoakPrediction();
            series.Start();
            for (long row = 0; row < cfg.PredictionEngineRows; row++)
            {
                source.Fill(row, input.Features);
                engine.Predict(input, ref output);
                checksum += output.ReconstructionError;
                if ((row + 1) % interval == 0) series.Checkpoint(row + 1);
            }
        }
        Console.WriteLine($"    mean ReconstructionError {checksum / cfg.PredictionEngineRows:F6}; after disposing the engine: {Probe.Take().Describe()}");
        series.Report(perMillion: true);
    }

    // ------------------------------------------------------------------------------------------------
    // (d) downstream cursors: the anomaly detector, and a k-NN on the latent codes (two chained cursors)
    // ------------------------------------------------------------------------------------------------
    private static void DownstreamSoak(SoakConfig cfg, MLContext ml, AutoencoderTransformer transformer)
    {
        long interval = Math.Max(1, cfg.DownstreamRows / 10);
        var sw = Stopwatch.StartNew();
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = Options(cfg, cfg.FitEpochs) })
            .Fit(new GeneratedImages(cfg.TrainRows, seed: 11));
        Header($"(d1) anomaly detector (784-128-32, {cfg.FitEpochs} epochs, fitted in {sw.Elapsed.TotalSeconds:F1}s): cursor over Score and PredictedLabel of {cfg.DownstreamRows:N0} rows; checkpoint every {interval:N0}, slope after {2 * interval:N0}");
        try
        {
            var view = detector.Transform(new GeneratedImages(cfg.DownstreamRows, seed: 2));
            var series = new Series("(d1) anomaly cursor", 2 * interval);
            long anomalies = 0;
            using (var cursor = view.GetRowCursor(new[] { view.Schema["Score"], view.Schema["PredictedLabel"] }))
            {
                var score = cursor.GetGetter<float>(view.Schema["Score"]);
                var label = cursor.GetGetter<bool>(view.Schema["PredictedLabel"]);
                float s = 0;
                bool l = false;
                series.Start();
                long n = 0;
                while (cursor.MoveNext())
                {
                    score(ref s);
                    label(ref l);
                    if (l) anomalies++;
                    if (++n % interval == 0) series.Checkpoint(n);
                }
            }
            Console.WriteLine($"    {anomalies:N0} rows above the threshold; after disposing the cursor: {Probe.Take().Describe()}");
            series.Report(perMillion: true);
        }
        finally
        {
            detector.Autoencoder.Model.Dispose();
        }

        const int knnTrainRows = 5_000;
        sw.Restart();
        var knn = ml.MulticlassClassification.Trainers.KNearestNeighbors("Label", AutoencoderColumnNames.LatentCode, 5)
            .Fit(transformer.Transform(new GeneratedImages(knnTrainRows, seed: 3)));
        Header($"(d2) k-NN (k = 5, {knnTrainRows:N0} training codes, fitted in {sw.Elapsed.TotalSeconds:F1}s) on the autoencoder's LatentCode: cursor over Score and PredictedLabel of " +
               $"k-NN(autoencoder(rows)), {cfg.DownstreamRows:N0} rows; checkpoint every {interval:N0}, slope after {2 * interval:N0}");
        {
            var view = knn.Transform(transformer.Transform(new GeneratedImages(cfg.DownstreamRows, seed: 4)));
            var labels = new GeneratedImages(cfg.DownstreamRows, seed: 4);
            var series = new Series("(d2) k-NN cursor", 2 * interval);
            long correct = 0;
            using (var cursor = view.GetRowCursor(new[] { view.Schema["Score"], view.Schema["PredictedLabel"] }))
            {
                var score = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
                var predicted = cursor.GetGetter<uint>(view.Schema["PredictedLabel"]);
                VBuffer<float> s = default;
                uint p = 0;
                series.Start();
                long n = 0;
                while (cursor.MoveNext())
                {
                    score(ref s);
                    predicted(ref p);
                    if (p == labels.Label(cursor.Position) + 1) correct++;
                    if (++n % interval == 0) series.Checkpoint(n);
                }
            }
            Console.WriteLine($"    accuracy {(double)correct / cfg.DownstreamRows:F4}; after disposing the cursor: {Probe.Take().Describe()}");
            series.Report(perMillion: true);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // (e) many epochs
    // ------------------------------------------------------------------------------------------------
    private static void EpochSoak(SoakConfig cfg, MLContext ml, DataCaching caching)
    {
        Header($"(e) {cfg.Epochs} epochs over {cfg.TrainRows:N0} generated rows, Caching = {caching}; checkpoint after every epoch, slope after epoch {cfg.WarmupEpochs}");
        var series = new Series($"(e) epochs, {caching}", cfg.WarmupEpochs, epochs: true);
        var options = Options(cfg, cfg.Epochs);
        options.Caching = caching;
        options.Progress = new EpochProbe(series);
        var before = Probe.Take();
        Console.WriteLine($"    before fit: {before.Describe()}");
        series.Start();
        var t = ml.Transforms.Autoencoder(options).Fit(new GeneratedImages(cfg.TrainRows, seed: 12));
        Console.WriteLine($"    {t.History.Epochs.Count} epochs, {t.History.SamplesPerSecond(Math.Min(3, t.History.Epochs.Count - 1)):N0} rows/s, final train loss {t.History.Epochs[^1].TrainLoss:F5}");
        t.Model.Dispose();
        var after = Probe.Take();
        Console.WriteLine($"    after fit and Model.Dispose(): {after.Describe()}  (RSS {after.RssMb - before.RssMb:+0.0;-0.0} MB, live tensors {after.LiveThread - before.LiveThread:+0;-0} since before fit)");
        series.Report(perMillion: false);
    }

    /// <summary>Takes a checkpoint after every epoch, synchronously on the training thread.</summary>
    private sealed class EpochProbe(Series series) : IProgress<Training.EpochRecord>
    {
        public void Report(Training.EpochRecord value) => series.Checkpoint(value.Epoch);
    }

    // ------------------------------------------------------------------------------------------------
    // measurement
    // ------------------------------------------------------------------------------------------------

    /// <summary>Checkpoints of one run and the least-squares growth after its warm-up.</summary>
    private sealed class Series(string name, long warmup, bool epochs = false)
    {
        private readonly List<(long X, Probe M, double Seconds)> points = new();
        private readonly Stopwatch clock = new();
        private double excluded; // seconds spent in checkpoints, left out of the rate

        public void Start()
        {
            var m = Probe.Take();
            points.Add((0, m, 0));
            Console.WriteLine($"    {(epochs ? "epoch" : "rows"),11} {"elapsed",8} {(epochs ? "s/epoch" : "rows/s"),9} | {"managed",7} {"mgd(GC)",7} {"commit",6} | {"RSS",7} {"anon",7} {"native~",7} {"malloc",7} {"mfree",6} {"thr",3} | {"live",9}");
            Console.WriteLine(Line(0, 0, double.NaN, m));
            clock.Restart();
            excluded = 0;
        }

        public void Checkpoint(long x)
        {
            double now = clock.Elapsed.TotalSeconds;
            double work = now - excluded; // seconds of work so far, checkpoints left out
            var m = Probe.Take();
            excluded += clock.Elapsed.TotalSeconds - now;
            var last = points[^1];
            double rate = epochs ? (work - last.Seconds) / Math.Max(1, x - last.X) : (x - last.X) / Math.Max(1e-9, work - last.Seconds);
            points.Add((x, m, work));
            Console.WriteLine(Line(x, work, rate, m));
        }

        private string Line(long x, double seconds, double rate, Probe m) =>
            $"    {x,11:N0} {seconds,7:F1}s {(double.IsNaN(rate) ? "" : rate.ToString(epochs ? "F2" : "N0", CultureInfo.InvariantCulture)),9} | {m.ManagedMb,7:F1} {m.ManagedAfterGcMb,7:F2} {m.GcCommittedMb,6:F1} | " +
            $"{m.RssMb,7:F1} {m.RssAnonMb,7:F1} {m.NativeMb,7:F1} {m.MallocInUseMb,7:F2} {m.MallocFreeMb,6:F1} {m.Threads,3} | {m.LiveThread,4} / {m.LiveAll,-4}";

        public void Report(bool perMillion)
        {
            var used = points.Where(p => p.X >= warmup).ToList();
            double scale = perMillion ? 1e6 : 1;
            string unit = perMillion ? "MB per million rows" : "MB per epoch";
            string range = perMillion ? $"rows {used[0].X:N0}..{used[^1].X:N0}" : $"epochs {used[0].X}..{used[^1].X}";
            if (used.Count < 3)
            {
                Console.WriteLine($"    {name}: too few checkpoints after the warm-up for a slope");
                Results.Add(($"{name}: growth", "n/a", "", null));
                return;
            }
            // Least-squares slope: the growth per million rows (per epoch) over the window.
            double Slope(Func<Probe, double> y) => LeastSquaresSlope(used.Select(p => p.X / scale).ToArray(), used.Select(p => y(p.M)).ToArray());
            // Median of the growth rates between consecutive checkpoints: a leak raises every interval, a one-off step
            // (the heap growing, the runtime freeing a block) one interval, which the median ignores.
            double MedianRate(Func<Probe, double> y) => Median(used.Zip(used.Skip(1), (a, b) => (y(b.M) - y(a.M)) / ((b.X - a.X) / scale)));
            double rss = Slope(m => m.RssMb), native = Slope(m => m.NativeMb), malloc = Slope(m => m.MallocInUseMb), managed = Slope(m => m.ManagedAfterGcMb);
            double rssMedian = MedianRate(m => m.RssMb), mallocMedian = MedianRate(m => m.MallocInUseMb);
            long liveFirst = used[0].M.LiveThread, liveLast = used[^1].M.LiveThread;
            long allFirst = used[0].M.LiveAll, allLast = used[^1].M.LiveAll;
            double seconds = points[^1].Seconds;
            string rate = perMillion ? $"{points[^1].X / seconds:N0} rows/s" : $"{seconds / points[^1].X:F2} s/epoch";
            // Collections the run itself caused (the checkpoints' forced ones left out), per million rows or per epoch.
            var natural = new double[3];
            for (int i = 1; i < points.Count; i++)
                for (int g = 0; g < 3; g++) natural[g] += points[i].M.GcBefore[g] - points[i - 1].M.GcAfter[g];
            double per = points[^1].X / scale;
            Console.WriteLine($"    => {name}, {range} ({used.Count} checkpoints, {rate}, {seconds:F1}s): growth {unit} (least squares): RSS {Signed(rss, 3)}, native~ {Signed(native, 3)}, " +
                              $"malloc in use {Signed(malloc, 3)}, managed after GC {Signed(managed, 4)}; median of the intervals: RSS {Signed(rssMedian, 3)}, malloc in use {Signed(mallocMedian, 3)}; " +
                              $"RSS {used[0].M.RssMb:F1} -> {used[^1].M.RssMb:F1} MB (max {used.Max(p => p.M.RssMb):F1}); live tensors {liveFirst} -> {liveLast} (process {allFirst} -> {allLast}); " +
                              $"collections (gen0/1/2, not forced) {natural[0] / per:F1} / {natural[1] / per:F1} / {natural[2] / per:F1} {(perMillion ? "per million rows" : "per epoch")}");
            double interval = Median(used.Zip(used.Skip(1), (a, b) => (b.X - a.X) / scale));
            double rssLimit = Math.Max(perMillion ? SoakConfig.MaxRssMbPerMillionRows : SoakConfig.MaxRssMbPerEpoch, SoakConfig.JitterMb / interval);
            double mallocLimit = Math.Max(perMillion ? SoakConfig.MaxMallocMbPerMillionRows : SoakConfig.MaxMallocMbPerEpoch, SoakConfig.JitterMb / interval);
            double managedLimit = perMillion ? SoakConfig.MaxManagedMbPerMillionRows : SoakConfig.MaxManagedMbPerEpoch;
            Results.Add(($"{name}: RSS growth, {unit} ({range}), least squares", Signed(rss, 3), "(info)", null));
            Results.Add(($"{name}: RSS growth, {unit}, median of intervals", Signed(rssMedian, 3), $"< {rssLimit:0.##}", rssMedian < rssLimit));
            Results.Add(($"{name}: malloc in use growth, {unit}, least squares", Signed(malloc, 3), "(info)", null));
            Results.Add(($"{name}: malloc in use growth, {unit}, median of intervals", Signed(mallocMedian, 3), $"< {mallocLimit:0.##}", double.IsNaN(mallocMedian) ? null : mallocMedian < mallocLimit));
            Results.Add(($"{name}: managed growth after GC, {unit}, least squares", Signed(managed, 4), $"< {managedLimit}", managed < managedLimit));
            Results.Add(($"{name}: live tensors after warm-up (this thread)", $"{liveFirst} -> {liveLast}", "unchanged", liveFirst == liveLast));
        }

        private static double Median(IEnumerable<double> values)
        {
            var v = values.OrderBy(x => x).ToArray();
            return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        }
    }

    private static string Signed(double value, int decimals)
    {
        double rounded = Math.Round(value, decimals);
        return (rounded >= 0 ? "+" : "") + (rounded == 0 ? 0.0 : rounded).ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>This process's resident memory (VmRSS), MB.</summary>
    internal static double ResidentMb() => Probe.ReadStatus().Rss;

    internal static double LeastSquaresSlope(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average();
        double sxy = 0, sxx = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxx == 0 ? double.NaN : sxy / sxx;
    }

    /// <summary>One memory reading. Live tensor counts are read before the forced collection, so tensors left to finalizers show.</summary>
    private sealed record Probe(double ManagedMb, double ManagedAfterGcMb, double GcCommittedMb, double RssMb, double RssAnonMb,
        double MallocInUseMb, double MallocFreeMb, int Threads, long LiveThread, long LiveAll, int[] GcBefore, int[] GcAfter)
    {
        public double NativeMb => RssAnonMb - GcCommittedMb;

        public static Probe Take()
        {
            double managed = GC.GetTotalMemory(false) / 1048576.0;
            long liveThread = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long liveAll = torch.Tensor.TotalCount;
            var gcBefore = Collections();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            var gcAfter = Collections();
            double afterGc = GC.GetTotalMemory(false) / 1048576.0;
            double committed = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes / 1048576.0;
            var (rss, anon, threads) = ReadStatus();
            var (inUse, free) = Malloc();
            return new Probe(managed, afterGc, committed, rss, anon, inUse, free, threads, liveThread, liveAll, gcBefore, gcAfter);
        }

        private static int[] Collections() => new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) };

        public string Describe() =>
            $"managed {ManagedMb:F1} MB ({ManagedAfterGcMb:F2} after GC, {GcCommittedMb:F1} committed), RSS {RssMb:F1} MB (anon {RssAnonMb:F1}, native~ {NativeMb:F1}, " +
            $"malloc in use {MallocInUseMb:F1}, free {MallocFreeMb:F1}), {Threads} threads, live tensors {LiveThread} / {LiveAll}";

        internal static (double Rss, double Anon, int Threads) ReadStatus()
        {
            double rss = double.NaN, anon = double.NaN;
            int threads = 0;
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kb(line);
                else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
            }
            return (rss, anon, threads);
        }

        /// <summary>glibc's malloc statistics over all arenas: bytes in use (heap chunks + mmapped blocks) and free bytes kept in the heaps.</summary>
        private static (double InUse, double Free) Malloc()
        {
            try
            {
                var info = mallinfo2();
                return ((double)(info.uordblks + info.hblkhd) / 1048576.0, (double)info.fordblks / 1048576.0);
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                return (double.NaN, double.NaN);
            }
        }

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallinfo2")]
        private static extern MallInfo2 mallinfo2();

        /// <summary>glibc's struct mallinfo2 (2.33 and later).</summary>
        [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
        private struct MallInfo2
        {
            public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
        }

        private static double Kb(string line) =>
            long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    private static void Header(string text)
    {
        Console.WriteLine();
        Console.WriteLine(text);
    }
}
