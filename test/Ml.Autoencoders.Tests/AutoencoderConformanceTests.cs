using Microsoft.ML;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>The dense autoencoder stage passes the conformance kit that every estimator runs.</summary>
[TestClass]
public sealed class AutoencoderConformanceTests
{
    private static ConformanceCase Case(MLContext ml)
    {
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        return new ConformanceCase
        {
            Name = "dense autoencoder",
            CreateEstimator = () => ml.Transforms.Autoencoder(new AutoencoderOptions
            {
                LatentDimension = 3,
                HiddenLayerSizes = new[] { 8 },
                Epochs = 3,
                BatchSize = 32,
                Seed = 7,
            }),
            TrainData = ml.ToDataView(rows),
            ScoreRows = rows.Take(77).Select(r => new VectorRow { Features = r }).ToArray(),
            FeatureSize = 12,
            OutputColumns = new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError },
            InputColumnName = AutoencoderColumnNames.Features,
            SetBatchSize = (t, n) => ((AutoencoderTransformer)t).TransformBatchSize = n,
            OwnSaveLoad = t =>
            {
                using var stream = new MemoryStream();
                ((AutoencoderTransformer)t).Save(stream);
                stream.Position = 0;
                return AutoencoderTransformer.Load(stream);
            },
        };
    }

    /// <summary>Schema, determinism, batch/order invariance, one row, bad input, both save/load routes, Preview, PredictionEngine.</summary>
    [TestMethod]
    public void DenseAutoencoderPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, Case(ml));
    }
}
