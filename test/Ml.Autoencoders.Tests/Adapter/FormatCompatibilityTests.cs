using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Files written by an earlier version keep loading and keep giving the outputs they gave: one file of every kind the
/// library writes (dense, variational, stacked with greedy pretraining, convolutional, anomaly detector, k-NN, t-SNE,
/// fine-tuned classifier), committed under TestData/formats/&lt;date&gt; with the outputs they gave on fixed rows
/// (expected.json). A refactoring that changes a format must keep reading these. Four sets: 2026-12-04, written by main
/// before the one artifact container (model and checkpoint version 1, the downstream files field by field),
/// 2026-12-05, the container versions (model version 2, the body's options named "Convolution"), 2026-12-05b (model
/// version 3, the body's options as "Body" with their kind), and 2026-12-05c, the versions written now (anomaly detector
/// version 4, with the code-distance score's reference codes). To add a new set (a new format version), run
/// <see cref="FilesOfTheNewestSetLoadAndGiveTheirOutputs"/> with ML_AUTOENCODERS_WRITE_FORMAT_FILES set to the
/// repository's test/Ml.Autoencoders.Tests/TestData/formats/&lt;date&gt; folder, commit what it writes, keep the
/// previous newest set as another checked set and make the new one <see cref="Newest"/>.
/// </summary>
[TestClass]
public sealed class FormatCompatibilityTests
{
    /// <summary>The sets written by earlier versions, still read.</summary>
    private static readonly string[] OlderSets = ["2026-12-04", "2026-12-05", "2026-12-05b"];

    /// <summary>The set written by this library's versions; a kind whose written version changes fails until a new set is committed.</summary>
    private const string Newest = "2026-12-05c";

    /// <summary>The magic and format version each kind of the newest set is written in.</summary>
    private static readonly Dictionary<string, (string Magic, int Version)> NewestVersions = new()
    {
        ["dense"] = ("MLAEMODL", 3), ["variational"] = ("MLAEMODL", 3), ["stacked"] = ("MLAEMODL", 3), ["convolutional"] = ("MLAEMODL", 3),
        ["anomaly"] = ("MLAEANOM", 4), ["anomaly-code-distance"] = ("MLAEANOM", 4), ["knn"] = ("MLAEKNNT", 1), ["tsne"] = ("MLAETSNE", 2), ["classifier"] = ("MLAEFTCL", 2),
    };

    private const int FeatureCount = 12;

    /// <summary>Twelve features with low-rank structure in [0, 1], and a three-class label.</summary>
    public sealed class Row
    {
        /// <summary>Features.</summary>
        [VectorType(FeatureCount)]
        public float[] Features { get; set; } = [];

        /// <summary>Class 0, 1 or 2.</summary>
        public uint Label { get; set; }
    }

    private static Row[] Rows(int count, int seed) =>
        Synthetic.LowRank(count, FeatureCount, 3, seed).Select((f, i) => new Row { Features = f, Label = (uint)(f[0] > 0.6 ? 2 : f[0] > 0.4 ? 1 : 0) }).ToArray();

    private sealed record Kind(string Column, Func<MLContext, IDataView, ITransformer> Fit, Action<ITransformer, string> Save, Func<string, ITransformer> Load);

    private static AutoencoderOptions Small(int seed) => new() { LatentDimension = 3, HiddenLayerSizes = new[] { 6 }, Epochs = 3, Seed = seed };

