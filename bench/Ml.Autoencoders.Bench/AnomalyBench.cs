using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>One Fashion-MNIST image with its anomaly label (1 = anomaly, i.e. not the normal class; 0 = normal).</summary>
internal sealed class AnomalyRow
{
    [VectorType(784)]
    public float[] Features { get; set; } = Array.Empty<float>();

    public float Label { get; set; }
}

/// <summary>
/// (h) One-class anomaly detection on Fashion-MNIST (bench/reference/anomaly_oneclass.py): for each class c, train on the
/// training images of class c only, score all 10,000 test images, AUROC with "not class c" as the anomalies. The
/// library's detector (<c>mlContext.AnomalyDetection.Trainers.Autoencoder</c>) next to ML.NET's RandomizedPca detector,
/// scikit-learn's PCA-32 and a PyTorch 784-128-32 dense autoencoder.
/// </summary>
internal static partial class Program
{
    private const int AnomalyPcaRank = 32;

    /// <summary>Per-class AUROC and train + score seconds of one method over one rep.</summary>
    private sealed record MethodRun(double[] Auroc, double[] Seconds)
    {
        public double Mean => Auroc.Average();
        public double Total => Seconds.Sum();
    }

    private static void PartH(Config cfg, MLContext ml, FashionMnistSplit train, FashionMnistSplit test)
    {
        int reps = cfg.HRefReps;
        int[] classes = cfg.AnomalyClasses;
        string script = cfg.ReferenceScript ?? FindReferenceScript();
        string dataDir = FashionMnist.ResolveDirectory(cfg.DataDir);
        string epochsText = cfg.AnomalyEpochs is int e ? $"{e} epochs (--anomaly-epochs)" : "library default epochs";
        Header($"(h) One-class anomaly detection, Fashion-MNIST: train on one class's {train.Count / 10:N0} training images, score all {test.Count:N0} test images, AUROC (anomaly = not that class); " +
               $"classes {string.Join(",", classes)}; {cfg.Threads} threads; {reps} rep(s) interleaved library, RandomizedPca, python");
        Console.WriteLine($"    library       : mlContext.AnomalyDetection.Trainers.Autoencoder(epochs: {(cfg.AnomalyEpochs?.ToString(CultureInfo.InvariantCulture) ?? "null")}) ({epochsText}); Score = reconstruction MSE; seconds = Fit + Transform of the test view + cursor over Score");
        Console.WriteLine($"    RandomizedPca : mlContext.AnomalyDetection.Trainers.RandomizedPca(rank: {AnomalyPcaRank}, ensureZeroMean: true, seed: 0); same timing");
        Console.WriteLine($"    python        : sklearn PCA(n_components={AnomalyPcaRank}, svd_solver='full') reconstruction MSE; PyTorch 784-128 ReLU-32 linear-128 ReLU-784 sigmoid, MSE, Adam 1e-3, batch 128, {cfg.AnomalyRefEpochs} epochs, seed 0; seconds = train + score per class, measured inside the script");
        Console.WriteLine("    AUROC         : Mann-Whitney statistic (ties count half) of the Score column against the labels, in double precision; ML.NET's AnomalyDetection.Evaluate checks the library's");

        // The feature arrays are shared by every class's views (only the label differs).
        var testFeatures = new float[test.Count][];
        for (int i = 0; i < test.Count; i++) testFeatures[i] = test.Row(i);
        var trainByClass = new Dictionary<int, List<AnomalyRow>>();
        foreach (int c in classes)
        {
            var rows = new List<AnomalyRow>();
            for (int i = 0; i < train.Count; i++)
                if (train.Labels[i] == c) rows.Add(new AnomalyRow { Features = train.Row(i), Label = 0 });
            trainByClass[c] = rows;
        }
        IDataView TrainView(int c) => ml.Data.LoadFromEnumerable(trainByClass[c]);
        IDataView TestView(int c) => ml.Data.LoadFromEnumerable(testFeatures.Select((f, i) => new AnomalyRow { Features = f, Label = test.Labels[i] == c ? 0f : 1f }).ToList());
        bool[] IsAnomaly(int c) => test.Labels.Select(l => l != c).ToArray();

        // untimed warm-up of the JIT, libtorch's kernels and ML.NET's PCA on a few rows
        {
            var few = ml.Data.LoadFromEnumerable(trainByClass[classes[0]].Take(512).ToList());
            var w = ml.AnomalyDetection.Trainers.Autoencoder(epochs: 1).Fit(few);
            ReadFloatColumn(w.Transform(few), "Score");
            w.Autoencoder.Model.Dispose();
            ReadFloatColumn(ml.AnomalyDetection.Trainers.RandomizedPca(featureColumnName: "Features", rank: AnomalyPcaRank, ensureZeroMean: true, seed: 0).Fit(few).Transform(few), "Score");
        }

        var lib = new List<MethodRun>();
        var rpca = new List<MethodRun>();
        var skPca = new List<MethodRun>();
        var torchAe = new List<MethodRun>();
        var libEpochs = new int[classes.Length];
        var evalAuroc = new double[classes.Length];
        var evalDetection = new double[classes.Length];
        double maxEvalDiff = 0, maxSpanDiff = double.NaN;
        string refInfo = "";
        for (int r = 0; r < reps; r++)
        {
            // A: the library
            var au = new double[classes.Length];
            var secs = new double[classes.Length];
            for (int k = 0; k < classes.Length; k++)
            {
                int c = classes[k];
                var trainView = TrainView(c);
                var testView = TestView(c);
                Collect();
                var sw = Stopwatch.StartNew();
                var det = ml.AnomalyDetection.Trainers.Autoencoder(epochs: cfg.AnomalyEpochs).Fit(trainView);
                var scored = det.Transform(testView);
                var scores = ReadFloatColumn(scored, "Score");
                secs[k] = sw.Elapsed.TotalSeconds;
                var labels = IsAnomaly(c);
                au[k] = Auroc(scores, labels);
                libEpochs[k] = det.Autoencoder.History.Epochs.Count;
                string extra = "";
                if (r == 0)
                {
                    var m = ml.AnomalyDetection.Evaluate(scored, labelColumnName: "Label", scoreColumnName: "Score", predictedLabelColumnName: "PredictedLabel");
                    evalAuroc[k] = m.AreaUnderRocCurve;
                    evalDetection[k] = m.DetectionRateAtFalsePositiveCount;
                    maxEvalDiff = Math.Max(maxEvalDiff, Math.Abs(m.AreaUnderRocCurve - au[k]));
                    extra = $"; ML.NET Evaluate AUROC {m.AreaUnderRocCurve:F6} (own {au[k]:F6}, |diff| {Math.Abs(m.AreaUnderRocCurve - au[k]):E1}), detection rate at 10 false positives {m.DetectionRateAtFalsePositiveCount:F4}";
                    if (k == 0)
                    {
                        // Score(span) must give the pipeline's Score column
                        var direct = det.Score(test.Pixels, test.Count);
                        maxSpanDiff = direct.Zip(scores).Max(p => Math.Abs(p.First - p.Second));
                    }
                }
                Console.WriteLine($"    rep {r + 1} A library class {c} ({FashionMnist.ClassNames[c]}): AUROC {au[k]:F4}, {secs[k]:F2}s ({libEpochs[k]} epochs, final train loss {det.Autoencoder.History.Epochs[^1].TrainLoss:F5}){extra}");
                foreach (var m in det.Members) m.Model.Dispose();
            }
            lib.Add(new MethodRun(au, secs));
            Console.WriteLine($"    rep {r + 1} A library       : mean AUROC {lib[^1].Mean:F4}, {lib[^1].Total:F1}s total");

            // B: ML.NET RandomizedPca
            au = new double[classes.Length];
            secs = new double[classes.Length];
            for (int k = 0; k < classes.Length; k++)
            {
                int c = classes[k];
                var trainView = TrainView(c);
                var testView = TestView(c);
                Collect();
                var sw = Stopwatch.StartNew();
                var model = ml.AnomalyDetection.Trainers.RandomizedPca(featureColumnName: "Features", rank: AnomalyPcaRank, ensureZeroMean: true, seed: 0).Fit(trainView);
                var scores = ReadFloatColumn(model.Transform(testView), "Score");
                secs[k] = sw.Elapsed.TotalSeconds;
                au[k] = Auroc(scores, IsAnomaly(c));
            }
            rpca.Add(new MethodRun(au, secs));
            Console.WriteLine($"    rep {r + 1} B RandomizedPca : AUROC {string.Join(" ", au.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; mean {rpca[^1].Mean:F4}, {rpca[^1].Total:F1}s total");

            // C: python (sklearn PCA and PyTorch AE)
            var args = $"\"{script}\" --script anomaly_oneclass.py --data \"{dataDir}\" --threads {cfg.Threads} --classes {string.Join(",", classes)} " +
                       $"--method both --pca-components {AnomalyPcaRank} --pca-solver full --epochs {cfg.AnomalyRefEpochs} --seed 0 --json";
            if (RunReference(args, "(h)", r, out double procSecs) is not { } doc) break;
            using (doc)
            {
                var root = doc.RootElement;
                MethodRun Read(string name)
                {
                    var m = root.GetProperty(name);
                    return new MethodRun(m.GetProperty("auroc").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
                                         m.GetProperty("seconds").EnumerateArray().Select(x => x.GetDouble()).ToArray());
                }
                skPca.Add(Read("pca"));
                torchAe.Add(Read("ae"));
                var v = root.GetProperty("versions");
                refInfo = $"sklearn {v.GetProperty("sklearn")}, numpy {v.GetProperty("numpy")}, torch {v.GetProperty("torch")}, BLAS {ShortBlas(v.GetProperty("blas").ToString())}";
                Console.WriteLine($"    rep {r + 1} C sklearn PCA-32: AUROC {string.Join(" ", skPca[^1].Auroc.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; mean {skPca[^1].Mean:F4}, {skPca[^1].Total:F1}s total");
                Console.WriteLine($"    rep {r + 1} C PyTorch AE    : AUROC {string.Join(" ", torchAe[^1].Auroc.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; mean {torchAe[^1].Mean:F4}, {torchAe[^1].Total:F1}s total (process {procSecs:F1}s)");
            }
        }
        if (refInfo.Length > 0) Console.WriteLine($"    reference: {refInfo}");
        Console.WriteLine($"    ML.NET AnomalyDetection.Evaluate vs own AUROC: max |diff| {maxEvalDiff:E2} over {classes.Length} classes; Score(span) vs the Score column: max |diff| {maxSpanDiff:E2}");

        // summary (AUROC of the first rep: the methods are seeded; times: median over reps)
        string tag = classes.Length == 10 ? "" : $" [classes {string.Join(",", classes)}]";
        bool haveRef = torchAe.Count > 0;
        Console.WriteLine("    class            library   RandPca   skl PCA   PyTorch");
        for (int k = 0; k < classes.Length; k++)
        {
            int c = classes[k];
            string RefAu(List<MethodRun> runs) => runs.Count > 0 ? runs[0].Auroc[k].ToString("F4", CultureInfo.InvariantCulture) : "n/a";
            Console.WriteLine($"    {c} {FashionMnist.ClassNames[c],-13} {lib[0].Auroc[k],8:F4}  {rpca[0].Auroc[k],8:F4}  {RefAu(skPca),8}  {RefAu(torchAe),8}");
            Table.Add(new Row($"(h) AUROC class {c} {FashionMnist.ClassNames[c]}: library | RandPca / skl PCA / PyTorch",
                $"{lib[0].Auroc[k]:F4}", $"{rpca[0].Auroc[k]:F4} / {RefAu(skPca)} / {RefAu(torchAe)}", null, "(info)", null));
        }
        for (int r = 1; r < lib.Count; r++)
        {
            double d = lib[r].Auroc.Zip(lib[0].Auroc).Max(p => Math.Abs(p.First - p.Second));
            if (d > 1e-6) Notes.Add($"(h) library AUROC of rep {r + 1} differs from rep 1 by up to {d:E2} (not deterministic)");
        }
        double libMean = lib[0].Mean, rpcaMean = rpca[0].Mean;
        double libTotal = Median(lib.Select(x => x.Total)), rpcaTotal = Median(rpca.Select(x => x.Total));
        Console.WriteLine($"    => mean AUROC: library {libMean:F4}, RandomizedPca {rpcaMean:F4}" +
                          (haveRef ? $", sklearn PCA-32 {skPca[0].Mean:F4}, PyTorch AE {torchAe[0].Mean:F4}" : "") +
                          $"; total seconds (median of {reps}): library {libTotal:F1}, RandomizedPca {rpcaTotal:F1}" +
                          (haveRef ? $", sklearn PCA {Median(skPca.Select(x => x.Total)):F1}, PyTorch AE {Median(torchAe.Select(x => x.Total)):F1}" : ""));
        Table.Add(new Row($"(h) mean AUROC{tag}: library ({epochsText})", $"{libMean:F4}", "", null, "> 0.910", libMean > 0.91));
        Table.Add(new Row("(h) mean AUROC: library vs ML.NET RandomizedPca-32", $"{libMean:F4}", $"{rpcaMean:F4}", libMean / rpcaMean, "> ref", libMean > rpcaMean));
        if (haveRef)
        {
            Table.Add(new Row("(h) mean AUROC: library vs sklearn PCA-32", $"{libMean:F4}", $"{skPca[0].Mean:F4}", libMean / skPca[0].Mean, "(info)", null));
            Table.Add(new Row($"(h) mean AUROC: library vs PyTorch 784-128-32 AE ({cfg.AnomalyRefEpochs} ep)", $"{libMean:F4}", $"{torchAe[0].Mean:F4}", libMean / torchAe[0].Mean, "(info)", null));
            double aeTotal = Median(torchAe.Select(x => x.Total));
            Table.Add(new Row($"(h) total s train+score, library vs PyTorch AE [median of {reps}] (ratio = ref/lib)", $"{libTotal:F1}", $"{aeTotal:F1}", aeTotal / libTotal, ">= 1.00", aeTotal / libTotal >= 1.0));
            double pcaTotal = Median(skPca.Select(x => x.Total));
            Table.Add(new Row("(h) total s: RandomizedPca | sklearn PCA-32 (ratio = skl/RandPca)", $"{rpcaTotal:F1}", $"{pcaTotal:F1}", pcaTotal / rpcaTotal, "(info)", null));
        }
        else
        {
            Table.Add(new Row("(h) total s train+score, library vs PyTorch AE", $"{libTotal:F1}", "failed", null, ">= 1.00", null));
            Table.Add(new Row("(h) total s: RandomizedPca", $"{rpcaTotal:F1}", "", null, "(info)", null));
        }
        Table.Add(new Row("(h) library epochs per class (min-max)", $"{libEpochs.Min()}-{libEpochs.Max()}", "", null, "(info)", null));
        Table.Add(new Row("(h) ML.NET Evaluate AUROC vs own, max |diff|", $"{maxEvalDiff:E1}", "", null, "<= 1e-6", maxEvalDiff <= 1e-6));

        AnomalySeedsRow(cfg, ml, classes, TrainView, TestView, IsAnomaly, lib[0].Auroc);
        if (cfg.TabularDir is { } tabular && !cfg.Parts.Contains('t')) PartHTabular(cfg, ml, tabular);

        foreach (string preset in cfg.AnomalyPresets) AnomalyPresetRow(cfg, ml, preset, classes, TrainView, TestView, IsAnomaly, libMean, libTotal, haveRef ? Median(torchAe.Select(x => x.Total)) : double.NaN);

        Notes.Add("(h) ML.NET's RandomizedPca scores the RELATIVE residual, sqrt(|x - mean - projection|^2 / |x - mean|^2) (PcaModelParameters.Score), not the reconstruction error sklearn's PCA-32 row uses: the same rank-32 subspace, a different score.");
        if (classes.Length < 10) Notes.Add($"(h) {classes.Length} of the 10 classes (--quick / --classes); mean AUROC over those only, not comparable with the full-run targets.");
        if (cfg.AnomalyRefEpochs != 20) Notes.Add($"(h) PyTorch AE trained {cfg.AnomalyRefEpochs} epochs (--quick / --anomaly-ref-epochs), not the reference's 20.");
    }

