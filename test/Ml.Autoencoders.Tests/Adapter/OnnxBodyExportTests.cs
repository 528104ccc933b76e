using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Custom;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Onnx;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// ONNX export of convolutional and recurrent autoencoders, checked against the library's own forward pass: every body
/// below is scored through ML.NET's <c>ApplyOnnxModel</c> (one row per ONNX Runtime call) and through an
/// <see cref="InferenceSession"/> on a 37-row batch (symbolic batch dimension), whole model and encoder alone, and must
/// agree with <c>Transform</c> / <c>AutoencoderModel.Run</c> within 1e-5 absolute on codes, reconstructions and
/// log-variances, 1e-5 relative on the per-row error. The convolutional bodies cover both pixel orders with colour,
/// odd and non-square images, strides 1-2, explicit and default padding (including padding beyond kernel / 2), max
/// pooling, batch normalisation, transposed-convolution and nearest-neighbour mirrors, a written decoder with output
/// padding and an upsample-convolution layer, and dense codes (deterministic, tied, Gaussian); the recurrent ones LSTM
/// and GRU, one and two layers, bidirectional encoders, and the repeat-vector decoder with dense codes around the state.
/// Mutation checks, done by editing the exporter and rerunning (2026-12-05): the LSTM gate blocks left in libtorch's
/// order (latent off by 0.32), the GRU's left in libtorch's order (0.036) or linear_before_reset set to 0 (0.040), the
/// two directions' weights swapped (0.0022), interleaved rows read as planar (0.023): each fails these tests; with the
/// transposed convolution's output padding dropped ONNX Runtime refuses the graph.
/// </summary>
[TestClass]
public sealed class OnnxBodyExportTests
{
    private const float Tolerance = 1e-5f;
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>Set by MSTest: carries the measured agreement into the test log.</summary>
    public TestContext TestContext { get; set; } = null!;

