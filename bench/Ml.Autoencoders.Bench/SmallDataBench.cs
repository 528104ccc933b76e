using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>One row of a small table: its features (any count) for ML.NET.</summary>
internal sealed class TableRow
{
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>A small labelled table: row-major features and class indices.</summary>
internal sealed record SmallSet(string Name, string Source, float[] X, int[] Y, int Features)
{
    public int Rows => Y.Length;
}

internal static partial class Program
{
    private const int SmallFolds = 5;
    private const int Neighbours = 5;

    /// <summary>
    /// (i) Small data sets: codes of the default autoencoder vs ML.NET's PCA at the same dimension (5-NN accuracy,
    /// 5-fold cross-validation) and test reconstruction MSE vs exact PCA. Runs without the full Fashion-MNIST.
    /// </summary>
    private static void PartI(Config cfg)
    {
        var sets = LoadSmallSets(cfg).Where(s => cfg.SmallSets is null || cfg.SmallSets.Contains(s.Name)).ToList();
        Header($"(i) Small data sets: default autoencoder codes vs ML.NET PCA (same dimension d = min(16, features / 2)), {Neighbours}-NN accuracy, {SmallFolds}-fold CV");
        Console.WriteLine("    features standardised with the training fold's mean and deviation (pixels of Fashion-MNIST kept in [0, 1]);");
        Console.WriteLine("    autoencoder: new AutoencoderOptions { LatentDimension = d, Seed = 0 }, all else default; PCA: ProjectToPrincipalComponents(rank d, seed 0);");
        Console.WriteLine("    test MSE: mean ReconstructionError of the held-out fold vs exact PCA-d (PcaBaseline) on the same fold");
        var variants = cfg.SmallVariants;
        var summary = new Dictionary<string, List<double>>();
        foreach (var set in sets)
        {
            int d = Math.Min(16, set.Features / 2);
            Console.WriteLine($"  {set.Name}: {set.Rows} rows x {set.Features} features, {set.Y.Max() + 1} classes, d = {d}  ({set.Source})");
            var folds = FoldOf(set.Rows, seed: 0);
            var pca = CrossValidate(set, folds, d, null, cfg);
            Console.WriteLine($"    PCA-{d}          : 5-NN {pca.Accuracy:P2}  test MSE {pca.Mse:F5} (exact PCA)");
            foreach (var variant in variants)
            {
                var ae = CrossValidate(set, folds, d, variant, cfg);
                double diff = (ae.Accuracy - pca.Accuracy) * 100;
                Console.WriteLine($"    AE {variant,-12}: 5-NN {ae.Accuracy:P2} ({diff:+0.00;-0.00} points)  test MSE {ae.Mse:F5} (x{ae.Mse / pca.Mse:F2} PCA)  epochs {ae.Epochs}  {ae.Seconds:F1}s");
                if (ae.Choice is { } choice) Console.WriteLine($"      fold 1: {choice}");
                summary.TryAdd(variant, new List<double>());
                summary[variant].Add(diff);
                if (variant == variants[0])
                {
                    Table.Add(new Row($"(i) {set.Name} {set.Rows}x{set.Features} d={d}: 5-NN acc AE vs PCA ({diff:+0.00;-0.00} pt)", $"{ae.Accuracy:F4}", $"{pca.Accuracy:F4}", ae.Accuracy / pca.Accuracy, ">= -0.5 pt", diff >= -0.5));
                    Table.Add(new Row($"(i) {set.Name} test MSE AE vs PCA-{d}", $"{ae.Mse:F5}", $"{pca.Mse:F5}", ae.Mse / pca.Mse, "(info)", null));
                }
            }
        }
        Console.WriteLine("  => mean 5-NN difference AE - PCA over the sets, points (worst):");
        foreach (var (variant, diffs) in summary)
            Console.WriteLine($"     {variant,-12} mean {diffs.Average():+0.00;-0.00}  worst {diffs.Min():+0.00;-0.00}");
        var main = summary[variants[0]];
        Table.Add(new Row($"(i) mean 5-NN difference AE - PCA over {main.Count} sets (points)", $"{main.Average():+0.00;-0.00}", "0", null, "> 0", main.Average() > 0));
    }

    private sealed record CvResult(double Accuracy, double Mse, string Epochs, double Seconds, string? Choice);

