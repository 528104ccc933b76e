using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>One row of a tabular one-class set (its width is set on the schema at load time).</summary>
internal sealed class TabularRow
{
    public float[] Features { get; set; } = Array.Empty<float>();

    public float Label { get; set; }
}

/// <summary>
/// (h) continued: how much the default detector's AUROC depends on its seed, on one-class Fashion-MNIST and on small
/// tabular one-class sets (bench/data/prepare_tabular.sh), next to the previous defaults and ML.NET's RandomizedPca.
/// </summary>
internal static partial class Program
{
    /// <summary>The tabular sets: file, normal class (the rest are the anomalies).</summary>
    private static readonly (string Name, string Normal)[] TabularSets =
        [("wine", "1"), ("ionosphere", "good"), ("sonar", "M"), ("glass", "2")];

    /// <summary>Seeds 1.. of the default detector on the classes of (h); seed 0 is the headline run.</summary>
    private static void AnomalySeedsRow(Config cfg, MLContext ml, int[] classes, Func<int, IDataView> trainView, Func<int, IDataView> testView,
        Func<int, bool[]> isAnomaly, double[] seed0)
    {
        if (cfg.AnomalySeeds < 2) return;
        var perSeed = new List<double[]> { seed0 };
        for (int seed = 1; seed < cfg.AnomalySeeds; seed++)
        {
            var au = new double[classes.Length];
            for (int k = 0; k < classes.Length; k++)
            {
                var det = ml.AnomalyDetection.Trainers.Autoencoder(epochs: cfg.AnomalyEpochs, seed: seed).Fit(trainView(classes[k]));
                au[k] = Auroc(ReadFloatColumn(det.Transform(testView(classes[k])), "Score"), isAnomaly(classes[k]));
                foreach (var m in det.Members) m.Model.Dispose();
            }
            perSeed.Add(au);
            Console.WriteLine($"    seed {seed} library: AUROC {string.Join(" ", au.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; mean {au.Average():F4}");
        }
        var means = perSeed.Select(a => a.Average()).ToArray();
        double classStdMax = Enumerable.Range(0, classes.Length).Max(k => Std(perSeed.Select(a => a[k]).ToArray()));
        Console.WriteLine($"    => Fashion-MNIST one-class, default detector over {perSeed.Count} seeds: mean AUROC {means.Average():F4} +- {Std(means):F4} (std of the per-seed means); largest per-class std {classStdMax:F4}");
        Table.Add(new Row($"(h) Fashion-MNIST mean AUROC over {perSeed.Count} seeds (default detector)", $"{means.Average():F4}", "", null, ">= 0.920", means.Average() >= 0.92));
        Table.Add(new Row($"(h) Fashion-MNIST std of the mean AUROC over {perSeed.Count} seeds | largest per-class std", $"{Std(means):F4}", $"{classStdMax:F4}", null, "<= 0.010", Math.Max(Std(means), classStdMax) <= 0.01));
    }

