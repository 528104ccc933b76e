using Microsoft.ML;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Objectives;
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

    /// <summary>
    /// The conformance case of a variant: <paramref name="options"/> trained briefly on data in (0, 1), checked on
    /// <paramref name="outputColumns"/>, with <paramref name="predictionType"/> filled by a prediction engine.
    /// </summary>
    internal static ConformanceCase VariantCase(MLContext ml, string name, Func<AutoencoderOptions> options, string[] outputColumns, Type predictionType)
    {
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        var baseCase = Case(ml);
        return new ConformanceCase
        {
            Name = name,
            CreateEstimator = () =>
            {
                var o = options();
                if (o.Body is not ConvolutionalOptions { DenseCode: false }) o.HiddenLayerSizes = new[] { 8 }; // a code map has no dense layers
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

    /// <summary>
    /// A convolutional autoencoder passes the kit with the 12 features as 1x3x4 images: a 3x3 stride-2 convolution of
    /// two channels with batch normalisation (its running statistics in Transform make rows independent of their
    /// batch), the code the 2x2x2 map, and a mirrored decoder whose height and width need different output paddings.
    /// </summary>
    [TestMethod]
    public void ConvolutionalAutoencoderPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, VariantCase(ml, "convolutional autoencoder", () => new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(1, 3, 4),
                EncoderLayers = { new ConvolutionLayer(2, 3, 2) },
                BatchNormalization = true,
            },
            HiddenLayerSizes = Array.Empty<int>(),
        }, new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError }, typeof(PredictionRow)));
    }

    /// <summary>
    /// A convolutional autoencoder with a dense code passes the kit with the 12 features as interleaved 3x2x2 images: a
    /// 3x3 convolution and 2x2 max pooling to a 4x1x1 map, a dense 8-unit layer and a 3-unit code, and back.
    /// </summary>
    [TestMethod]
    public void ConvolutionalAutoencoderWithDenseCodePassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, VariantCase(ml, "convolutional autoencoder, dense code", () => new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(3, 2, 2),
                PixelOrder = PixelOrder.Interleaved,
                EncoderLayers = { new ConvolutionLayer(4, 3, 1, PoolSize: 2) },
                DenseCode = true,
            },
            LatentDimension = 3,
        }, new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError }, typeof(PredictionRow)));
    }

    /// <summary>
    /// A recurrent autoencoder passes the kit with the 12 features as windows of 6 steps x 2 features: a bidirectional
    /// two-layer LSTM encoder, an 8-unit dense layer and a 3-unit code, and a repeat-vector LSTM decoder.
    /// </summary>
    [TestMethod]
    public void RecurrentAutoencoderPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, VariantCase(ml, "recurrent autoencoder", () => new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = 6, Features = 2, HiddenSize = 5, Layers = 2, Bidirectional = true },
            LatentDimension = 3,
        }, new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError }, typeof(PredictionRow)));
    }

    /// <summary>A sequence VAE (GRU body, Gaussian head) passes the kit on its columns with the 12 features as 12 steps of one value.</summary>
    [TestMethod]
    public void RecurrentVariationalAutoencoderPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, VariantCase(ml, "recurrent variational autoencoder", () => new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = 12, Cell = RecurrentCell.Gru, HiddenSize = 6 },
            LatentDimension = 3, LatentHead = LatentHead.Gaussian,
            Outputs = AutoencoderOutputs.All | AutoencoderOutputs.LatentLogVariance,
        }, new[]
        {
            AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError,
            AutoencoderColumnNames.LatentLogVariance,
        }, typeof(VariationalPredictionRow)));
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