    /// <summary>5-fold CV of 5-NN on PCA codes (<paramref name="variant"/> null) or on autoencoder codes.</summary>
    private static CvResult CrossValidate(SmallSet set, int[] folds, int d, string? variant, Config cfg)
    {
        int correct = 0;
        double mseSum = 0;
        var epochs = new List<int>();
        string? choice = null;
        var clock = Stopwatch.StartNew();
        for (int f = 0; f < SmallFolds; f++)
        {
            var trainIdx = Enumerable.Range(0, set.Rows).Where(i => folds[i] != f).ToArray();
            var testIdx = Enumerable.Range(0, set.Rows).Where(i => folds[i] == f).ToArray();
            var (xTrain, xTest) = Standardise(set, trainIdx, testIdx);
            var ml = new MLContext(seed: 0);
            var trainView = TableView(ml, xTrain, set.Features);
            var testView = TableView(ml, xTest, set.Features);
            float[] codesTrain, codesTest;
            if (variant is null)
            {
                var pca = ml.Transforms.ProjectToPrincipalComponents("Code", "Features", rank: d, seed: 0).Fit(trainView);
                codesTrain = Column(pca.Transform(trainView), "Code", d);
                codesTest = Column(pca.Transform(testView), "Code", d);
                mseSum += PcaBaseline.Fit(xTrain, set.Features, d).ReconstructionMse(xTest) * testIdx.Length;
            }
            else
            {
                var options = SmallVariant(variant, d, set.Features);
                var t = ml.Transforms.Autoencoder(options).Fit(trainView);
                try
                {
                    epochs.Add(t.History.Epochs.Count);
                    if (f == 0) choice = string.Join(" ", new[] { t.History.EpochsChoice, t.History.SmallDataChoice }.Where(s => s is not null));
                    codesTrain = Column(t.Transform(trainView), AutoencoderColumnNames.LatentCode, d);
                    var scored = t.Transform(testView);
                    codesTest = Column(scored, AutoencoderColumnNames.LatentCode, d);
                    mseSum += Column(scored, AutoencoderColumnNames.ReconstructionError, 1).Sum(v => (double)v);
                }
                finally
                {
                    t.Model.Dispose();
                }
            }
            var yTrain = trainIdx.Select(i => set.Y[i]).ToArray();
            for (int j = 0; j < testIdx.Length; j++)
                if (Knn(codesTrain, yTrain, codesTest.AsSpan(j * d, d), d) == set.Y[testIdx[j]]) correct++;
        }
        string ep = epochs.Count == 0 ? "" : $"{epochs.Min()}-{epochs.Max()}";
        return new CvResult((double)correct / set.Rows, mseSum / set.Rows, ep, clock.Elapsed.TotalSeconds, choice);
    }

    /// <summary>
    /// The options of a named variant: "default" is the library's defaults; the others are candidate rules measured
    /// against them (--small-variants, parts joined by '+'): "off" switches the small-data rule off (the defaults before it);
    /// "vfN" holds out N% with early stopping instead of the rule (the model keeps the held-out rows out; no refit); "pN" early-stopping patience N; "bsN" batch size N; "wdN"
    /// weight decay 1e-N; "narrow" hidden layers 64, 32; "noise" Gaussian input noise 0.1.
    /// </summary>
    private static AutoencoderOptions SmallVariant(string variant, int d, int features)
    {
        var o = new AutoencoderOptions { LatentDimension = d, Seed = 0 };
        foreach (var part in variant.Split('+'))
        {
            switch (part)
            {
                case "default": break;
                case "off": o.SmallDataRows = 0; break;
                case "narrow": o.HiddenLayerSizes = new[] { 64, 32 }; break;
                case "noise": o.Corruption = new GaussianNoise { Factor = 0.1 }; break;
                // vfN: a validation split of N% with early stopping (patience 20 unless pN follows), the rule itself off
                case var v when v.StartsWith("vf", StringComparison.Ordinal):
                    o.SmallDataRows = 0;
                    o.ValidationFraction = int.Parse(v[2..], CultureInfo.InvariantCulture) / 100.0;
                    if (o.EarlyStoppingPatience == 0) o.EarlyStoppingPatience = 20;
                    break;
                case var v when v.StartsWith("p", StringComparison.Ordinal): o.EarlyStoppingPatience = int.Parse(v[1..], CultureInfo.InvariantCulture); break;
                case var v when v.StartsWith("bs", StringComparison.Ordinal): o.BatchSize = int.Parse(v[2..], CultureInfo.InvariantCulture); break;
                case var v when v.StartsWith("wd", StringComparison.Ordinal): o.WeightDecay = Math.Pow(10, -int.Parse(v[2..], CultureInfo.InvariantCulture)); break;
                default: throw new ArgumentException($"Unknown small-data variant '{part}'.");
            }
        }
        return o;
    }

    private static int[] FoldOf(int rows, int seed)
    {
        var order = Enumerable.Range(0, rows).ToArray();
        new Random(seed).Shuffle(order);
        var fold = new int[rows];
        for (int k = 0; k < rows; k++) fold[order[k]] = k % SmallFolds;
        return fold;
    }

