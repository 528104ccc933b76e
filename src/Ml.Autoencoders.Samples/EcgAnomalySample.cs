using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Series;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// Anomalies in an electrocardiogram, per window and per point. SciPy's electrocardiogram (5 minutes at 360 Hz) is
/// averaged down to 60 Hz; the first 3 minutes are the (unlabelled, assumed normal) training series, the last 2 get 18
/// planted anomalies (<see cref="SeriesAnomalies"/>: spikes, level shifts, noise bursts, flat lines, inverted and widened
/// beats; seeded). ML.NET pipeline: NormalizeMeanVariance, SlidingWindows (48 steps = 0.8 s, stride 2), then the anomaly
/// detector with an LSTM body, with a dense body of the same code size, and PCA of the windows; TimeStepErrors takes the
/// windows' errors back to the points. AUROC and best F1 per window and per point, and a PNG of the test series with the
/// LSTM's per-point scores and the points it flags.
/// </summary>
internal static class EcgAnomalySample
{
    /// <summary>One step of the series as an ML.NET row.</summary>
    private sealed class EcgStep
    {
        public float Ecg { get; set; }
    }

    private sealed record Method(string Name, float[] WindowScores, float[] PointScores, float[] TrainPointScores, double FitSeconds, string Detail);

    public static void Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        string ecgFile = SampleData.Arg(args, "--ecg") ?? Path.Combine(outDir, "electrocardiogram.txt");
        int Int(string name, int fallback) => SampleData.Arg(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int factor = Int("--downsample", 6), window = Int("--window", 48), stride = Int("--stride", 2), hidden = Int("--hidden", 32),
            latent = Int("--latent", 8), epochs = Int("--epochs", quick ? 3 : 20), batch = Int("--batch", 64), seed = Int("--seed", 0);
        int anomalyCount = Int("--anomalies", quick ? 6 : 18), anomalySeed = Int("--anomaly-seed", 1);
        double rate = (double)Electrocardiogram.SampleRate / factor;

        // The series: 5 minutes averaged down to 60 Hz (--quick: the first 100 seconds); 60 % training, 40 % test.
        var full = Electrocardiogram.Downsample(Electrocardiogram.Load(ecgFile), factor);
        var clean = quick ? full[..(int)(100 * rate)] : full;
        int split = (int)(clean.Length * 0.6);
        var (series, labels, anomalies) = SeriesAnomalies.Inject(clean, split, clean.Length, anomalyCount, rate, anomalySeed);
        var train = series[..split];
        var test = series[split..];
        var testLabels = labels[split..];
        var testAnomalies = anomalies.Select(a => a with { Start = a.Start - split }).ToList();
        Console.WriteLine($"\nSciPy's electrocardiogram, averaged over blocks of {factor} samples: {clean.Length:N0} steps at {rate:0.#} Hz ({clean.Length / rate:0} s).");
        Console.WriteLine($"Training series: steps 0-{split - 1} ({split / rate:0} s; unlabelled, taken as normal: it holds the record's own irregular beats).");
        Console.WriteLine($"Test series: steps {split}-{clean.Length - 1} ({test.Length / rate:0} s) with {anomalies.Count} planted anomalies (seed {anomalySeed}), {testLabels.Count(l => l):N0} anomalous points ({testLabels.Count(l => l) / (double)test.Length:P1}):");
        foreach (var a in anomalies)
            Console.WriteLine($"  {a.Kind,-13} at {a.Start / rate,6:0.00} s, {a.Length,3} steps ({a.Length / rate:0.00} s): {a.Description}");

        var ml = new MLContext(seed: seed);
        var trainView = ml.Data.LoadFromEnumerable(train.Select(v => new EcgStep { Ecg = v }).ToList());
        var testView = ml.Data.LoadFromEnumerable(test.Select(v => new EcgStep { Ecg = v }).ToList());
        var windowing = ml.Transforms.NormalizeMeanVariance(nameof(EcgStep.Ecg))
            .Append(ml.Transforms.SlidingWindows("Features", [nameof(EcgStep.Ecg)], window, stride))
            .Fit(trainView);
        var trainWindows = ml.Data.Cache(windowing.Transform(trainView));
        var testWindows = ml.Data.Cache(windowing.Transform(testView));
        var starts = testWindows.GetColumn<long>("WindowStart").ToArray();
        var windowLabels = starts.Select(s => testLabels.AsSpan((int)s, window).Contains(true)).ToArray();
        Console.WriteLine($"\nWindows of {window} steps ({window / rate:0.00} s), stride {stride}: {trainWindows.GetRowCount():N0} training windows, {starts.Length:N0} test windows " +
                          $"({windowLabels.Count(l => l):N0} touch an anomaly). Code size {latent} for every method; {epochs} epochs, batch {batch}, Adam 2e-3 (cosine), seed {seed}.");

        var methods = new List<Method>();
        AutoencoderAnomalyTransformer? lstm = null;
        foreach (bool recurrent in new[] { true, false })
        {
            var options = new AutoencoderOptions
            {
                Body = recurrent ? new RecurrentOptions { Steps = window, Features = 1, HiddenSize = hidden } : null,
                HiddenLayerSizes = recurrent ? [] : [hidden], LatentDimension = latent, Epochs = epochs, BatchSize = batch, Seed = seed,
            };
            var clock = Stopwatch.StartNew();
            var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = options, FeatureErrorsColumnName = "Errors", Contamination = 0.01 })
                .Fit(trainWindows);
            double seconds = clock.Elapsed.TotalSeconds;
            var history = detector.Autoencoder.History;
            // The windows' per-value errors back to the points: one row per step of the test (and training) series.
            var perStep = ml.Transforms.TimeStepErrors(new TimeStepErrorOptions { SquaredErrorsColumnName = "Errors" });
            var scored = detector.Transform(testWindows);
            var pointScores = perStep.Fit(scored).Compute(scored).Errors;
            var trainScored = detector.Transform(trainWindows);
            var trainPointScores = perStep.Fit(trainScored).Compute(trainScored).Errors;
            methods.Add(new Method(recurrent ? "LSTM autoencoder" : "dense autoencoder", scored.GetColumn<float>("Score").ToArray(), Pad(pointScores, test.Length), Pad(trainPointScores, train.Length), seconds,
                $"{detector.Autoencoder.Model.Architecture}; final training loss {history.Epochs[^1].TrainLoss:G3}, {history.SamplesPerSecond(1):N0} windows/s"));
            if (recurrent) lstm = detector;
            else detector.Release();
        }

        // PCA of the windows: the library's exact linear baseline, reconstructions to per-point errors on arrays.
        {
            var clock = Stopwatch.StartNew();
            var trainRows = trainWindows.GetColumn<float[]>("Features").SelectMany(r => r).ToArray();
            var pca = PcaBaseline.Fit(trainRows, window, latent);
            double seconds = clock.Elapsed.TotalSeconds;
            var testRows = testWindows.GetColumn<float[]>("Features").SelectMany(r => r).ToArray();
            var reconstruction = pca.Reconstruct(testRows);
            var windowScores = Enumerable.Range(0, starts.Length).Select(w =>
            {
                double sum = 0;
                for (int j = w * window; j < (w + 1) * window; j++) sum += Math.Pow(testRows[j] - reconstruction[j], 2);
                return (float)(sum / window);
            }).ToArray();
            var pointScores = TimeStepErrorSeries.FromReconstructions(starts, testRows, reconstruction, window, test.Length).Errors;
            var trainStarts = trainWindows.GetColumn<long>("WindowStart").ToArray();
            var trainPointScores = TimeStepErrorSeries.FromReconstructions(trainStarts, trainRows, pca.Reconstruct(trainRows), window, train.Length).Errors;
            methods.Add(new Method($"PCA, {latent} components", windowScores, pointScores, trainPointScores, seconds, "exact PCA of the training windows (PcaBaseline)"));
        }

        // Points no window covers (the last (n - window) mod stride steps) have no score: left out of the per-point figures.
        var covered = Enumerable.Range(0, test.Length).Where(t => float.IsFinite(methods[0].PointScores[t])).ToArray();
        var pointLabels = covered.Select(t => testLabels[t]).ToArray();
        Console.WriteLine($"\nPer window: {starts.Length:N0} test windows, label = the window touches an anomaly. Per point: {covered.Length:N0} of {test.Length:N0} test steps " +
                          $"(those some window covers), score = TimeStepErrors (mean squared error at the step over the windows covering it).");
        Console.WriteLine($"{"method",-20} {"window AUROC",13} {"window best F1",15} {"point AUROC",12} {"point best F1",14} {"fit",8}");
        foreach (var m in methods)
        {
            var points = covered.Select(t => m.PointScores[t]).ToArray();
            Console.WriteLine($"{m.Name,-20} {DetectionMetrics.Auroc(m.WindowScores, windowLabels),13:F4} {DetectionMetrics.BestF1(m.WindowScores, windowLabels).F1,15:F4} " +
                              $"{DetectionMetrics.Auroc(points, pointLabels),12:F4} {DetectionMetrics.BestF1(points, pointLabels).F1,14:F4} {m.FitSeconds,7:F1}s");
        }
        foreach (var m in methods) Console.WriteLine($"  {m.Name}: {m.Detail}");
        Console.WriteLine("AUROC: 1 = every anomalous window (point) scores above every normal one, 0.5 = chance. Best F1: the highest F1 over all thresholds " +
                          "(an oracle that reads the labels); the threshold below is chosen without them.");

        // Per kind: the normal windows (points) against those of one kind of anomaly only.
        var pointKind = new int[test.Length];
        Array.Fill(pointKind, -1);
        foreach (var a in testAnomalies) pointKind.AsSpan(a.Start, a.Length).Fill(Array.IndexOf(SeriesAnomalies.Kinds, a.Kind));
        var windowKind = starts.Select(st => pointKind.AsSpan((int)st, window).ToArray().FirstOrDefault(k => k >= 0, -1)).ToArray();
        Console.WriteLine($"\nAUROC per kind of anomaly (window / point), each kind against all normal windows (points):");
        Console.WriteLine($"{"method",-20} " + string.Join(" ", SeriesAnomalies.Kinds.Select(k => $"{k,15}")));
        foreach (var m in methods)
        {
            var cells = SeriesAnomalies.Kinds.Select((_, k) =>
            {
                var w = Enumerable.Range(0, starts.Length).Where(i => windowKind[i] is var c && (c == -1 || c == k)).ToArray();
                var p = covered.Where(t => pointKind[t] == -1 || pointKind[t] == k).ToArray();
                double wa = DetectionMetrics.Auroc(w.Select(i => m.WindowScores[i]).ToArray(), w.Select(i => windowKind[i] == k).ToArray());
                double pa = DetectionMetrics.Auroc(p.Select(t => m.PointScores[t]).ToArray(), p.Select(t => pointKind[t] == k).ToArray());
                return $"{wa:F2} / {pa:F2}";
            });
            Console.WriteLine($"{m.Name,-20} " + string.Join(" ", cells.Select(c => $"{c,15}")));
        }

        // A threshold without labels: the 99th percentile of the per-point scores of the training series.
        var shown = methods[0]; // the LSTM: the sequence model this sample is about
        double threshold = DetectionMetrics.Quantile(shown.TrainPointScores, 0.99);
        var flagged = shown.PointScores.Select(s => float.IsFinite(s) && s > threshold).ToArray();
        var at = DetectionMetrics.At(covered.Select(t => shown.PointScores[t]).ToArray(), pointLabels, threshold);
        Console.WriteLine($"\n{shown.Name}, points above {threshold:G3} (the 99th percentile of the training series' per-point scores): {at.Flagged:N0} flagged, " +
                          $"precision {at.Precision:P1}, recall {at.Recall:P1}, F1 {at.F1:F3}.");
        foreach (var kind in SeriesAnomalies.Kinds)
        {
            var ofKind = testAnomalies.Where(a => a.Kind == kind).ToList();
            int found = ofKind.Count(a => flagged.AsSpan(a.Start, a.Length).Contains(true));
            Console.WriteLine($"  {kind,-13} {found} of {ofKind.Count} found (at least one flagged point inside)");
        }
        int falseRuns = Runs(flagged, testLabels);
        Console.WriteLine($"  flagged stretches that touch no planted anomaly: {falseRuns} (the recording has no labels of its own: see the PNG for what they are)");

        string png = Path.Combine(outDir, "ecg-anomaly.png");
        SeriesPlot.Save(png, test, shown.PointScores, flagged, testAnomalies, threshold, rate, split / rate,
            $"ECG test series ({test.Length / rate:0} s at {rate:0.#} Hz) with {testAnomalies.Count} planted anomalies: {shown.Name} per-point scores (TimeStepErrors)");
        Console.WriteLine($"\nWrote {Path.GetFullPath(png)}");
        lstm?.Release();
    }

    /// <summary>The per-point scores padded with NaN to the series length (TimeStepErrors stops at the end of the last window).</summary>
    private static float[] Pad(float[] scores, int length) => scores.Length >= length ? scores : [.. scores, .. Enumerable.Repeat(float.NaN, length - scores.Length)];

    /// <summary>Stretches of consecutive flagged points that touch no anomalous point.</summary>
    private static int Runs(bool[] flagged, bool[] labels)
    {
        int runs = 0;
        for (int t = 0; t < flagged.Length;)
        {
            if (!flagged[t]) { t++; continue; }
            int end = t;
            bool touches = false;
            while (end < flagged.Length && flagged[end]) touches |= labels[end++];
            if (!touches) runs++;
            t = end;
        }
        return runs;
    }
}
