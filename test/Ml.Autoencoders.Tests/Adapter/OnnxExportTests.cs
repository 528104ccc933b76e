using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Onnx;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// ONNX export of dense autoencoders, checked against the library's own forward pass: through ML.NET's
/// <c>ApplyOnnxModel</c> (same column names, same values) and through ONNX Runtime's <see cref="InferenceSession"/> on a
/// batch; the graph itself is read back field by field to show it holds only standard operators and plain data.
/// Tolerances: latent codes, reconstructions and log-variances agree within 1e-5 absolute; the reconstruction error
/// within 1e-5 relative (it is a mean of squared differences, so its absolute size depends on how well the model fits).
/// Mutation check, done by hand: with the exporter's Gemm bias dropped (AutoencoderOnnxExporter.Bias returning null),
/// <see cref="ApplyOnnxModelAppendsTheLibrarysColumnsWithTheSameValues"/> and <see cref="InferenceSessionScoresABatchLikeTheModel"/> fail
/// on the first latent value; with the tied decoder's weight transposed (transB = 1) the tied body fails to load in ONNX Runtime.
/// </summary>
[TestClass]
public sealed class OnnxExportTests
{
    private const float Tolerance = 1e-5f;
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly float[][] Rows = Synthetic.LowRank(200, 20, 3, seed: 5);
    private static readonly float[][] Unbounded = Synthetic.LowRank(200, 20, 3, seed: 6, squash: false);

    /// <summary>Set by MSTest: carries the measured agreement into the test log.</summary>
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The bodies exported: every activation, a single-layer body, tied weights, a Gaussian head, custom column names.</summary>
    private static IEnumerable<(string Name, AutoencoderOptions Options, float[][] Data)> Bodies()
    {
        yield return ("dense ReLU/LeakyReLU, linear output", new AutoencoderOptions
        {
            HiddenLayerSizes = new[] { 12, 8 },
            HiddenActivations = new[] { Activation.ReLU, Activation.LeakyReLU },
            LatentDimension = 4,
            CodeActivation = Activation.LeakyReLU,
            Epochs = 2,
        }, Unbounded);
        yield return ("SELU/Tanh/GELU mix, GELU output", new AutoencoderOptions
        {
            HiddenLayerSizes = new[] { 14, 10, 8 },
            HiddenActivations = new[] { Activation.SELU, Activation.Tanh, Activation.GELU },
            LatentDimension = 3,
            CodeActivation = Activation.SELU,
            OutputActivation = Activation.GELU,
            Epochs = 2,
        }, Unbounded);
        yield return ("sigmoid output, tanh code, no hidden layer", new AutoencoderOptions
        {
            HiddenLayerSizes = Array.Empty<int>(),
            LatentDimension = 4,
            CodeActivation = Activation.Tanh,
            OutputActivation = Activation.Sigmoid,
            Epochs = 2,
        }, Rows);
        yield return ("tied weights, custom column names", new AutoencoderOptions
        {
            HiddenLayerSizes = new[] { 12, 6 },
            HiddenActivation = Activation.SELU,
            LatentDimension = 3,
            CodeActivation = Activation.Sigmoid,
            OutputActivation = Activation.Sigmoid,
            TiedWeights = true,
            LatentColumnName = "Code",
            ReconstructionColumnName = "Rebuilt",
            ReconstructionErrorColumnName = "Error",
            Epochs = 2,
        }, Rows);
        var vae = AutoencoderPresets.Variational(latentDimension: 3, hiddenLayerSizes: new[] { 12 });
        vae.Epochs = 2;
        yield return ("variational (Gaussian head)", vae, Rows);
    }