    /// <summary>Standardises with the training fold's statistics; Fashion-MNIST pixels (in [0, 1]) are kept as they are.</summary>
    private static (float[] Train, float[] Test) Standardise(SmallSet set, int[] trainIdx, int[] testIdx)
    {
        int p = set.Features;
        bool pixels = set.Name.StartsWith("fashion", StringComparison.Ordinal);
        var mean = new double[p];
        var sd = new double[p];
        if (!pixels)
        {
            foreach (int i in trainIdx) for (int j = 0; j < p; j++) mean[j] += set.X[i * p + j];
            for (int j = 0; j < p; j++) mean[j] /= trainIdx.Length;
            foreach (int i in trainIdx) for (int j = 0; j < p; j++) sd[j] += Math.Pow(set.X[i * p + j] - mean[j], 2);
            for (int j = 0; j < p; j++) sd[j] = Math.Sqrt(sd[j] / trainIdx.Length) is var s && s > 1e-12 ? s : 1;
        }
        else Array.Fill(sd, 1.0);
        float[] Take(int[] idx)
        {
            var x = new float[idx.Length * p];
            for (int k = 0; k < idx.Length; k++)
                for (int j = 0; j < p; j++) x[k * p + j] = (float)((set.X[idx[k] * p + j] - mean[j]) / sd[j]);
            return x;
        }
        return (Take(trainIdx), Take(testIdx));
    }

    private static IDataView TableView(MLContext ml, float[] x, int p)
    {
        var rows = new List<TableRow>(x.Length / p);
        for (int i = 0; i < x.Length; i += p) rows.Add(new TableRow { Features = x.AsSpan(i, p).ToArray() });
        var schema = SchemaDefinition.Create(typeof(TableRow));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, p);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>A float column (scalar when <paramref name="width"/> is 1, else a vector) as one row-major array.</summary>
    private static float[] Column(IDataView view, string name, int width)
    {
        var col = view.Schema[name];
        var values = new List<float>();
        using var cursor = view.GetRowCursor(new[] { col });
        if (width == 1 && col.Type is not VectorDataViewType)
        {
            var g = cursor.GetGetter<float>(col);
            float v = 0;
            while (cursor.MoveNext()) { g(ref v); values.Add(v); }
        }
        else
        {
            var g = cursor.GetGetter<VBuffer<float>>(col);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext()) { g(ref buffer); values.AddRange(buffer.DenseValues()); }
        }
        return values.ToArray();
    }

    /// <summary>k-NN vote (Euclidean, k = 5); a tied vote goes to the tied class with the nearest member.</summary>
    private static int Knn(float[] train, int[] y, ReadOnlySpan<float> query, int d)
    {
        int n = y.Length;
        var best = new (double Dist, int Label)[Neighbours];
        Array.Fill(best, (double.PositiveInfinity, -1));
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) { double e = train[i * d + j] - query[j]; s += e * e; }
            if (s >= best[^1].Dist) continue;
            int k = Neighbours - 1;
            while (k > 0 && best[k - 1].Dist > s) { best[k] = best[k - 1]; k--; }
            best[k] = (s, y[i]);
        }
        var votes = best.Where(b => b.Label >= 0).GroupBy(b => b.Label).Select(g => (Label: g.Key, Count: g.Count(), Nearest: g.Min(b => b.Dist))).ToList();
        return votes.OrderByDescending(v => v.Count).ThenBy(v => v.Nearest).First().Label;
    }

    private static List<SmallSet> LoadSmallSets(Config cfg)
    {
        string dir = cfg.SmallDataDir ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "small-data");
        var sets = new List<SmallSet>();
        foreach (var name in new[] { "wine", "sonar", "ionosphere", "glass", "vehicle", "satellite" })
        {
            string path = Path.Combine(dir, name + ".csv");
            if (!File.Exists(path)) throw new FileNotFoundException($"Run bench/small-data/prepare.sh first: {path} is missing.", path);
            sets.Add(ReadCsv(name, path, name == "wine" ? "scikit-learn load_wine" : "R mlbench (UCI)"));
        }
        string subset = cfg.SmallFashionDir ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "data", "fashion-mnist-subset");
        var fm = FashionMnist.Load(Path.Combine(subset, FashionMnist.TrainImagesFile), Path.Combine(subset, FashionMnist.TrainLabelsFile));
        sets.Add(new SmallSet("fashion-subset", "data/fashion-mnist-subset, training file", fm.Pixels, fm.Labels, fm.PixelsPerImage));
        return sets;
    }

    private static SmallSet ReadCsv(string name, string path, string source)
    {
        var lines = File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).ToArray();
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        var x = new List<float>();
        var y = new List<int>();
        int p = -1;
        foreach (var line in lines)
        {
            var cells = line.Split(',');
            string label = cells[0].Trim('"');
            if (!labels.TryGetValue(label, out int k)) labels[label] = k = labels.Count;
            y.Add(k);
            if (p < 0) p = cells.Length - 1;
            else if (cells.Length - 1 != p) throw new FormatException($"{path}: a row has {cells.Length - 1} features, expected {p}.");
            for (int j = 1; j < cells.Length; j++) x.Add(float.Parse(cells[j].Trim('"'), CultureInfo.InvariantCulture));
        }
        return new SmallSet(name, source, x.ToArray(), y.ToArray(), p);
    }
}