    /// <summary>A library detector with another body, over the same classes (one rep).</summary>
    private static void AnomalyPresetRow(Config cfg, MLContext ml, string preset, int[] classes, Func<int, IDataView> trainView, Func<int, IDataView> testView,
        Func<int, bool[]> isAnomaly, double libMean, double libTotal, double torchTotal)
    {
        AutoencoderOptions body;
        string description;
        switch (preset)
        {
            case "same":
                // the PyTorch reference's network and recipe
                body = new AutoencoderOptions
                {
                    HiddenLayerSizes = new[] { 128 },
                    HiddenActivation = Activation.ReLU,
                    LatentDimension = 32,
                    CodeActivation = Activation.Linear,
                    OutputActivation = Activation.Sigmoid,
                    Loss = ReconstructionLoss.MeanSquaredError,
                    Optimizer = OptimizerKind.Adam,
                    LearningRate = 1e-3,
                    LearningRateSchedule = LearningRateSchedule.Constant,
                    BatchSize = 128,
                    Epochs = cfg.AnomalyEpochs ?? cfg.AnomalyRefEpochs,
                    Seed = 0,
                };
                description = $"the PyTorch net: 784-128 ReLU-32 linear, sigmoid out, Adam 1e-3 constant, batch 128, {body.Epochs} epochs";
                break;
            case "conv":
                body = AutoencoderPresets.Convolutional(new ImageShape(1, 28, 28));
                body.Epochs = cfg.AnomalyEpochs ?? cfg.AnomalyRefEpochs;
                body.Seed = 0;
                description = $"AutoencoderPresets.Convolutional(1x28x28), {body.Epochs} epochs";
                break;
            case "denoising":
                body = AutoencoderPresets.Denoising();
                body.Epochs = cfg.AnomalyEpochs;
                body.Seed = 0;
                description = $"AutoencoderPresets.Denoising(), {(body.Epochs?.ToString(CultureInfo.InvariantCulture) ?? "default")} epochs";
                break;
            default:
                throw new ArgumentException($"--anomaly-preset: unknown preset {preset} (same, conv, denoising, none)");
        }
        var au = new double[classes.Length];
        var secs = new double[classes.Length];
        for (int k = 0; k < classes.Length; k++)
        {
            int c = classes[k];
            var tv = trainView(c);
            var sv = testView(c);
            var options = AutoencoderAnomalyOptions.Default(seed: 0);
            options.Autoencoder = body;
            Collect();
            var sw = Stopwatch.StartNew();
            var det = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(tv);
            var scores = ReadFloatColumn(det.Transform(sv), "Score");
            secs[k] = sw.Elapsed.TotalSeconds;
            au[k] = Auroc(scores, isAnomaly(c));
            Console.WriteLine($"    preset {preset} class {c}: AUROC {au[k]:F4}, {secs[k]:F2}s ({det.Autoencoder.History.Epochs.Count} epochs)");
            foreach (var m in det.Members) m.Model.Dispose();
        }
        var run = new MethodRun(au, secs);
        Console.WriteLine($"    => preset {preset} ({description}): AUROC {string.Join(" ", au.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; mean {run.Mean:F4} (headline {libMean:F4}), {run.Total:F1}s (headline {libTotal:F1}s)");
        Table.Add(new Row($"(h) preset '{preset}': mean AUROC (ref = headline detector)", $"{run.Mean:F4}", $"{libMean:F4}", run.Mean / libMean, "(info)", null));
        Table.Add(new Row($"(h) preset '{preset}': total s vs PyTorch AE (ratio = ref/lib)", $"{run.Total:F1}", double.IsFinite(torchTotal) ? $"{torchTotal:F1}" : "n/a", double.IsFinite(torchTotal) ? torchTotal / run.Total : null, "(info)", null));
        Notes.Add($"(h) preset '{preset}': {description}.");
    }

