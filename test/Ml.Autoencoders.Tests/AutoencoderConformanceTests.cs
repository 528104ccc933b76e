using Microsoft.ML;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
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

    /// <summary>
    /// The conformance case of a variant: <paramref name="options"/> trained briefly on data in (0, 1), checked on
    /// <paramref name="outputColumns"/>, with <paramref name="predictionType"/> filled by a prediction engine.
    /// </summary>
    private static ConformanceCase VariantCase(MLContext ml, string name, Func<AutoencoderOptions> options, string[] outputColumns, Type predictionType)
    {
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        var baseCase = Case(ml);
        return new ConformanceCase
        {
            Name = name,
            CreateEstimator = () =>
            {
                var o = options();
                o.HiddenLayerSizes = new[] { 8 };
                o.Epochs = 3;
                o.BatchSize = 32;
                o.Seed = 7;
                return ml.Transforms.Autoencoder(o);
            },
            TrainData = ml.ToDataView(rows),
            ScoreRows = rows.Take(77).Select(r => new VectorRow { Features = r }).ToArray(),
            FeatureSize = 12,
            OutputColumns = outputColumns,
            InputColumnName = AutoencoderColumnNames.Features,
            PredictionType = predictionType,
            SetBatchSize = baseCase.SetBatchSize,
            OwnSaveLoad = baseCase.OwnSaveLoad,
        };
    }

    /// <summary>
    /// A variational autoencoder (with a KL warm-up) passes the kit on all its columns but the sampled code, which is
    /// keyed on the row's position by design and so changes when the kit reverses the rows; a prediction engine fills
    /// the log-variance too.
    /// </summary>
    [TestMethod]
    public void VariationalAutoencoderPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, VariantCase(ml, "variational autoencoder", () =>
        {
            var o = AutoencoderPresets.Variational(latentDimension: 3, klWeight: 0.5);
            o.KlWarmupEpochs = 2;
            return o;
        }, new[]
        {
            AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError,
            AutoencoderColumnNames.LatentLogVariance,
        }, typeof(VariationalPredictionRow)));
    }

    /// <summary>A denoising sparse autoencoder (Gaussian noise clipped to [0, 1], KL sparsity on a sigmoid code) passes the kit.</summary>
    [TestMethod]
    public void DenoisingSparseAutoencoderPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, VariantCase(ml, "denoising sparse autoencoder", () =>
        {
            var o = AutoencoderPresets.Denoising(0.4);
            o.LatentDimension = 6;
            o.CodeActivation = Activation.Sigmoid;
            o.Penalties.Add(new SparsityPenalty { Kind = SparsityKind.KlDivergence, Weight = 0.1 });
            return o;
        }, new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError }, typeof(PredictionRow)));
    }
}

/// <summary>What a prediction engine fills for a variational autoencoder: the posterior mean and log-variance, and the error.</summary>
public sealed class VariationalPredictionRow
{
    /// <summary>The posterior mean.</summary>
    public float[] LatentCode { get; set; } = Array.Empty<float>();

    /// <summary>The posterior log-variance.</summary>
    public float[] LatentLogVariance { get; set; } = Array.Empty<float>();

    /// <summary>The reconstruction error.</summary>
    public float ReconstructionError { get; set; }
}
