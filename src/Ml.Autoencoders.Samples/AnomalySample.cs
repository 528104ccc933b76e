using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.SampleData;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// One-class anomaly detection on Fashion-MNIST, the standard protocol: for each class, train on that class's training
/// images only, score every test image, and measure the AUROC with that class as normal (label 0) and the other nine as
/// anomalies (label 1). The library's autoencoder detector (<c>mlContext.AnomalyDetection.Trainers.Autoencoder</c>, default
/// options) next to ML.NET's RandomizedPca; then, for one class, the contamination threshold, a changed threshold, and a
/// PNG of the most and least anomalous test images.
/// </summary>
internal static class AnomalySample
{
    private const int Shown = 12;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int? epochs = SampleData.Arg(args, "--epochs") is { } e ? int.Parse(e) : null;
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        int detailClass = SampleData.Arg(args, "--class") is { } c ? int.Parse(c) : 0;
        if (detailClass is < 0 or > 9) throw new ArgumentOutOfRangeException("--class", detailClass, "Fashion-MNIST classes are 0..9.");
        var ml = new MLContext(seed: 0);

        // The test images once; each class's test view shares these arrays and only relabels them.
        var testImages = Enumerable.Range(0, test.Count).Select(test.Row).ToArray();
        Console.WriteLine($"\nOne class at a time is normal: train on its training images, score all {test.Count:N0} test images (the other classes are the anomalies).");
        Console.WriteLine($"Autoencoder: the library's defaults ({(epochs is { } n ? $"{n} epochs" : "epochs chosen by the library")}); RandomizedPca: rank 32, zero mean.");

        var results = new List<Result>();
        AutoencoderAnomalyTransformer? kept = null;
        for (int cls = 0; cls < FashionMnist.ClassNames.Length; cls++)
        {
            var normal = Enumerable.Range(0, train.Count).Where(i => train.Labels[i] == cls).ToArray();
            if (normal.Length == 0)
            {
                Console.WriteLine($"  [{FashionMnist.ClassNames[cls]}] no training images; skipped");
                continue;
            }
            var trainView = ml.Data.LoadFromEnumerable(normal.Select(i => new AnomalyRow { Features = train.Row(i), Label = 0 }).ToList());
            var testView = ml.Data.LoadFromEnumerable(
                Enumerable.Range(0, test.Count).Select(i => new AnomalyRow { Features = testImages[i], Label = test.Labels[i] == cls ? 0 : 1 }).ToList());

            var clock = Stopwatch.StartNew();
            var detector = (epochs is { } ep ? ml.AnomalyDetection.Trainers.Autoencoder(epochs: ep) : ml.AnomalyDetection.Trainers.Autoencoder())
                .Fit(trainView);
            double aeFit = clock.Elapsed.TotalSeconds;
            var aeMetrics = Evaluate(ml, detector.Transform(testView));

            clock.Restart();
            var pca = ml.AnomalyDetection.Trainers.RandomizedPca(featureColumnName: "Features", rank: 32, ensureZeroMean: true, seed: 0).Fit(trainView);
            double pcaFit = clock.Elapsed.TotalSeconds;
            var pcaMetrics = Evaluate(ml, pca.Transform(testView));

            var r = new Result(cls, normal.Length, aeMetrics, pcaMetrics, aeFit, pcaFit, detector.Autoencoder.History.Epochs.Count);
            results.Add(r);
            Console.WriteLine($"  [{FashionMnist.ClassNames[cls]}] {normal.Length:N0} training images: autoencoder AUROC {aeMetrics.AreaUnderRocCurve:F4} " +
                              $"({r.Epochs} epochs, {aeFit:F1}s), RandomizedPca AUROC {pcaMetrics.AreaUnderRocCurve:F4} ({pcaFit:F1}s)");
            if (cls == detailClass) kept = detector;
            else foreach (var m in detector.Members) m.Model.Dispose();
        }

        Console.WriteLine($"\nOne-class AUROC on Fashion-MNIST ({train.Count:N0} training images split by class, {test.Count:N0} test images):");
        Console.WriteLine($"{"normal class",-14} {"train",6} {"AUROC autoencoder",18} {"AUROC RandomizedPca",20} {"fit AE",8} {"fit PCA",8}");
        foreach (var r in results)
            Console.WriteLine($"{FashionMnist.ClassNames[r.Class],-14} {r.TrainRows,6} {r.Autoencoder.AreaUnderRocCurve,18:F4} {r.Pca.AreaUnderRocCurve,20:F4} {r.AutoencoderFit,7:F1}s {r.PcaFit,7:F1}s");
        if (results.Count > 0)
            Console.WriteLine($"{"mean",-14} {"",6} {results.Average(r => r.Autoencoder.AreaUnderRocCurve),18:F4} {results.Average(r => r.Pca.AreaUnderRocCurve),20:F4} " +
                              $"{results.Average(r => r.AutoencoderFit),7:F1}s {results.Average(r => r.PcaFit),7:F1}s");
        Console.WriteLine("fit: training on one class's images (the autoencoder's includes scoring them for the threshold); AUROC: 1 = every anomaly scores above every normal image, 0.5 = chance.");
        Console.WriteLine("Scores: the autoencoder's is its reconstruction error plus its code's distance to the 10 nearest training codes, each in training standard deviations (ScoreKind default); RandomizedPca's is ML.NET's normalised residual, " +
                          "sqrt(|x - mean - projection|^2 / |x - mean|^2), which ignores how far from the mean an image lies.");