    /// <summary>All values of a Single column.</summary>
    private static float[] ReadFloatColumn(IDataView view, string name)
    {
        var col = view.Schema[name];
        var values = new List<float>();
        using var cursor = view.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<float>(col);
        float v = 0;
        while (cursor.MoveNext())
        {
            getter(ref v);
            values.Add(v);
        }
        return values.ToArray();
    }

    /// <summary>
    /// Area under the ROC curve of <paramref name="scores"/> (higher = positive) against <paramref name="positive"/>: the
    /// Mann-Whitney statistic with midranks, i.e. P(score of a positive &gt; score of a negative) + P(tie) / 2.
    /// </summary>
    private static double Auroc(float[] scores, bool[] positive)
    {
        if (scores.Length != positive.Length) throw new ArgumentException($"{scores.Length} scores for {positive.Length} labels");
        if (scores.Any(s => float.IsNaN(s))) return double.NaN;
        var order = Enumerable.Range(0, scores.Length).ToArray();
        Array.Sort(scores.ToArray(), order);
        long nPos = positive.LongCount(p => p), nNeg = positive.Length - nPos;
        if (nPos == 0 || nNeg == 0) return double.NaN;
        double rankSum = 0;
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            double midRank = (i + j) / 2.0 + 1; // 1-based ranks i+1 .. j+1
            for (int t = i; t <= j; t++)
                if (positive[order[t]]) rankSum += midRank;
            i = j + 1;
        }
        return (rankSum - nPos * (nPos + 1) / 2.0) / ((double)nPos * nNeg);
    }
}
