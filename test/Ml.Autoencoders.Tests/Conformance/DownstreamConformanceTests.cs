using Microsoft.ML;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Tests.Conformance;

namespace Ml.Autoencoders.Tests;

/// <summary>The k-NN trainer and the t-SNE transform pass the conformance kit that every estimator runs.</summary>
[TestClass]
public sealed class DownstreamConformanceTests
{
    /// <summary>k-NN (on a key label): schema, determinism, batch/order invariance, bad input, both save/load routes, PredictionEngine.</summary>
    [TestMethod]
    public void KNearestNeighborsPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        // The label is keyed once up front: ML.NET's MapValueToKey itself fails on an empty data view (ArgumentNullException
        // in its own Sort), which would hide the trainer's answer to empty data.
        var raw = ml.ToDataView(rows);
        var keyer = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw);
        var keyed = keyer.Transform(raw);
        EstimatorConformance.RunAll(ml, new ConformanceCase
        {
            Name = "k-NN classifier",
            CreateEstimator = () => ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 4, weighting: NeighborWeighting.Distance),
            TrainData = keyed,
            EmptyTrainData = keyer.Transform(ml.ToDataView(Array.Empty<float[]>())),
            ScoreRows = rows.Take(77).Select(r => new VectorRow { Features = r }).ToArray(),
            FeatureSize = 12,
            OutputColumns = ["Score"],
            InputColumnName = "Features",
            PredictionType = typeof(ScoreRow),
            FitsOnOneRow = false,
            SetBatchSize = (t, n) => Last<KNearestNeighborsPredictionTransformer>(t).TransformBatchSize = n,
            OwnSaveLoad = t =>
            {
                using var stream = new MemoryStream();
                Last<KNearestNeighborsPredictionTransformer>(t).Save(stream);
                stream.Position = 0;
                return KNearestNeighborsPredictionTransformer.Load(stream);
            },
        });
    }

    /// <summary>t-SNE (exact gradients at this size): the same kit; scored rows are placed against the fitted embedding.</summary>
    [TestMethod]
    public void TsnePassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        var scored = Synthetic.LowRank(77, 12, 3, seed: 6);
        EstimatorConformance.RunAll(ml, new ConformanceCase
        {
            Name = "t-SNE",
            CreateEstimator = () => ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 10, Iterations = 100, EarlyExaggerationIterations = 40 }),
            TrainData = ml.ToDataView(rows),
            ScoreRows = scored.Select(r => new VectorRow { Features = r }).ToArray(),
            FeatureSize = 12,
            OutputColumns = ["Tsne"],
            InputColumnName = "Features",
            PredictionType = typeof(TsneRow),
            FitsOnOneRow = false,
            SetBatchSize = (t, n) => ((TsneTransformer)t).TransformBatchSize = n,
            OwnSaveLoad = t =>
            {
                using var stream = new MemoryStream();
                ((TsneTransformer)t).Save(stream);
                stream.Position = 0;
                return TsneTransformer.Load(stream);
            },
        });
    }

    /// <summary>The fine-tuning classifier (on a key label, a small pretrained autoencoder): the same kit.</summary>
    [TestMethod]
    public void FineTunedClassifierPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        var raw = ml.ToDataView(rows);
        var keyer = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw);
        var keyed = keyer.Transform(raw);
        var pretrained = ml.Transforms.Autoencoder(new Transforms.AutoencoderOptions { HiddenLayerSizes = [8], LatentDimension = 3, Epochs = 3, Seed = 7 }).Fit(raw);
        try
        {
            EstimatorConformance.RunAll(ml, new ConformanceCase
            {
                Name = "fine-tuned classifier",
                CreateEstimator = () => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new Classification.AutoencoderClassifierOptions
                {
                    Autoencoder = pretrained, Epochs = 3, Seed = 4,
                }),
                TrainData = keyed,
                EmptyTrainData = keyer.Transform(ml.Data.LoadFromEnumerable(Array.Empty<VectorRow>(), EstimatorConformance.SchemaFor(12))),
                ScoreRows = rows.Take(77).Select(r => new VectorRow { Features = r }).ToArray(),
                FeatureSize = 12,
                OutputColumns = ["Score"],
                InputColumnName = "Features",
                PredictionType = typeof(ScoreRow),
                FitsOnOneRow = false, // the kit's one-row data has no key label
                SetBatchSize = (t, n) => ((Classification.AutoencoderClassifierTransformer)t).Autoencoder.TransformBatchSize = n,
                OwnSaveLoad = t =>
                {
                    using var stream = new MemoryStream();
                    ((Classification.AutoencoderClassifierTransformer)t).Save(stream);
                    stream.Position = 0;
                    return Classification.AutoencoderClassifierTransformer.Load(stream);
                },
            });
        }
        finally
        {
            pretrained.Model.Dispose();
        }
    }

    private static T Last<T>(ITransformer model) where T : class, ITransformer =>
        model as T ?? ((IEnumerable<ITransformer>)model).OfType<T>().Last();

    /// <summary>What a prediction engine fills from the k-NN output.</summary>
    public sealed class ScoreRow
    {
        /// <summary>Class vote shares.</summary>
        public float[] Score { get; set; } = [];
    }

    /// <summary>What a prediction engine fills from the t-SNE output.</summary>
    public sealed class TsneRow
    {
        /// <summary>Coordinates.</summary>
        public float[] Tsne { get; set; } = [];
    }
}
