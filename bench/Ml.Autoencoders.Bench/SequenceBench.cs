using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Series;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// (l) The LSTM autoencoder on ECG windows against the same network in PyTorch (bench/reference/lstm_ae.py): the
/// windows of the ecg-anomaly sample (SciPy's electrocardiogram at 60 Hz, 18 planted anomalies in the last 2 minutes,
/// NormalizeMeanVariance + SlidingWindows of 48 steps, stride 2), written once to a file that both sides read; the same
/// layer sizes, repeat-vector decoder, loss, Adam with the cosine schedule, epochs, batch and seed. Per-window and
/// per-point AUROC and best F1 of each, and the Fit throughput ratio library / PyTorch (windows/s after one warm-up
/// epoch), the two sides interleaved.
/// </summary>
internal static partial class Program
{
    private static void PartL(Config cfg)
    {
        const int factor = 6, window = 48, stride = 2, hidden = 32, latent = 8, batch = 64, anomalyCount = 18, anomalySeed = 1, warmup = 1;
        int epochs = cfg.SequenceEpochs, reps = cfg.LRefReps;
        Header($"(l) LSTM autoencoder on ECG windows vs PyTorch: LSTM {hidden}, code {latent}, window {window}, {epochs} epochs ({warmup} warm-up), batch {batch}, {reps} rep(s) interleaved");
        string script = cfg.ReferenceScript ?? FindReferenceScript();
        string ecgFile = cfg.EcgFile ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(script))!, "data", "ecg", "electrocardiogram.txt");
        double rate = (double)Electrocardiogram.SampleRate / factor;
        var clean = Electrocardiogram.Downsample(Electrocardiogram.Load(ecgFile), factor);
        if (cfg.Quick) clean = clean[..(int)(100 * rate)];
        int split = (int)(clean.Length * 0.6);
        var (series, labels, _) = SeriesAnomalies.Inject(clean, split, clean.Length, cfg.Quick ? 6 : anomalyCount, rate, anomalySeed);
        var ml = new MLContext(seed: 0);
        IDataView View(float[] values) => ml.Data.LoadFromEnumerable(values.Select(v => new EcgRow { Ecg = v }).ToList());
        var trainSeries = View(series[..split]);
        var windowing = ml.Transforms.NormalizeMeanVariance(nameof(EcgRow.Ecg)).Append(ml.Transforms.SlidingWindows("Features", [nameof(EcgRow.Ecg)], window, stride)).Fit(trainSeries);
        var trainWindows = ml.Data.Cache(windowing.Transform(trainSeries));
        var testWindows = ml.Data.Cache(windowing.Transform(View(series[split..])));
        var trainRows = trainWindows.GetColumn<float[]>("Features").SelectMany(r => r).ToArray();
        var testRows = testWindows.GetColumn<float[]>("Features").SelectMany(r => r).ToArray();
        var starts = testWindows.GetColumn<long>("WindowStart").ToArray();
        var testLabels = labels[split..];
        int testLength = testLabels.Length;
        var windowLabels = starts.Select(s => testLabels.AsSpan((int)s, window).Contains(true)).ToArray();
        Console.WriteLine($"    data: {clean.Length:N0} steps at {rate:0} Hz, train {split:N0} steps -> {trainRows.Length / window:N0} windows, test {testLength:N0} steps -> {starts.Length:N0} windows " +
                          $"({windowLabels.Count(l => l):N0} touch one of the planted anomalies)");

        // --l-windows FILE keeps the file (to run lstm_ae.py alone on it); otherwise a temporary file, deleted at the end.
        string file = cfg.SequenceWindowsFile ?? Path.Combine(Path.GetTempPath(), $"ml-autoencoders-bench-l-{Environment.ProcessId}.bin");
        using (var writer = new BinaryWriter(File.Create(file)))
        {
            foreach (int v in new[] { 0x4C4D5345, window, 1, trainRows.Length / window, starts.Length, testLength }) writer.Write(v);
            foreach (float v in trainRows) writer.Write(v);
            foreach (float v in testRows) writer.Write(v);
            foreach (long s in starts) writer.Write(s);
            foreach (bool l in testLabels) writer.Write((byte)(l ? 1 : 0));
        }

        // (l) Transform: the raw side is the same network written directly in TorchSharp (nn.LSTM, nn.Linear), fresh weights.
        using var rawNet = new RawRecurrentNet(1, hidden, latent);
        var cursorRates = new List<double>();
        var rawRates = new List<double>();
        var rawTrainingKernelRates = new List<double>();
        var lib = new List<(double Speed, double Fit, double[] Metrics)>();
        var reference = new List<(double Speed, double Fit, double[] Metrics)>();
        double? float32Diff = null;
        try
        {
            for (int r = 0; r < reps; r++)
            {
                Collect();
                var sw = Stopwatch.StartNew();
                var model = ml.Transforms.Autoencoder(new AutoencoderOptions
                {
                    Body = new RecurrentOptions { Steps = window, Features = 1, HiddenSize = hidden },
                    HiddenLayerSizes = [], LatentDimension = latent, Epochs = epochs, BatchSize = batch, Seed = 0, Threads = cfg.Threads,
                }).Fit(trainWindows);
                double fit = sw.Elapsed.TotalSeconds;
                var reconstruction = model.Transform(testWindows).GetColumn<float[]>("Reconstruction").SelectMany(v => v).ToArray();
                var h = model.History;
                double speed = h.SamplesPerSecond(warmup);
                var (cursorRate, rawRate, rawTrainingKernelRate) = TransformRates(model, testWindows, testRows, window, hidden, latent, rawNet);
                cursorRates.Add(cursorRate);
                rawRates.Add(rawRate);
                rawTrainingKernelRates.Add(rawTrainingKernelRate);
                model.Release();
                var windowScores = Enumerable.Range(0, starts.Length).Select(w =>
                {
                    double sum = 0;
                    for (int j = w * window; j < (w + 1) * window; j++) sum += Math.Pow(testRows[j] - reconstruction[j], 2);
                    return (float)(sum / window);
                }).ToArray();
                var points = TimeStepErrorSeries.FromReconstructions(starts, testRows, reconstruction, window, testLength);
                var covered = Enumerable.Range(0, testLength).Where(t => points.WindowCounts[t] > 0).ToArray();
                var pointScores = covered.Select(t => points.Errors[t]).ToArray();
                var pointLabels = covered.Select(t => testLabels[t]).ToArray();
                double[] metrics =
                [
                    DetectionMetrics.Auroc(windowScores, windowLabels), DetectionMetrics.BestF1(windowScores, windowLabels).F1,
                    DetectionMetrics.Auroc(pointScores, pointLabels), DetectionMetrics.BestF1(pointScores, pointLabels).F1,
                ];
                lib.Add((speed, fit, metrics));
                Console.WriteLine($"    rep {r + 1} A library: {speed,8:N0} windows/s after warm-up, fit {fit:F1}s, final loss {h.Epochs[^1].TrainLoss:G4}; " +
                                  $"window AUROC {metrics[0]:F4} F1 {metrics[1]:F4}, point AUROC {metrics[2]:F4} F1 {metrics[3]:F4}; load {LoadAverage()}");
                Console.WriteLine($"    rep {r + 1} Transform of the {starts.Length:N0} test windows (median of 5 interleaved passes): cursor {cursorRate,8:N0} windows/s | raw nn.LSTM no_grad {rawRate,8:N0} | " +
                                  $"raw nn.LSTM training kernel {rawTrainingKernelRate,8:N0}; load average {LoadAverage()}");

                Collect();
                var args = $"\"{script}\" --script lstm_ae.py --windows \"{file}\" --threads {cfg.Threads} --epochs {epochs} --warmup-epochs {warmup} " +
                           $"--batch {batch} --hidden {hidden} --latent {latent} --lr 2e-3 --seed 0 --json";
                if (RunReference(args, "(l)", r, out double secs) is { } doc)
                {
                    using var _ = doc;
                    var root = doc.RootElement;
                    double[] m = new[] { "window_auroc", "window_best_f1", "point_auroc", "point_best_f1" }.Select(k => root.GetProperty(k).GetDouble()).ToArray();
                    reference.Add((root.GetProperty("samples_per_s").GetDouble(), root.GetProperty("fit_seconds").GetDouble(), m));
                    float32Diff = root.GetProperty("float32_vs_float64_max_abs").GetDouble();
                    Console.WriteLine($"    rep {r + 1} B PyTorch: {reference[^1].Speed,8:N0} windows/s after warm-up, fit {reference[^1].Fit:F1}s (process {secs:F1}s), final loss {root.GetProperty("final_loss").GetDouble():G4}; " +
                                      $"window AUROC {m[0]:F4} F1 {m[1]:F4}, point AUROC {m[2]:F4} F1 {m[3]:F4}; {root.GetProperty("versions").GetProperty("blas").GetString()}; load {LoadAverage()}");
                }
            }
        }
        finally
        {
            if (cfg.SequenceWindowsFile is null) File.Delete(file);
        }
        if (float32Diff is { } d) Console.WriteLine($"    PyTorch's float32 LSTM vs its float64 LSTM, same trained weights, 256 test windows: max |difference| {d:G3}");
        if (lib.Count == 0) return;
        double libSpeed = Median(lib.Select(x => x.Speed)), refSpeed = reference.Count > 0 ? Median(reference.Select(x => x.Speed)) : double.NaN;
        Console.WriteLine($"    => Fit throughput, median: library {libSpeed:N0} windows/s, PyTorch {Fmt(refSpeed)} windows/s: ratio {libSpeed / refSpeed:F2}");
        string[] names = ["window AUROC", "window best F1", "point AUROC", "point best F1"];
        for (int k = 0; k < names.Length; k++)
        {
            double a = Median(lib.Select(x => x.Metrics[k])), b = reference.Count > 0 ? Median(reference.Select(x => x.Metrics[k])) : double.NaN;
            Table.Add(new Row($"(l) ECG LSTM autoencoder {names[k]} vs PyTorch", $"{a:F4}", double.IsFinite(b) ? $"{b:F4}" : "n/a", a / b, "-", null));
        }
        Table.Add(new Row($"(l) ECG LSTM autoencoder Fit windows/s vs PyTorch ({epochs} epochs, batch {batch})", Fmt(libSpeed), Fmt(refSpeed), libSpeed / refSpeed, ">= 0.95", libSpeed / refSpeed >= 0.95));
        if (reference.Count == lib.Count && lib.Count > 0)
        {
            var pairs = lib.Zip(reference, (a, b) => a.Speed / b.Speed).ToList();
            Console.WriteLine($"    => Fit throughput per pair (library / PyTorch): {string.Join(", ", pairs.Select(x => x.ToString("F2")))}; median {Median(pairs):F2}");
            Table.Add(new Row($"(l) ECG LSTM autoencoder Fit, median of per-pair ratios [{pairs.Count} pairs]", "", "", Median(pairs), ">= 0.95", Median(pairs) >= 0.95));
        }
        Console.WriteLine("    Transform raw side: the same network in TorchSharp (nn.LSTM, nn.Linear; fresh weights), batches of 1024 rows copied into a frombuffer tensor, reconstructions copy_'d into a managed array; " +
                          $"under no_grad libtorch runs its float32 LSTM inference kernel (off by {rawNet.InferenceKernelError():G2} from float64 on 256 test-shaped windows here); the training-kernel row runs it with gradient recording on (parameters frozen): right, and what a raw user would need here");
        Summarise("(l) ECG LSTM autoencoder Transform windows/s: cursor vs raw nn.LSTM batched (no_grad)", cursorRates, rawRates, 0.80, "windows/s");
        Summarise("(l) ECG LSTM autoencoder Transform windows/s: cursor vs raw nn.LSTM batched, training kernel (right)", cursorRates, rawTrainingKernelRates, null, "windows/s");
        if (cfg.Quick) Notes.Add("(l) ran on the first 100 seconds with 6 anomalies (--quick): figures are indicative only.");
    }

    /// <summary>
    /// Transform throughput of the trained model over the test windows (a cursor over Reconstruction, a getter per row)
    /// against the raw network's batched forward on the same rows, five passes each, interleaved; medians in windows/s.
    /// </summary>
    private static (double Cursor, double Raw, double RawTrainingKernel) TransformRates(AutoencoderTransformer model, IDataView testWindows, float[] testRows, int window, int hidden, int latent, RawRecurrentNet raw)
    {
        var transformed = model.Transform(testWindows);
        var column = transformed.Schema["Reconstruction"];
        int rows = testRows.Length / window;
        double Cursor()
        {
            var sw = Stopwatch.StartNew();
            double check = 0;
            using var cursor = transformed.GetRowCursor(new[] { column });
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                check += buffer.GetValues()[0];
            }
            if (!double.IsFinite(check)) Notes.Add("(l) Transform checksum not finite");
            return rows / sw.Elapsed.TotalSeconds;
        }
        double Raw(bool trainingKernel)
        {
            var sw = Stopwatch.StartNew();
            raw.Pass(testRows, window, 1024, trainingKernel);
            return rows / sw.Elapsed.TotalSeconds;
        }
        Cursor(); Raw(false); Raw(true); // warm-up
        var c = new List<double>();
        var r = new List<double>();
        var t = new List<double>();
        for (int k = 0; k < 5; k++)
        {
            // Every other pass in reverse order, so that each side runs first equally often.
            if (k % 2 == 0) { c.Add(Cursor()); r.Add(Raw(false)); t.Add(Raw(true)); }
            else { t.Add(Raw(true)); r.Add(Raw(false)); c.Add(Cursor()); }
        }
        return (Median(c), Median(r), Median(t));
    }

    /// <summary>The (l) network written directly in TorchSharp: nn.LSTM encoder, Linear code, Linear + Tanh back, repeated, nn.LSTM decoder, Linear out.</summary>
    private sealed class RawRecurrentNet : IDisposable
    {
        private readonly TorchSharp.Modules.LSTM encoder, decoder;
        private readonly TorchSharp.Modules.Linear code, back, output;
        private readonly int features;

        public RawRecurrentNet(int features, int hidden, int latent)
        {
            this.features = features;
            encoder = torch.nn.LSTM(features, hidden, batchFirst: true);
            decoder = torch.nn.LSTM(hidden, hidden, batchFirst: true);
            code = torch.nn.Linear(hidden, latent);
            back = torch.nn.Linear(latent, hidden);
            output = torch.nn.Linear(hidden, features);
            foreach (var m in new torch.nn.Module[] { encoder, decoder, code, back, output })
                foreach (var p in m.parameters()) p.requires_grad_(false);
        }

        public Tensor Forward(Tensor x)
        {
            var (_, h, _) = encoder.forward(x, null);
            var state = back.forward(code.forward(h[-1])).tanh();
            var (o, _, _) = decoder.forward(state.unsqueeze(1).expand(-1, x.shape[1], -1), null);
            return output.forward(o);
        }

        /// <summary>All rows in batches: memcpy into a frombuffer tensor, forward, copy_ into a managed array.</summary>
        public double Pass(float[] rows, int window, int batch, bool trainingKernel)
        {
            int width = window * features, count = rows.Length / width;
            var input = new float[batch * width];
            var result = new float[batch * width];
            using var inputT = torch.frombuffer(input, ScalarType.Float32).view(batch, window, features);
            using var resultT = torch.frombuffer(result, ScalarType.Float32).view(batch, window, features);
            double check = 0;
            using var noGrad = torch.no_grad();
            using var grad = torch.enable_grad(trainingKernel);
            for (int done = 0; done < count;)
            {
                int n = Math.Min(batch, count - done);
                using var scope = NewDisposeScope();
                Array.Copy(rows, (long)done * width, input, 0, (long)n * width);
                var x = n == batch ? inputT : inputT.narrow(0, 0, n);
                (n == batch ? resultT : resultT.narrow(0, 0, n)).copy_(Forward(x));
                check += result[0];
                done += n;
            }
            return check;
        }

        /// <summary>Largest difference between the no_grad float32 forward and the same network in float64 on 256 random windows of 48 steps.</summary>
        public double InferenceKernelError()
        {
            using var scope = NewDisposeScope();
            using var noGrad = torch.no_grad();
            var x = torch.randn(256, 48, features, generator: new torch.Generator(3));
            var y32 = Forward(x);
            foreach (var m in new torch.nn.Module[] { encoder, decoder, code, back, output }) m.to(ScalarType.Float64);
            var y64 = Forward(x.to(ScalarType.Float64));
            foreach (var m in new torch.nn.Module[] { encoder, decoder, code, back, output }) m.to(ScalarType.Float32);
            return (y32.to(ScalarType.Float64) - y64).abs().max().item<double>();
        }

        public void Dispose()
        {
            foreach (var m in new torch.nn.Module[] { encoder, decoder, code, back, output }) m.Dispose();
        }
    }

    private sealed class EcgRow
    {
        public float Ecg { get; set; }
    }
}