    private static readonly Dictionary<string, Kind> Kinds = new()
    {
        ["dense"] = new("Reconstruction", (ml, d) => ml.Transforms.Autoencoder(Small(1)).Fit(d),
            (t, p) => ((AutoencoderTransformer)t).Save(p), p => AutoencoderTransformer.Load(p)),
        ["variational"] = new("LatentCode", (ml, d) =>
        {
            var o = Small(2);
            o.LatentHead = LatentHead.Gaussian;
            return ml.Transforms.Autoencoder(o).Fit(d);
        }, (t, p) => ((AutoencoderTransformer)t).Save(p), p => AutoencoderTransformer.Load(p)),
        ["stacked"] = new("Reconstruction", (ml, d) =>
        {
            var o = Small(3);
            o.HiddenLayerSizes = new[] { 8, 6 };
            o.PretrainEpochs = 2;
            return ml.Transforms.Autoencoder(o).Fit(d);
        }, (t, p) => ((AutoencoderTransformer)t).Save(p), p => AutoencoderTransformer.Load(p)),
        ["convolutional"] = new("Reconstruction", (ml, d) => ml.Transforms.Autoencoder(new AutoencoderOptions
        {
            Body = new ConvolutionalOptions { ImageShape = new ImageShape(1, 3, 4), EncoderLayers = { new ConvolutionLayer(2, 3, 2) }, BatchNormalization = true },
            HiddenLayerSizes = Array.Empty<int>(), Epochs = 3, Seed = 4,
        }).Fit(d), (t, p) => ((AutoencoderTransformer)t).Save(p), p => AutoencoderTransformer.Load(p)),
        // The score of the older sets (the reconstruction error alone): ScoreKind keeps it now that the default adds the code distance.
        ["anomaly"] = new("Score", (ml, d) => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 3, EnsembleSize = 2, Seed = 5, ScoreKind = AnomalyScoreKind.ReconstructionError }).Fit(d),
            (t, p) => ((AutoencoderAnomalyTransformer)t).Save(p), p => AutoencoderAnomalyTransformer.Load(p)),
        // The same with the default score (reconstruction error and code distance; the newest set and its golden only).
        ["anomaly-code-distance"] = new("Score", (ml, d) => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 3, EnsembleSize = 2, Seed = 5 }).Fit(d),
            (t, p) => ((AutoencoderAnomalyTransformer)t).Save(p), p => AutoencoderAnomalyTransformer.Load(p)),
        ["knn"] = new("Score", (ml, d) => ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 3)
                .Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(d).Transform(d)),
            (t, p) => ((KNearestNeighborsPredictionTransformer)t).Save(p), p => KNearestNeighborsPredictionTransformer.Load(p)),
        ["tsne"] = new("Tsne", (ml, d) => ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 5, Iterations = 100, EarlyExaggerationIterations = 40, Seed = 6 }).Fit(d),
            (t, p) => ((TsneTransformer)t).Save(p), p => TsneTransformer.Load(p)),
        // The fine-tuning recipe of 2026-12-05 (cross-entropy alone): ReconstructionWeight 0 keeps it now that the default keeps an auxiliary reconstruction.
        ["classifier"] = new("Score", (ml, d) => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
            {
                Autoencoder = ml.Transforms.Autoencoder(Small(7)).Fit(d), Epochs = 2, Seed = 7, ReconstructionWeight = 0,
            }).Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(d).Transform(d)),
            (t, p) => ((AutoencoderClassifierTransformer)t).Save(p), p => AutoencoderClassifierTransformer.Load(p)),
        // The same with the default auxiliary reconstruction (golden only: its file format is the classifier's).
        ["classifier-auxiliary"] = new("Score", (ml, d) => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
            {
                Autoencoder = ml.Transforms.Autoencoder(Small(7)).Fit(d), Epochs = 2, Seed = 7,
            }).Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(d).Transform(d)),
            (t, p) => ((AutoencoderClassifierTransformer)t).Save(p), p => AutoencoderClassifierTransformer.Load(p)),
    };

    private static string Folder(string set) => Path.Combine(AppContext.BaseDirectory, "TestData", "formats", set);

    /// <summary>Each committed file of the sets written by earlier versions loads and gives, on the same rows, the outputs it gave when it was written (within 1e-5).</summary>
    [TestMethod]
    [DataRow("dense")] [DataRow("variational")] [DataRow("stacked")] [DataRow("convolutional")]
    [DataRow("anomaly")] [DataRow("knn")] [DataRow("tsne")] [DataRow("classifier")]
    public void FilesFromBeforeLoadAndGiveTheirOutputs(string name)
    {
        foreach (var set in OlderSets) LoadsAndGivesItsOutputs(set, name);
    }

    /// <summary>
    /// Each committed file of the newest set is in the format version written now and loads giving the outputs it gave
    /// (within 1e-5). With ML_AUTOENCODERS_WRITE_FORMAT_FILES set, writes the set instead.
    /// </summary>
    [TestMethod]
    [DataRow("dense")] [DataRow("variational")] [DataRow("stacked")] [DataRow("convolutional")]
    [DataRow("anomaly")] [DataRow("anomaly-code-distance")] [DataRow("knn")] [DataRow("tsne")] [DataRow("classifier")]
    public void FilesOfTheNewestSetLoadAndGiveTheirOutputs(string name)
    {
        var kind = Kinds[name];
        if (Environment.GetEnvironmentVariable("ML_AUTOENCODERS_WRITE_FORMAT_FILES") is { Length: > 0 } target)
        {
            var ml = new MLContext(seed: 0);
            var probe = ml.Data.LoadFromEnumerable(Rows(10, seed: 99));
            Directory.CreateDirectory(target);
            var fitted = kind.Fit(ml, ml.Data.LoadFromEnumerable(Rows(120, seed: 1)));
            kind.Save(fitted, Path.Combine(target, name + ".bin"));
            File.WriteAllText(Path.Combine(target, name + ".expected.json"), JsonSerializer.Serialize(Outputs(fitted, probe, kind.Column)));
            Dispose(fitted);
            return;
        }
        var bytes = File.ReadAllBytes(Path.Combine(Folder(Newest), name + ".bin"));
        var (magic, version) = NewestVersions[name];
        Assert.AreEqual(magic, System.Text.Encoding.ASCII.GetString(bytes, 0, 8), $"{name}: magic of the newest set");
        Assert.AreEqual(version, BitConverter.ToInt32(bytes, 8), $"{name}: the newest set is not in the version written now; commit a new set (see the class summary)");
        // What this library writes now is the newest set's version: saving the loaded file again starts with the same magic and version.
        var loaded = kind.Load(Path.Combine(Folder(Newest), name + ".bin"));
        try
        {
            using var dir = new TempDirectory("formats");
            kind.Save(loaded, dir.File(name + ".bin"));
            CollectionAssert.AreEqual(bytes[..12], File.ReadAllBytes(dir.File(name + ".bin"))[..12], $"{name}: this library writes another version than the newest set's");
        }
        finally
        {
            Dispose(loaded);
        }
        LoadsAndGivesItsOutputs(Newest, name);
    }

    private static void LoadsAndGivesItsOutputs(string set, string name)
    {
        var kind = Kinds[name];
        var ml = new MLContext(seed: 0);
        var probe = ml.Data.LoadFromEnumerable(Rows(10, seed: 99));
        string file = Path.Combine(Folder(set), name + ".bin");
        Assert.IsTrue(File.Exists(file), $"{file} is committed test data");
        var expected = JsonSerializer.Deserialize<float[][]>(File.ReadAllText(Path.Combine(Folder(set), name + ".expected.json")))!;
        var loaded = kind.Load(file);
        try
        {
            var actual = Outputs(loaded, probe, kind.Column);
            Assert.AreEqual(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(expected[i].Length, actual[i].Length, $"{name} row {i}: output size");
                for (int j = 0; j < expected[i].Length; j++)
                    Assert.AreEqual(expected[i][j], actual[i][j], 1e-5f * Math.Max(1f, Math.Abs(expected[i][j])), $"{name} row {i} value {j}");
            }
        }
        finally
        {
            Dispose(loaded);
        }
    }

    /// <summary>
    /// Golden: fitting each kind again with the recipe and seed of the committed files gives the outputs that main gave
    /// on 2026-12-05, before the architecture change (TestData/golden/&lt;kind&gt;.json, within 1e-4): a refactoring that
    /// changes a draw, an initialisation, the order of a loop or a default shows here. A deliberate change of behaviour
    /// rewrites them: run this class with ML_AUTOENCODERS_WRITE_GOLDEN set to the repository's
    /// test/Ml.Autoencoders.Tests/TestData/golden folder and say why in the commit. "classifier-auxiliary" (the
    /// fine-tuning default with the auxiliary reconstruction) was written when that default came, on 2026-12-05, and
    /// "anomaly-code-distance" (the detector's default score, reconstruction error and code distance) the same day.
    /// </summary>
    [TestMethod]
    [DataRow("dense")] [DataRow("variational")] [DataRow("stacked")] [DataRow("convolutional")]
    [DataRow("anomaly")] [DataRow("anomaly-code-distance")] [DataRow("knn")] [DataRow("tsne")] [DataRow("classifier")] [DataRow("classifier-auxiliary")]
    public void SameSeedGivesTheSameModelAsBefore(string name)
    {
        var kind = Kinds[name];
        var ml = new MLContext(seed: 0);
        var probe = ml.Data.LoadFromEnumerable(Rows(10, seed: 99));
        var fitted = kind.Fit(ml, ml.Data.LoadFromEnumerable(Rows(120, seed: 1)));
        try
        {
            var actual = Outputs(fitted, probe, kind.Column);
            if (Environment.GetEnvironmentVariable("ML_AUTOENCODERS_WRITE_GOLDEN") is { Length: > 0 } target)
            {
                Directory.CreateDirectory(target);
                File.WriteAllText(Path.Combine(target, name + ".json"), JsonSerializer.Serialize(actual));
                return;
            }
            string file = Path.Combine(AppContext.BaseDirectory, "TestData", "golden", name + ".json");
            Assert.IsTrue(File.Exists(file), $"{file} is committed test data");
            var expected = JsonSerializer.Deserialize<float[][]>(File.ReadAllText(file))!;
            Assert.AreEqual(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(expected[i].Length, actual[i].Length, $"{name} row {i}: output size");
                for (int j = 0; j < expected[i].Length; j++)
                    Assert.AreEqual(expected[i][j], actual[i][j], 1e-4f * Math.Max(1f, Math.Abs(expected[i][j])), $"{name} row {i} value {j}: a same-seed fit no longer gives what it gave");
            }
        }
        finally
        {
            Dispose(fitted);
        }
    }

    private static float[][] Outputs(ITransformer model, IDataView rows, string column)
    {
        var output = model.Transform(rows);
        return output.Schema[column].Type is VectorDataViewType
            ? output.GetColumn<float[]>(column).ToArray()
            : output.GetColumn<float>(column).Select(v => new[] { v }).ToArray();
    }

    private static void Dispose(ITransformer model)
    {
        switch (model)
        {
            case AutoencoderTransformer a: a.Model.Dispose(); break;
            case AutoencoderAnomalyTransformer d: foreach (var m in d.Members) m.Model.Dispose(); break;
            case KNearestNeighborsPredictionTransformer k: k.Model.Dispose(); break;
            case TsneTransformer t: t.Release(); break;
            case AutoencoderClassifierTransformer c: c.Autoencoder.Model.Dispose(); break;
        }
    }
}
