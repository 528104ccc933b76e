using Microsoft.ML;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Tests.Conformance;

namespace Ml.Autoencoders.Tests;

/// <summary>Several threads, each with its own cursor over one fitted downstream transformer, get what one thread gets.</summary>
[TestClass]
public sealed class DownstreamConcurrencyTests
{
    /// <summary>k-NN, t-SNE placement, the anomaly detector and the fine-tuned classifier, four threads at once, small batches.</summary>
    [TestMethod]
    public void ConcurrentCursorsAgreeWithOne()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(400, 12, 3, seed: 8);
        var raw = ml.ToDataView(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw).Transform(raw);
        var pretrained = ml.Transforms.Autoencoder(new Transforms.AutoencoderOptions { HiddenLayerSizes = [8], LatentDimension = 3, Epochs = 3, Seed = 7 }).Fit(raw);
        var fresh = ml.ToDataView(Synthetic.LowRank(300, 12, 3, seed: 9));
        var stages = new (string Name, ITransformer Model, string Column)[]
        {
            ("k-NN", ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 4).Fit(keyed), "Score"),
            ("t-SNE", ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 10, Iterations = 100, EarlyExaggerationIterations = 40, TransformBatchSize = 16 }).Fit(raw), "Tsne"),
            ("anomaly", ml.AnomalyDetection.Trainers.Autoencoder(new Anomaly.AutoencoderAnomalyOptions { Autoencoder = new Transforms.AutoencoderOptions { HiddenLayerSizes = [8], LatentDimension = 3, Epochs = 3, TransformBatchSize = 16 } }).Fit(raw), "Score"),
            ("classifier", ml.MulticlassClassification.Trainers.AutoencoderClassifier(new Classification.AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 3 }).Fit(keyed), "Score"),
        };
        ((Neighbors.KNearestNeighborsPredictionTransformer)stages[0].Model).TransformBatchSize = 32;
        ((Classification.AutoencoderClassifierTransformer)stages[3].Model).Autoencoder.TransformBatchSize = 32;
        try
        {
            foreach (var (name, model, column) in stages)
            {
                var view = model.Transform(fresh);
                var expected = EstimatorConformance.ReadOutputs(view, [column]);
                var results = new Dictionary<string, List<float[]>>[4];
                Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t => results[t] = EstimatorConformance.ReadOutputs(view, [column]));
                foreach (var result in results) EstimatorConformance.AssertSameOutputs(expected, result, $"{name}: concurrent cursor");
            }
        }
        finally
        {
            pretrained.Model.Dispose();
            ((Anomaly.AutoencoderAnomalyTransformer)stages[2].Model).Autoencoder.Model.Dispose();
            ((Classification.AutoencoderClassifierTransformer)stages[3].Model).Autoencoder.Model.Dispose();
        }
    }
}