        if (kept is null)
        {
            Console.WriteLine($"\nClass {detailClass} had no training images; no threshold details or PNG.");
            return;
        }
        Detail(ml, kept, results.Single(r => r.Class == detailClass), test, testImages, outDir);
        foreach (var m in kept.Members) m.Model.Dispose();
    }

    /// <summary>The threshold, the detection rate at a few false positives, and the most and least anomalous test images of one class.</summary>
    private static void Detail(MLContext ml, AutoencoderAnomalyTransformer detector, Result result, FashionMnistSplit test, float[][] testImages, string outDir)
    {
        int cls = result.Class;
        string name = FashionMnist.ClassNames[cls];
        var testView = ml.Data.LoadFromEnumerable(
            Enumerable.Range(0, test.Count).Select(i => new AnomalyRow { Features = testImages[i], Label = test.Labels[i] == cls ? 0 : 1 }).ToList());
        int normals = test.Labels.Count(l => l == cls);
        Console.WriteLine($"\n{name} as the normal class ({normals:N0} normal and {test.Count - normals:N0} anomalous test images):");
        Console.WriteLine($"  detection rate at 10 false positives: autoencoder {result.Autoencoder.DetectionRateAtFalsePositiveCount:P1}, " +
                          $"RandomizedPca {result.Pca.DetectionRateAtFalsePositiveCount:P1}");

        var trainingScores = detector.TrainingScores;
        float defaultThreshold = detector.Threshold;
        Console.WriteLine($"  default threshold {defaultThreshold:G4} (contamination 0.1): flags {trainingScores.Count(s => s > defaultThreshold) / (double)trainingScores.Length:P2} " +
                          $"of the {trainingScores.Length:N0} training images");

        // The scored view is lazy: each read computes Score again and compares it with the threshold of that moment.
        var scored = detector.Transform(testView);
        var labels = scored.GetColumn<float>("Label").ToArray();
        var before = Read(scored);
        Console.WriteLine($"  at that threshold: {Describe(before.Flags, labels)}");
        detector.SetThresholdByContamination(0.01);
        var stricter = Read(scored);
        Console.WriteLine($"  SetThresholdByContamination(0.01) -> threshold {detector.Threshold:G4}: {Describe(stricter.Flags, labels)}");
        detector.Threshold = defaultThreshold / 2;
        var looser = Read(scored);
        Console.WriteLine($"  Threshold = {detector.Threshold:G4} (half the default): {Describe(looser.Flags, labels)}");
        bool sameScores = before.Scores.SequenceEqual(stricter.Scores) && before.Scores.SequenceEqual(looser.Scores);
        Console.WriteLine($"  Score column identical under all three thresholds: {(sameScores ? "yes" : "NO")}");
        var direct = detector.Score(test.Pixels, test.Count);
        double maxDiff = direct.Zip(before.Scores, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"  detector.Score(pixels) against the Score column: largest difference {maxDiff:G3}");
        detector.Threshold = defaultThreshold;

        // Most anomalous above least anomalous test images.
        var order = Enumerable.Range(0, test.Count).OrderByDescending(i => before.Scores[i]).ThenBy(i => i).ToArray();
        var most = order.Take(Shown).ToArray();
        var least = order.Reverse().Take(Shown).ToArray();
        string png = Path.Combine(outDir, "anomaly-extremes.png");
        ImageGrid.SaveGreyGrid(png, [most.Select(i => testImages[i]).ToList(), least.Select(i => testImages[i]).ToList()], 28, 28, scale: 3,
            rowLabels: ["most anomalous", "least anomalous"]);
        Console.WriteLine($"  most anomalous {Shown}: {string.Join(", ", most.Select(i => $"{FashionMnist.ClassNames[test.Labels[i]]} {before.Scores[i]:F4}"))}");
        Console.WriteLine($"  least anomalous {Shown}: {string.Join(", ", least.Select(i => $"{FashionMnist.ClassNames[test.Labels[i]]} {before.Scores[i]:F4}"))}");
        Console.WriteLine($"\nWrote {Path.GetFullPath(png)} (normal class {name}: the {Shown} highest-scoring test images above the {Shown} lowest-scoring).");
    }

    private static AnomalyDetectionMetrics Evaluate(MLContext ml, IDataView scored) =>
        ml.AnomalyDetection.Evaluate(scored, labelColumnName: "Label", scoreColumnName: "Score", predictedLabelColumnName: "PredictedLabel");

    private static (float[] Scores, bool[] Flags) Read(IDataView scored) =>
        (scored.GetColumn<float>("Score").ToArray(), scored.GetColumn<bool>("PredictedLabel").ToArray());

    private static string Describe(bool[] flags, float[] labels)
    {
        int flagged = flags.Count(f => f);
        int normalFlagged = flags.Where((f, i) => f && labels[i] == 0).Count();
        int anomalies = labels.Count(l => l == 1);
        int anomaliesFlagged = flagged - normalFlagged;
        return $"{flagged:N0} test images flagged ({anomaliesFlagged:N0} of {anomalies:N0} anomalies, {normalFlagged:N0} of {labels.Length - anomalies:N0} normal)";
    }

    private sealed record Result(int Class, int TrainRows, AnomalyDetectionMetrics Autoencoder, AnomalyDetectionMetrics Pca, double AutoencoderFit, double PcaFit, int Epochs);

    /// <summary>One image with its anomaly label as ML.NET's anomaly evaluator wants it.</summary>
    private sealed class AnomalyRow
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        /// <summary>1 = anomaly (another class), 0 = normal (the training class).</summary>
        public float Label { get; set; }
    }
}
