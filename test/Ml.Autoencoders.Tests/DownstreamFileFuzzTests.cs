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
}