    /// <summary>Convolutional bodies: each exercises a different path of the ConvolutionPlan and of the exporter.</summary>
    internal static IEnumerable<(string Name, AutoencoderOptions Options)> ConvolutionalBodies()
    {
        yield return ("grey 7x9, stride 2 + pooled stage, transposed mirror with upsampling, batch norm, sigmoid output", new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(1, 7, 9),
                EncoderLayers = { new ConvolutionLayer(3, 3, 2), new ConvolutionLayer(4, 3, 1, PoolSize: 2) },
                BatchNormalization = true,
            },
            HiddenLayerSizes = Array.Empty<int>(),
            OutputActivation = Activation.Sigmoid,
            Epochs = 2,
        });
        yield return ("colour 3x6x5 interleaved, padding 0 and 2, nearest-neighbour mirror, Gaussian dense code", new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(3, 6, 5),
                PixelOrder = PixelOrder.Interleaved,
                EncoderLayers = { new ConvolutionLayer(4, 3, 2, Padding: 0), new ConvolutionLayer(5, 3, 1, Padding: 2) },
                Upsampling = DecoderUpsampling.NearestNeighbour,
                Activation = Activation.ReLU,
                DenseCode = true,
            },
            HiddenLayerSizes = new[] { 6 },
            LatentDimension = 3,
            LatentHead = LatentHead.Gaussian,
            Outputs = AutoencoderOutputs.All | AutoencoderOutputs.LatentLogVariance,
            Epochs = 2,
        });
        yield return ("colour 2x5x7 planar, even kernels, written decoder (output padding, upsample + conv), tied dense code, GELU", new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(2, 5, 7),
                EncoderLayers = { new ConvolutionLayer(3, 2, 2, Padding: 0), new ConvolutionLayer(4, 3, 1) },
                DecoderLayers = new List<DecoderLayer>
                {
                    new(3, DecoderLayerKind.TransposedConvolution, 3, 2, Padding: 1, OutputPadding: 1),  // 2x3 -> 4x6
                    new(3, DecoderLayerKind.UpsampleConvolution, 3, 2, Padding: 1, UpsampleFactor: 2),  // 8x12 -> 4x6
                    new(2, DecoderLayerKind.UpsampleConvolution, 2, 1, Padding: 1),                     // 4x6 -> 5x7
                },
                Activation = Activation.GELU,
                DenseCode = true,
            },
            HiddenLayerSizes = new[] { 7 },
            LatentDimension = 4,
            CodeActivation = Activation.Tanh,
            TiedWeights = true,
            OutputActivation = Activation.Linear,
            Epochs = 2,
        });
        yield return ("colour 3x8x8 planar, three stride-2 stages, transposed mirror, batch norm, SELU", new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(3, 8, 8),
                EncoderLayers = { new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(5, 3, 2), new ConvolutionLayer(6, 3, 2) },
                BatchNormalization = true,
                Activation = Activation.SELU,
            },
            HiddenLayerSizes = Array.Empty<int>(),
            OutputActivation = Activation.Tanh,
            Epochs = 2,
        });
    }

    /// <summary>
    /// 16-channel maps: the library's transposed convolutions sum over 16 channels here, so they run libtorch's own
    /// kernel (on 2x2 and 3x3 maps, batches of 37) rather than the library's spread convolution.
    /// </summary>
    internal static IEnumerable<(string Name, AutoencoderOptions Options)> SixteenChannelBodies()
    {
        yield return ("grey 6x6, 16-channel stages to 2x2, transposed mirror on libtorch's kernel", new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = new ImageShape(1, 6, 6),
                EncoderLayers = { new ConvolutionLayer(16, 3, 2), new ConvolutionLayer(16, 3, 2) },
            },
            HiddenLayerSizes = Array.Empty<int>(),
            OutputActivation = Activation.Sigmoid,
            Epochs = 2,
        });
    }

    /// <summary>Recurrent bodies: LSTM and GRU, one and two layers, bidirectional encoders, deterministic and Gaussian codes.</summary>
    internal static IEnumerable<(string Name, AutoencoderOptions Options)> RecurrentBodies()
    {
        yield return ("LSTM 1 layer", new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = 6, Features = 2, HiddenSize = 5 },
            HiddenLayerSizes = Array.Empty<int>(),
            LatentDimension = 3,
            Epochs = 2,
        });
        yield return ("LSTM 2 layers bidirectional, sigmoid output", new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = 6, Features = 2, HiddenSize = 5, Layers = 2, Bidirectional = true },
            HiddenLayerSizes = new[] { 6 },
            LatentDimension = 3,
            OutputActivation = Activation.Sigmoid,
            Epochs = 2,
        });
        yield return ("GRU 1 layer bidirectional, Gaussian code", new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = 4, Features = 3, Cell = RecurrentCell.Gru, HiddenSize = 6, Bidirectional = true },
            HiddenLayerSizes = Array.Empty<int>(),
            LatentDimension = 2,
            LatentHead = LatentHead.Gaussian,
            Outputs = AutoencoderOutputs.All | AutoencoderOutputs.LatentLogVariance,
            Epochs = 2,
        });
        yield return ("GRU 2 layers, tied code, tanh output", new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = 12, Features = 1, Cell = RecurrentCell.Gru, HiddenSize = 4, Layers = 2 },
            HiddenLayerSizes = new[] { 5 },
            LatentDimension = 2,
            TiedWeights = true,
            OutputActivation = Activation.Tanh,
            Epochs = 2,
        });
    }

    private static float[][] DataFor(AutoencoderOptions options) =>
        Synthetic.LowRank(120, options.Body!.RowSize!.Value, 3, seed: 7);

    /// <summary>Every convolutional body, whole and encoder alone, through ApplyOnnxModel and a batched InferenceSession.</summary>
    [TestMethod]
    public void ConvolutionalBodiesScoreLikeTheLibrary() => CheckAll(ConvolutionalBodies().Concat(SixteenChannelBodies()));

    /// <summary>Every recurrent body, whole and encoder alone, through ApplyOnnxModel and a batched InferenceSession.</summary>
    [TestMethod]
    public void RecurrentBodiesScoreLikeTheLibrary() => CheckAll(RecurrentBodies());

    private void CheckAll(IEnumerable<(string Name, AutoencoderOptions Options)> bodies)
    {
        using var folder = new TempDirectory("mlae-onnx-bodies");
        double worstVector = 0, worstError = 0;
        int index = 0;
        foreach (var (name, options) in bodies)
        {
            var data = DataFor(options);
            var view = Ml.ToDataView(data);
            var transformer = Ml.Transforms.Autoencoder(options).Fit(view);
            try
            {
                var (vector, error) = CheckThroughMlNet(transformer, data, folder.File($"body{index++}.onnx"), name);
                var (batchVector, batchError) = CheckThroughSession(transformer, data, name);
                worstVector = Math.Max(worstVector, Math.Max(vector, batchVector));
                worstError = Math.Max(worstError, Math.Max(error, batchError));
                TestContext.WriteLine($"{name}: max |library - ONNX| {Math.Max(vector, batchVector):E2}, errors {Math.Max(error, batchError):E2} relative");
            }
            finally
            {
                transformer.Model.Dispose();
            }
        }
        TestContext.WriteLine($"all bodies: max abs difference {worstVector:E2}, max relative error difference {worstError:E2}");
    }

    /// <summary>ApplyOnnxModel, whole model and encoder alone, against Transform: same columns, same values.</summary>
    private static (double Vector, double Error) CheckThroughMlNet(AutoencoderTransformer transformer, float[][] data, string file, string name)
    {
        var view = Ml.ToDataView(data);
        var expected = transformer.Transform(view);
        Ml.Model.ConvertAutoencoderToOnnx(transformer, file);
        var scored = Ml.Transforms.ApplyOnnxModel(file).Fit(view).Transform(view);
        var o = transformer.Options;
        var vectors = new List<string> { o.LatentColumnName, o.ReconstructionColumnName };
        if (transformer.Model.IsVariational) vectors.Add(o.LatentLogVarianceColumnName);
        double worst = 0;
        foreach (var column in vectors)
        {
            double d = OnnxExportTests.MaxAbsDifference(expected.GetColumn<float[]>(column).ToList(), scored.GetColumn<float[]>(column).ToList());
            Assert.IsTrue(d <= Tolerance, $"{name}: column {column} differs by {d}");
            worst = Math.Max(worst, d);
        }
        var errors = expected.GetColumn<float>(o.ReconstructionErrorColumnName).ToList();
        var onnxErrors = scored.GetColumn<float[]>(o.ReconstructionErrorColumnName).ToList();
        Assert.HasCount(errors.Count, onnxErrors);
        double worstError = 0;
        for (int i = 0; i < errors.Count; i++)
        {
            double relative = Math.Abs(onnxErrors[i][0] - errors[i]) / Math.Abs(errors[i]);
            Assert.IsTrue(relative <= Tolerance, $"{name}: error of row {i} is {onnxErrors[i][0]} in ONNX, {errors[i]} in the library");
            worstError = Math.Max(worstError, relative);
        }

        string encoderFile = Path.ChangeExtension(file, ".encoder.onnx");
        Ml.Model.ConvertAutoencoderToOnnx(transformer, encoderFile, AutoencoderOnnxParts.Encoder);
        var encoded = Ml.Transforms.ApplyOnnxModel(encoderFile).Fit(view).Transform(view);
        CollectionAssert.AreEqual(new[] { o.LatentColumnName }, encoded.Schema.Skip(view.Schema.Count).Select(c => c.Name).ToArray(), name);
        double e = OnnxExportTests.MaxAbsDifference(expected.GetColumn<float[]>(o.LatentColumnName).ToList(), encoded.GetColumn<float[]>(o.LatentColumnName).ToList());
        Assert.IsTrue(e <= Tolerance, $"{name}: encoder-only latent differs by {e}");
        return (Math.Max(worst, e), worstError);
    }

    /// <summary>ONNX Runtime on a 37-row batch against AutoencoderModel.Run on the same batch.</summary>
    private static (double Vector, double Error) CheckThroughSession(AutoencoderTransformer transformer, float[][] data, string name)
    {
        var model = transformer.Model;
        var o = transformer.Options;
        using var buffer = new MemoryStream();
        Ml.Model.ConvertAutoencoderToOnnx(transformer, buffer);
        using var session = new InferenceSession(buffer.ToArray());
        var input = session.InputMetadata[o.InputColumnName];
        CollectionAssert.AreEqual(new[] { -1, model.InputSize }, input.Dimensions, name);

        const int n = 37;
        var batch = Synthetic.Flatten(data.Skip(50).Take(n).ToArray());
        var latent = new float[n * model.LatentDimension];
        var reconstruction = new float[n * model.InputSize];
        var error = new float[n];
        model.Run(batch, n, latent, reconstruction, error);

        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(o.InputColumnName, new DenseTensor<float>(batch, new[] { n, model.InputSize })) });
        var byName = results.ToDictionary(r => r.Name, r => r.AsTensor<float>());
        CollectionAssert.AreEqual(new[] { n, model.LatentDimension }, byName[o.LatentColumnName].Dimensions.ToArray(), name);
        CollectionAssert.AreEqual(new[] { n, model.InputSize }, byName[o.ReconstructionColumnName].Dimensions.ToArray(), name);
        double d = Math.Max(OnnxExportTests.MaxAbsDifference(latent, byName[o.LatentColumnName].ToArray()), OnnxExportTests.MaxAbsDifference(reconstruction, byName[o.ReconstructionColumnName].ToArray()));
        Assert.IsTrue(d <= Tolerance, $"{name}: batch of {n} differs by {d}");
        var onnxError = byName[o.ReconstructionErrorColumnName].ToArray();
        double worstError = 0;
        for (int i = 0; i < n; i++)
        {
            double relative = Math.Abs(onnxError[i] - error[i]) / Math.Abs(error[i]);
            Assert.IsTrue(relative <= Tolerance, $"{name}: batch error of row {i} is {onnxError[i]} in ONNX, {error[i]} in the library");
            worstError = Math.Max(worstError, relative);
        }
        return (d, worstError);
    }

    /// <summary>
    /// A custom body (the user's own TorchSharp modules) has no known ONNX form: it is refused with
    /// <see cref="NotSupportedException"/> naming the body, before anything is written.
    /// </summary>
    [TestMethod]
    public void CustomBodiesAreRefused()
    {
        var options = new AutoencoderOptions
        {
            Body = new CustomBodyOptions
            {
                Name = "tests: onnx refusal", InputSize = 12, EncoderOutputSize = 8,
                CreateEncoder = () => nn.Sequential(("in", nn.Linear(12, 8)), ("act", nn.Tanh())),
                CreateDecoder = () => nn.Sequential(("out", nn.Linear(8, 12))),
            },
            LatentDimension = 3,
            Epochs = 1,
        };
        var transformer = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Synthetic.LowRank(40, 12, 3)));
        try
        {
            using var buffer = new MemoryStream();
            var e = Assert.ThrowsExactly<NotSupportedException>(() => Ml.Model.ConvertAutoencoderToOnnx(transformer, buffer, AutoencoderOnnxParts.Encoder));
            StringAssert.Contains(e.Message, "user code");
            StringAssert.Contains(e.Message, "dense, convolutional and recurrent");
            Assert.AreEqual(0L, buffer.Length);
            using var folder = new TempDirectory("mlae-onnx-custom");
            Assert.ThrowsExactly<NotSupportedException>(() => Ml.Model.ConvertAutoencoderToOnnx(transformer, folder.File("custom.onnx")));
            Assert.IsEmpty(Directory.GetFiles(folder.Path));
        }
        finally
        {
            transformer.Model.Dispose();
        }
    }
}