    private static AutoencoderTransformer Train(AutoencoderOptions options, float[][] data) =>
        Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(data));

    /// <summary>
    /// For every body, the whole autoencoder scored through <c>ApplyOnnxModel</c> appends the columns the library's
    /// Transform appends, under the same names, with the same values; the encoder-only export appends the latent code alone.
    /// </summary>
    [TestMethod]
    public void ApplyOnnxModelAppendsTheLibrarysColumnsWithTheSameValues()
    {
        using var folder = new TempDirectory("mlae-onnx");
        double worstVector = 0, worstError = 0;
        foreach (var (name, options, data) in Bodies())
        {
            var transformer = Train(options, data);
            try
            {
                var view = Ml.ToDataView(data);
                var expected = transformer.Transform(view);
                string file = folder.File(name.Replace('/', '-').Replace(' ', '_') + ".onnx");
                Ml.Model.ConvertAutoencoderToOnnx(transformer, file);
                var scored = Ml.Transforms.ApplyOnnxModel(file).Fit(view).Transform(view);

                var o = transformer.Options;
                var vectors = new List<string> { o.LatentColumnName, o.ReconstructionColumnName };
                if (transformer.Model.IsVariational)
                {
                    Assert.IsTrue(transformer.Outputs.HasFlag(AutoencoderOutputs.LatentLogVariance), name);
                    vectors.Add(o.LatentLogVarianceColumnName);
                }
                double bodyWorst = 0;
                foreach (var column in vectors)
                {
                    double d = MaxAbsDifference(expected.GetColumn<float[]>(column).ToList(), scored.GetColumn<float[]>(column).ToList());
                    Assert.IsTrue(d <= Tolerance, $"{name}: column {column} differs by {d}");
                    bodyWorst = Math.Max(bodyWorst, d);
                }
                worstVector = Math.Max(worstVector, bodyWorst);
                // ApplyOnnxModel maps every tensor to a vector column: the per-row error [N] arrives as a vector of one value.
                var errors = expected.GetColumn<float>(o.ReconstructionErrorColumnName).ToList();
                var onnxErrors = scored.GetColumn<float[]>(o.ReconstructionErrorColumnName).ToList();
                Assert.HasCount(errors.Count, onnxErrors);
                for (int i = 0; i < errors.Count; i++)
                {
                    Assert.HasCount(1, onnxErrors[i]);
                    double relative = Math.Abs(onnxErrors[i][0] - errors[i]) / Math.Abs(errors[i]);
                    Assert.IsTrue(relative <= Tolerance, $"{name}: error of row {i} is {onnxErrors[i][0]} in ONNX, {errors[i]} in the library");
                    worstError = Math.Max(worstError, relative);
                }

                string encoderFile = folder.File("encoder-" + Path.GetFileName(file));
                Ml.Model.ConvertAutoencoderToOnnx(transformer, encoderFile, AutoencoderOnnxParts.Encoder);
                var encoded = Ml.Transforms.ApplyOnnxModel(encoderFile).Fit(view).Transform(view);
                var appended = encoded.Schema.Skip(view.Schema.Count).Select(c => c.Name).ToArray();
                CollectionAssert.AreEqual(new[] { o.LatentColumnName }, appended, name);
                double e = MaxAbsDifference(expected.GetColumn<float[]>(o.LatentColumnName).ToList(), encoded.GetColumn<float[]>(o.LatentColumnName).ToList());
                Assert.IsTrue(e <= Tolerance, $"{name}: encoder-only latent differs by {e}");
                TestContext.WriteLine($"{name}: max |library - ONNX| {Math.Max(bodyWorst, e):E2}");
            }
            finally
            {
                transformer.Model.Dispose();
            }
        }
        TestContext.WriteLine($"all bodies: max abs difference of codes/reconstructions/log-variances {worstVector:E2}, max relative difference of errors {worstError:E2}");
    }

    /// <summary>
    /// ONNX Runtime's native library loads in this process, and an <see cref="InferenceSession"/> over the exported bytes
    /// scores a 37-row batch in one call (symbolic batch dimension "N") exactly as <c>AutoencoderModel.Run</c> does.
    /// </summary>
    [TestMethod]
    public void InferenceSessionScoresABatchLikeTheModel()
    {
        var (_, options, data) = Bodies().First();
        var transformer = Train(options, data);
        try
        {
            var model = transformer.Model;
            using var buffer = new MemoryStream();
            Ml.Model.ConvertAutoencoderToOnnx(transformer, buffer);
            TestContext.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {buffer.Length} bytes");

            using var session = new InferenceSession(buffer.ToArray());
            var input = session.InputMetadata[AutoencoderColumnNames.Features];
            CollectionAssert.AreEqual(new[] { -1, model.InputSize }, input.Dimensions);
            Assert.AreEqual("N", input.SymbolicDimensions[0]);
            CollectionAssert.AreEqual(new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError },
                session.OutputMetadata.Keys.ToArray());

            const int n = 37;
            var batch = Synthetic.Flatten(data.Take(n).ToArray());
            var latent = new float[n * model.LatentDimension];
            var reconstruction = new float[n * model.InputSize];
            var error = new float[n];
            model.Run(batch, n, latent, reconstruction, error);

            var feed = NamedOnnxValue.CreateFromTensor(AutoencoderColumnNames.Features, new DenseTensor<float>(batch, new[] { n, model.InputSize }));
            using var results = session.Run(new[] { feed });
            var byName = results.ToDictionary(r => r.Name, r => r.AsTensor<float>());
            CollectionAssert.AreEqual(new[] { n, model.LatentDimension }, byName[AutoencoderColumnNames.LatentCode].Dimensions.ToArray());
            CollectionAssert.AreEqual(new[] { n, model.InputSize }, byName[AutoencoderColumnNames.Reconstruction].Dimensions.ToArray());
            CollectionAssert.AreEqual(new[] { n }, byName[AutoencoderColumnNames.ReconstructionError].Dimensions.ToArray());
            Assert.IsTrue(MaxAbsDifference(latent, byName[AutoencoderColumnNames.LatentCode].ToArray()) <= Tolerance, "latent");
            Assert.IsTrue(MaxAbsDifference(reconstruction, byName[AutoencoderColumnNames.Reconstruction].ToArray()) <= Tolerance, "reconstruction");
            var onnxError = byName[AutoencoderColumnNames.ReconstructionError].ToArray();
            for (int i = 0; i < n; i++)
                Assert.AreEqual(error[i], onnxError[i], Tolerance * Math.Abs(error[i]), $"error of row {i}");
        }
        finally
        {
            transformer.Model.Dispose();
        }
    }

    /// <summary>
    /// The exported files (dense, convolutional and recurrent bodies) are plain data: IR 8, one opset import (the default domain, 17), producer "Ml.Autoencoders",
    /// only standard operators with no domain, no functions, subgraphs, training info or external data; every node,
    /// initializer and value name is unique, and the batch dimension is the symbol "N".
    /// </summary>
    [TestMethod]
    public void ExportedGraphsHoldOnlyStandardOperatorsAndData()
    {
        var allowed = new HashSet<string>
        {
            "Gemm", "Relu", "LeakyRelu", "Selu", "Tanh", "Sigmoid", "Erf", "Mul", "Add", "Sub", "ReduceMean",
            "Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "Gather", "Reshape", "Transpose", "Flatten",
            "LSTM", "GRU", "Unsqueeze", "Expand", "MatMul",
        };
        var seenOps = new HashSet<string>();
        var bodies = Bodies().Where(b => b.Name.StartsWith("SELU", StringComparison.Ordinal) || b.Name.StartsWith("tied", StringComparison.Ordinal) || b.Name.StartsWith("variational", StringComparison.Ordinal))
            .Concat(OnnxBodyExportTests.ConvolutionalBodies().Take(3).Concat(OnnxBodyExportTests.RecurrentBodies().Skip(1).Take(2))
                .Select(b => (b.Name, b.Options, Synthetic.LowRank(60, b.Options.Body!.RowSize!.Value, 3, seed: 7))));
        foreach (var (name, options, data) in bodies)
        {
            var transformer = Train(options, data);
            try
            {
                foreach (var parts in new[] { AutoencoderOnnxParts.Encoder, AutoencoderOnnxParts.Autoencoder })
                {
                    using var buffer = new MemoryStream();
                    Ml.Model.ConvertAutoencoderToOnnx(transformer, buffer, parts);
                    var model = Proto.Parse(buffer.ToArray());
                    string what = $"{name}, {parts}";
                    Assert.IsTrue(model.Fields.All(f => f.Number is 1 or 2 or 3 or 6 or 7 or 8 or 14), $"{what}: unexpected model field");
                    Assert.AreEqual(8L, model.Int(1), what);
                    Assert.AreEqual("Ml.Autoencoders", model.Text(2), what);
                    var opset = model.Messages(8).Single();
                    Assert.AreEqual("", opset.Text(1));
                    Assert.AreEqual(17L, opset.Int(2));

                    var graph = model.Messages(7).Single();
                    Assert.IsTrue(graph.Fields.All(f => f.Number is 1 or 2 or 5 or 11 or 12), $"{what}: unexpected graph field");
                    var nodes = graph.Messages(1).ToList();
                    var initializers = graph.Messages(5).ToList();
                    var inputs = graph.Messages(11).Select(v => v.Text(1)).ToList();
                    var outputs = graph.Messages(12).Select(v => v.Text(1)).ToList();
                    var o = transformer.Options;
                    CollectionAssert.AreEqual(new[] { o.InputColumnName }, inputs, what);
                    var expectedOutputs = parts == AutoencoderOnnxParts.Encoder ? new[] { o.LatentColumnName }
                        : transformer.Model.IsVariational ? new[] { o.LatentColumnName, o.ReconstructionColumnName, o.ReconstructionErrorColumnName, o.LatentLogVarianceColumnName }
                        : new[] { o.LatentColumnName, o.ReconstructionColumnName, o.ReconstructionErrorColumnName };
                    CollectionAssert.AreEqual(expectedOutputs, outputs, what);
                    foreach (var value in graph.Messages(11).Concat(graph.Messages(12)))
                    {
                        var firstDim = value.Messages(2).Single().Messages(1).Single().Messages(2).Single().Messages(1).First();
                        Assert.AreEqual("N", firstDim.Text(2), $"{what}: batch dimension of {value.Text(1)}");
                    }

                    foreach (var node in nodes)
                    {
                        Assert.IsTrue(node.Fields.All(f => f.Number is 1 or 2 or 3 or 4 or 5), $"{what}: node field outside input/output/name/op_type/attribute (a domain?)");
                        Assert.Contains(node.Text(4), allowed, $"{what}: operator {node.Text(4)}");
                        seenOps.Add(node.Text(4));
                        foreach (var attribute in node.Messages(5))
                            Assert.IsTrue(attribute.Int(20) is 1 or 2 or 3 or 7, $"{what}: attribute {attribute.Text(1)} of type {attribute.Int(20)} (only float, int, string, ints)");
                    }
                    foreach (var tensor in initializers)
                    {
                        Assert.IsTrue(tensor.Fields.All(f => f.Number is 1 or 2 or 8 or 9), $"{what}: initializer field outside dims/data_type/name/raw_data");
                        long type = tensor.Int(2);
                        Assert.IsTrue(type is 1 or 7, $"{what}: {tensor.Text(8)} is neither float32 (weights) nor int64 (shapes, axes, indices)");
                        long count = tensor.Fields.Where(f => f.Number == 1).Aggregate(1L, (a, f) => a * f.Integer);
                        Assert.AreEqual(count * (type == 1 ? 4 : 8), tensor.Bytes(9).Length, $"{what}: raw data of {tensor.Text(8)}");
                    }
                    var nodeNames = nodes.Select(n => n.Text(3)).ToList();
                    Assert.AreEqual(nodeNames.Count, nodeNames.Distinct().Count(), $"{what}: node names repeat");
                    // Every value is defined once: graph inputs, initializers and node outputs never share a name.
                    var defined = inputs.Concat(initializers.Select(t => t.Text(8))).Concat(nodes.SelectMany(n => n.Texts(2))).ToList();
                    Assert.AreEqual(defined.Count, defined.Distinct().Count(), $"{what}: value names repeat");
                    // Every node input is defined, every output produced.
                    Assert.IsTrue(nodes.SelectMany(n => n.Texts(1)).All(defined.Contains), $"{what}: an input is undefined");
                    Assert.IsTrue(outputs.All(defined.Contains), $"{what}: an output is never produced");
                }
            }
            finally
            {
                transformer.Model.Dispose();
            }
        }
        Assert.IsTrue(new[] { "Gemm", "Selu", "Tanh", "Erf", "Sigmoid", "ReduceMean", "Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "Gather", "LSTM", "GRU" }.All(seenOps.Contains), string.Join(", ", seenOps));
    }

    /// <summary>The largest absolute difference between two lists of rows (all values finite, shapes equal); the ONNX body tests share it.</summary>
    internal static double MaxAbsDifference(IReadOnlyList<float[]> expected, IReadOnlyList<float[]> actual)
    {
        Assert.HasCount(expected.Count, actual);
        double worst = 0;
        for (int i = 0; i < expected.Count; i++) worst = Math.Max(worst, MaxAbsDifference(expected[i], actual[i]));
        return worst;
    }

    /// <summary>The largest absolute difference between two arrays (all values finite, lengths equal).</summary>
    internal static double MaxAbsDifference(float[] expected, float[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.IsTrue(float.IsFinite(actual[i]), $"value {i} is {actual[i]}");
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }
        return worst;
    }

    /// <summary>A protobuf message read generically: its fields in order, each a number with an integer or a byte payload.</summary>
    private sealed class Proto
    {
        public readonly record struct Field(int Number, long Integer, ByteString? Payload);

        public List<Field> Fields { get; } = new();

        public static Proto Parse(ByteString bytes) => Parse(bytes.ToByteArray());

        public static Proto Parse(byte[] bytes)
        {
            var message = new Proto();
            var input = new CodedInputStream(bytes);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                int number = WireFormat.GetTagFieldNumber(tag);
                switch (WireFormat.GetTagWireType(tag))
                {
                    case WireFormat.WireType.Varint: message.Fields.Add(new Field(number, input.ReadInt64(), null)); break;
                    case WireFormat.WireType.Fixed32: message.Fields.Add(new Field(number, input.ReadFixed32(), null)); break;
                    case WireFormat.WireType.Fixed64: message.Fields.Add(new Field(number, (long)input.ReadFixed64(), null)); break;
                    case WireFormat.WireType.LengthDelimited: message.Fields.Add(new Field(number, 0, input.ReadBytes())); break;
                    default: throw new AssertFailedException($"unexpected wire type in field {number}");
                }
            }
            return message;
        }

        public long Int(int number) => Fields.Single(f => f.Number == number).Integer;

        public string Text(int number) => Fields.SingleOrDefault(f => f.Number == number).Payload?.ToStringUtf8() ?? "";

        public IEnumerable<string> Texts(int number) => Fields.Where(f => f.Number == number).Select(f => f.Payload!.ToStringUtf8());

        public ByteString Bytes(int number) => Fields.Single(f => f.Number == number).Payload!;

        public IEnumerable<Proto> Messages(int number) => Fields.Where(f => f.Number == number).Select(f => Parse(f.Payload!));
    }
}