    /// <summary>The tabular one-class sets: default detector over seeds, the previous defaults, RandomizedPca.</summary>
    private static void PartHTabular(Config cfg, MLContext ml, string dir)
    {
        Console.WriteLine($"    tabular one-class sets from {dir} (bash bench/data/prepare_tabular.sh writes them): the normal rows split in half by a fixed shuffle (seed 12345), " +
                          "train on one half, test on the other half + every anomaly; min-max scaled with the training half's range (test values may leave [0, 1])");
        foreach (var (name, normal) in TabularSets)
        {
            string path = Path.Combine(dir, name + ".csv");
            if (!File.Exists(path))
            {
                Notes.Add($"(h) tabular set {name}: {path} is missing (run bash bench/data/prepare_tabular.sh)");
                continue;
            }
            var (train, test, labels) = LoadOneClass(path, normal);
            int d = train[0].Length;
            var schema = SchemaDefinition.Create(typeof(TabularRow));
            schema[nameof(TabularRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
            IDataView View(float[][] rows, bool[] anomaly) => ml.Data.LoadFromEnumerable(rows.Select((r, i) => new TabularRow { Features = r, Label = anomaly[i] ? 1 : 0 }).ToList(), schema);
            var trainView = View(train, new bool[train.Length]);
            var testView = View(test, labels);

            double[] Seeds(Func<int, AutoencoderAnomalyOptions> options, out string info)
            {
                var au = new double[cfg.AnomalySeeds];
                info = "";
                for (int s = 0; s < au.Length; s++)
                {
                    var det = ml.AnomalyDetection.Trainers.Autoencoder(options(s)).Fit(trainView);
                    au[s] = Auroc(ReadFloatColumn(det.Transform(testView), "Score"), labels);
                    var body = det.Autoencoder.OptionsView;
                    info = $"{d}-{string.Join("-", body.HiddenLayerSizes)}-{body.LatentDimension} {body.OutputActivation} out, {body.Epochs} epochs, {det.Members.Count} member(s)";
                    foreach (var m in det.Members) m.Model.Dispose();
                }
                return au;
            }
            var now = Seeds(s => AutoencoderAnomalyOptions.Default(cfg.AnomalyEpochs, s), out string nowInfo);
            // the defaults before issue 19: 128-32, the output chosen from the training range (sigmoid here), 10 epochs, one network, the reconstruction error alone
            var before = Seeds(s => new AutoencoderAnomalyOptions
            {
                Autoencoder = new AutoencoderOptions { HiddenLayerSizes = [128], LatentDimension = 32, Epochs = 10, Seed = s }, AllowWideCode = true,
                ScoreKind = AnomalyScoreKind.ReconstructionError,
            }, out string beforeInfo);
            int rank = AutoencoderAnomalyOptions.Defaults.LatentDimension(d);
            var pcaScores = ReadFloatColumn(ml.AnomalyDetection.Trainers.RandomizedPca(featureColumnName: "Features", rank: rank, ensureZeroMean: true, seed: 0).Fit(trainView).Transform(testView), "Score");
            double pca = Auroc(pcaScores, labels);
            string sets = $"{name} ({train.Length} train, {test.Length} test of which {labels.Count(l => l)} anomalies, {d} features)";
            Console.WriteLine($"    {sets}: default {nowInfo}: AUROC {string.Join(" ", now.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))} => {now.Average():F4} +- {Std(now):F4}");
            Console.WriteLine($"    {sets}: before  {beforeInfo}: AUROC {string.Join(" ", before.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))} => {before.Average():F4} +- {Std(before):F4}");
            Console.WriteLine($"    {sets}: RandomizedPca rank {rank}: AUROC {pca:F4} (of -Score: {1 - pca:F4})");
            Table.Add(new Row($"(h) {name}: AUROC over {cfg.AnomalySeeds} seeds, default (mean +- std) | before", $"{now.Average():F4} +- {Std(now):F4}", $"{before.Average():F4} +- {Std(before):F4}", null, "std <= 0.010", Std(now) <= 0.01));
            Table.Add(new Row($"(h) {name}: RandomizedPca rank {rank} AUROC", $"{pca:F4}", "", null, "(info)", null));
        }
    }

    /// <summary>Reads a CSV (header, last column the class), splits the normal rows in half with a fixed shuffle, min-max scales with the training half.</summary>
    private static (float[][] Train, float[][] Test, bool[] TestAnomaly) LoadOneClass(string path, string normal)
    {
        var rows = File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
        var x = rows.Select(r => r[..^1].Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var isNormal = rows.Select(r => r[^1] == normal).ToArray();
        var normalRows = Enumerable.Range(0, x.Length).Where(i => isNormal[i]).ToArray();
        new Random(12345).Shuffle(normalRows);
        var trainIdx = normalRows[..(normalRows.Length / 2)].Order().ToArray();
        var testIdx = normalRows[(normalRows.Length / 2)..].Order().Concat(Enumerable.Range(0, x.Length).Where(i => !isNormal[i])).ToArray();
        int d = x[0].Length;
        var lo = new float[d];
        var range = new float[d];
        for (int j = 0; j < d; j++)
        {
            lo[j] = trainIdx.Min(i => x[i][j]);
            float hi = trainIdx.Max(i => x[i][j]);
            range[j] = hi > lo[j] ? hi - lo[j] : 1;
        }
        float[] Scale(float[] r) => r.Select((v, j) => (v - lo[j]) / range[j]).ToArray();
        return (trainIdx.Select(i => Scale(x[i])).ToArray(), testIdx.Select(i => Scale(x[i])).ToArray(), testIdx.Select(i => !isNormal[i]).ToArray());
    }

    /// <summary>Population standard deviation.</summary>
    private static double Std(double[] values)
    {
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
    }
}
