using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Damaged files of the downstream stages (k-NN, t-SNE, anomaly detector, fine-tuned classifier): flipped bytes,
/// truncations and splices either load to a transformer giving identical outputs or raise the library's format
/// exception, never anything else (fixed seed; 300 cases per format).
/// </summary>
[TestClass]
public sealed class DownstreamFileFuzzTests
{
    /// <summary>Set by MSTest: where the outcome counts are written.</summary>
    public TestContext TestContext { get; set; } = null!;

    /// <summary>Every mutated, truncated or spliced file loads identically or raises <see cref="AutoencoderModelFormatException"/>.</summary>
    [TestMethod]
    public void DamagedFilesLoadIdenticallyOrRaiseTheFormatException()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(120, 6, 2, seed: 11);
        var raw = ml.ToDataView(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw).Transform(raw);
        var pretrained = ml.Transforms.Autoencoder(new Transforms.AutoencoderOptions { HiddenLayerSizes = [4], LatentDimension = 2, Epochs = 2, Seed = 7 }).Fit(raw);
        var formats = new (string Name, Pipeline.BatchTransformer Model, Func<Stream, ITransformer> Load, string Column)[]
        {
            ("k-NN", ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 3).Fit(keyed), s => KNearestNeighborsPredictionTransformer.Load(s), "Score"),
            ("t-SNE", ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 5, Iterations = 30, EarlyExaggerationIterations = 10 }).Fit(raw), s => TsneTransformer.Load(s), "Tsne"),
            ("anomaly", ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = new Transforms.AutoencoderOptions { HiddenLayerSizes = [4], LatentDimension = 2, Epochs = 2 } }).Fit(raw), s => AutoencoderAnomalyTransformer.Load(s), "Score"),
            ("classifier", ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 2 }).Fit(keyed), s => AutoencoderClassifierTransformer.Load(s), "Score"),
        };
        var random = new Random(20261125);
        var probe = ml.ToDataView(rows.Take(10).ToArray());
        try
        {
            foreach (var (name, model, load, column) in formats)
            {
                using var buffer = new MemoryStream();
                model.Save(buffer);
                var original = buffer.ToArray();
                var expected = Conformance.EstimatorConformance.ReadOutputs(model.Transform(probe), [column]);
                int identical = 0, refused = 0;
                for (int c = 0; c < 300; c++)
                {
                    var damaged = FileFuzzing.Damage(original, random, c % 3);
                    try
                    {
                        var loaded = load(new MemoryStream(damaged));
                        Conformance.EstimatorConformance.AssertSameOutputs(expected, Conformance.EstimatorConformance.ReadOutputs(loaded.Transform(probe), [column]), $"{name}: case {c} loaded");
                        identical++;
                    }
                    catch (AutoencoderModelFormatException)
                    {
                        refused++;
                    }
                }
                Assert.AreEqual(300, identical + refused, name);
                Assert.IsTrue(refused > 250, $"{name}: {refused} of 300 damaged files refused");
            }
        }
        finally
        {
            pretrained.Model.Dispose();
        }
    }

    /// <summary>
    /// The container versions' JSON headers edited with hostile values (null, negative, zero, huge, wrong types, removed
    /// fields, unknown fields) and re-signed, so the reader behind the checksum runs: each file loads (a different but
    /// valid transformer) or raises <see cref="AutoencoderModelFormatException"/>, never anything else, within seconds
    /// (fixed seed; 200 cases per format).
    /// </summary>
    [TestMethod]
    public void ResignedHostileHeadersLoadOrRaiseTheFormatException()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(120, 6, 2, seed: 11);
        var raw = ml.ToDataView(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw).Transform(raw);
        var pretrained = ml.Transforms.Autoencoder(new Transforms.AutoencoderOptions { HiddenLayerSizes = [4], LatentDimension = 2, Epochs = 2, Seed = 7 }).Fit(raw);
        var knn = ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 3).Fit(keyed);
        var formats = new (string Name, Action<Stream> Save, Func<Stream, object> Load)[]
        {
            ("k-NN transformer", knn.Save, s => KNearestNeighborsPredictionTransformer.Load(s)),
            ("k-NN model", knn.Model.Save, s => KNearestNeighborsModel.Load(s)),
            ("t-SNE", ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 5, Iterations = 30, EarlyExaggerationIterations = 10 }).Fit(raw).Save, s => TsneTransformer.Load(s)),
            ("anomaly", ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { EnsembleSize = 2, Autoencoder = new Transforms.AutoencoderOptions { HiddenLayerSizes = [4], LatentDimension = 2, Epochs = 2 } }).Fit(raw).Save, s => AutoencoderAnomalyTransformer.Load(s)),
            ("classifier", ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 2 }).Fit(keyed).Save, s => AutoencoderClassifierTransformer.Load(s)),
        };
        JsonNode?[] hostile = [null, -1, 0, 1, 2, 3, int.MaxValue, int.MinValue, long.MaxValue, 1e300, -1e300, "x", "", "NaN", "Infinity", new JsonArray(), new JsonObject(), true, 99];
        var random = new Random(20261205);
        try
        {
            foreach (var (name, save, load) in formats)
            {
                using var buffer = new MemoryStream();
                save(buffer);
                var original = buffer.ToArray();
                int loaded = 0, refused = 0;
                FileFuzzing.RunWatched(200, c =>
                {
                    var bytes = FileFuzzing.EditHeader(original, header => Mutate(header, random, hostile));
                    try
                    {
                        Release(load(new MemoryStream(bytes)));
                        loaded++;
                    }
                    catch (AutoencoderModelFormatException)
                    {
                        refused++;
                    }
                    catch (Exception e)
                    {
                        string json = FileFuzzing.Header(bytes).ToJsonString();
                        throw new AssertFailedException($"{name}, case {c}: {e.GetType().Name} escaped from the re-signed header {json[..Math.Min(json.Length, 400)]}: {e.Message}", e);
                    }
                }, c => $"{name}, case {c}", TimeSpan.FromSeconds(20));
                TestContext.WriteLine($"{name}: {loaded} loaded, {refused} refused");
                Assert.AreEqual(200, loaded + refused, name);
                Assert.IsTrue(refused > 50, $"{name}: only {refused} of 200 hostile headers refused");
            }
        }
        finally
        {
            pretrained.Model.Dispose();
            knn.Model.Dispose();
        }
    }

    /// <summary>One hostile edit of a header: a field removed or set to a hostile value (nested objects too), or an unknown field added.</summary>
    private static void Mutate(JsonObject header, Random random, JsonNode?[] hostile)
    {
        var target = header;
        if (header["Options"] is JsonObject nested && random.Next(2) == 0) target = nested;
        var names = target.Select(p => p.Key).ToArray();
        string field = names[random.Next(names.Length)];
        for (int edits = random.Next(1, 3); edits > 0; edits--)
        {
            switch (random.Next(5))
            {
                case 0: target.Remove(field); break;
                case 1: target["Unknown" + random.Next(10)] = 1; break;
                default: target[field] = hostile[random.Next(hostile.Length)]?.DeepClone(); break;
            }
            field = names[random.Next(names.Length)];
        }
    }

    private static void Release(object loaded)
    {
        switch (loaded)
        {
            case KNearestNeighborsPredictionTransformer k: k.Model.Dispose(); break;
            case KNearestNeighborsModel m: m.Dispose(); break;
            case TsneTransformer t: t.Release(); break;
            case AutoencoderAnomalyTransformer a: foreach (var m in a.Members) m.Model.Dispose(); break;
            case AutoencoderClassifierTransformer c: c.Autoencoder.Model.Dispose(); break;
        }
    }
}
