using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The model file's defences against hostile files: the tensor table a header implies is worked out without allocating
/// (and cannot drift from the real networks), a re-signed header that claims enormous layers is refused before anything
/// is allocated, and a model with non-finite weights is never written.
/// </summary>
[TestClass]
public sealed class ModelFileHardeningTests
{
    private static ConvolutionalOptions Conv(ImageShape shape, params ConvolutionLayer[] layers) => new() { ImageShape = shape, EncoderLayers = layers.ToList() };

    /// <summary>Dense specs: plain, deep, tied, Gaussian, no hidden layer, mixed activations.</summary>
    private static readonly DenseNetworkSpec[] DenseSpecs =
    [
        new DenseNetworkSpec(10, [], [], 3, Activation.Linear, Activation.Sigmoid),
        new DenseNetworkSpec(10, [8], [Activation.ReLU], 3, Activation.Linear, Activation.Sigmoid),
        new DenseNetworkSpec(12, [9, 7, 5], [Activation.ReLU, Activation.Tanh, Activation.Linear], 2, Activation.Sigmoid, Activation.Linear),
        new DenseNetworkSpec(12, [9, 7], [Activation.ReLU, Activation.GELU], 2, Activation.Linear, Activation.Linear, TiedWeights: true),
        new DenseNetworkSpec(6, [], [], 2, Activation.Linear, Activation.Linear, TiedWeights: true),
        new DenseNetworkSpec(12, [8], [Activation.LeakyReLU], 3, Activation.Linear, Activation.Sigmoid, LatentHead.Gaussian),
        new DenseNetworkSpec(7, [], [], 2, Activation.Linear, Activation.Sigmoid, LatentHead.Gaussian),
        new DenseNetworkSpec(9, [6, 4], [Activation.SELU, Activation.ReLU], 2, Activation.Linear, Activation.Tanh, LatentHead.Gaussian),
    ];

    /// <summary>The dense tensor table worked out from a spec equals the real network's state dict, names, shapes and order.</summary>
    [TestMethod]
    public void DenseExpectedTensorsEqualTheRealStateDict()
    {
        foreach (var spec in DenseSpecs)
        {
            using var network = new DenseAutoencoderNetwork(spec);
            AssertSameTable(DenseAutoencoderNetwork.ExpectedTensors(spec), network, spec.ToString());
        }
    }

    /// <summary>Convolutional specs: mirrored (both upsamplings, pooling, odd sizes), written decoders, batch norm, dense codes.</summary>
    private static IEnumerable<ConvNetworkSpec> ConvSpecs()
    {
        var plain = Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, 3, 2));
        var pooled = Conv(new ImageShape(3, 13, 11), new ConvolutionLayer(4, 3, 1, 1, 2), new ConvolutionLayer(5, 3, 2));
        var nearest = Conv(new ImageShape(2, 15, 9), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(3, 5, 1, PoolSize: 2));
        nearest.Upsampling = DecoderUpsampling.NearestNeighbour;
        var normalised = Conv(new ImageShape(1, 12, 12), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(6, 3, 2));
        normalised.BatchNormalization = true;
        var written = Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, 3, 2));
        written.DecoderLayers = [new DecoderLayer(5, DecoderLayerKind.UpsampleConvolution, 3, UpsampleFactor: 2), new DecoderLayer(1, KernelSize: 3)];
        written.BatchNormalization = true;
        var writtenTransposed = Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(4, 3, 2));
        writtenTransposed.DecoderLayers = [new DecoderLayer(3, Stride: 2), new DecoderLayer(1, Stride: 2)];
        var dense = Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(4, 3, 2));
        dense.DenseCode = true;
        dense.BatchNormalization = true;
        var noActivation = Conv(new ImageShape(1, 6, 6), new ConvolutionLayer(2, 3, 2));
        noActivation.Activation = Activation.Linear;
        noActivation.BatchNormalization = true;

        yield return new ConvNetworkSpec(plain, Activation.Sigmoid, null);
        yield return new ConvNetworkSpec(pooled, Activation.Linear, null);
        yield return new ConvNetworkSpec(nearest, Activation.Sigmoid, null);
        yield return new ConvNetworkSpec(normalised, Activation.Sigmoid, null);
        yield return new ConvNetworkSpec(written, Activation.Sigmoid, null);
        yield return new ConvNetworkSpec(writtenTransposed, Activation.Linear, null);
        yield return new ConvNetworkSpec(noActivation, Activation.Linear, null);
        yield return ConvNetworkSpec.Create(dense, Activation.Sigmoid, [6], [Activation.ReLU], 3, Activation.Linear, LatentHead.Deterministic, false);
        yield return ConvNetworkSpec.Create(dense, Activation.Sigmoid, [6, 5], [Activation.ReLU, Activation.Tanh], 3, Activation.Linear, LatentHead.Deterministic, true);
        yield return ConvNetworkSpec.Create(dense, Activation.Sigmoid, [6], [Activation.ReLU], 2, Activation.Linear, LatentHead.Gaussian, false);
        yield return ConvNetworkSpec.Create(plain, Activation.Sigmoid, [], [], 2, Activation.Linear, LatentHead.Deterministic, false);
        var preset = AutoencoderPresets.DeepConvolutional(new ImageShape(1, 28, 28));
        yield return TestNetworks.ConvSpec(preset, Activation.Sigmoid);
        var denoising = AutoencoderPresets.ConvolutionalDenoising(new ImageShape(1, 28, 28));
        yield return TestNetworks.ConvSpec(denoising, Activation.Sigmoid);
    }

    /// <summary>The convolutional tensor table worked out from a spec equals the real network's state dict, names, shapes and order.</summary>
    [TestMethod]
    public void ConvolutionalExpectedTensorsEqualTheRealStateDict()
    {
        foreach (var spec in ConvSpecs())
        {
            using var network = new ConvolutionalAutoencoderNetwork(spec);
            AssertSameTable(ConvolutionalAutoencoderNetwork.ExpectedTensors(spec), network, network.Description);
        }
    }

    private static readonly MLContext Ml = new(seed: 1);

    private static AutoencoderTransformer SmallDense(int seed = 1) =>
        Ml.Transforms.Autoencoder(new AutoencoderOptions { HiddenLayerSizes = [6], LatentDimension = 3, Epochs = 1, BatchSize = 16, Seed = seed })
            .Fit(Ml.ToDataView(Synthetic.LowRank(32, 10, 2, seed: 2)));

    private static byte[] Bytes(AutoencoderTransformer model)
    {
        using var buffer = new MemoryStream();
        model.Save(buffer);
        return buffer.ToArray();
    }

    /// <summary>
    /// A re-signed header that is consistent in every respect (both copies of the widths, a tensor table to match) but
    /// claims a 16,777,216-input network with a 16,777,216 x 16,777,216 first layer (2^48 weights, a PiB): it is refused
    /// by the weight count against the bytes present, naming both, before any network is built. Fifty loads allocate
    /// less than 1 MB of managed memory each and leave the resident size where it was.
    /// </summary>
    [TestMethod]
    public void HostileHeaderClaimingA16MBy16MLayerIsRefusedBeforeAnythingIsAllocated()
    {
        var model = SmallDense();
        try
        {
            const int huge = 1 << 24;
            var spec = ((DenseAutoencoderNetwork)model.Model.Network).Spec with { InputSize = huge, HiddenSizes = [huge] };
            var expected = DenseAutoencoderNetwork.ExpectedTensors(spec);
            Int128 weights = expected.Aggregate((Int128)0, (sum, t) => sum + t.Shape.Aggregate((Int128)1, (a, b) => a * b));
            var hostile = FileFuzzing.EditHeader(Bytes(model), h =>
            {
                h["InputSize"] = huge;
                h["HiddenSizes"] = new JsonArray(huge);
                h["Options"]!["HiddenLayerSizes"] = new JsonArray(huge);
                h["Options"]!["TransformBatchSize"] = 1;
                h["Tensors"] = FileFuzzing.Table(expected);
            });

            AutoencoderModelFile.Load(new MemoryStream(Bytes(model))).Model.Dispose(); // warm: JIT, torch, JSON metadata
            Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderModelFile.Load(new MemoryStream(hostile)));
            GC.Collect();
            long resident = ReliabilityTests.ResidentBytes(), allocated = GC.GetAllocatedBytesForCurrentThread();
            AutoencoderModelFormatException? refused = null;
            for (int i = 0; i < 50; i++)
                refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderModelFile.Load(new MemoryStream(hostile)));
            long perLoad = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 50, grown = ReliabilityTests.ResidentBytes() - resident;

            StringAssert.Contains(refused!.Message, $"has {weights} weights ({weights * 4} bytes)");
            StringAssert.Contains(refused.Message, "bytes of weights");
            Assert.IsTrue(weights > (Int128)1 << 48, $"{weights} weights claimed");
            Assert.IsTrue(perLoad < 1 << 20, $"{perLoad} bytes of managed memory allocated per refused load ({hostile.Length}-byte file)");
            Assert.IsTrue(grown < 64 << 20, $"resident memory grew by {grown} bytes over 50 refused loads");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>
    /// The same for a convolutional body: a re-signed header whose encoder claims 16,777,216 channels (in both copies of
    /// the convolution, with a tensor table to match) is refused by the weight count, naming it, before anything is built.
    /// </summary>
    [TestMethod]
    public void HostileConvolutionalHeaderIsRefusedByItsWeightCount()
    {
        var image = new ImageShape(1, 8, 8);
        var model = Ml.Transforms.Autoencoder(new AutoencoderOptions
        {
            Body = new ConvolutionalOptions { ImageShape = image, EncoderLayers = { new ConvolutionLayer(3, 3, 2) }, DenseCode = true },
            HiddenLayerSizes = [], LatentDimension = 2, Epochs = 1, BatchSize = 16,
        }).Fit(Ml.ToDataView(PatternImages.Planar(image, 16)));
        try
        {
            const int huge = 1 << 24;
            var options = model.Options;
            ((ConvolutionalOptions)options.Body!).EncoderLayers[0] = ((ConvolutionalOptions)options.Body!).EncoderLayers[0] with { Channels = huge };
            var spec = (ConvNetworkSpec)options.Spec(image.Size, model.Model.Network.OutputActivation);
            var expected = ConvolutionalAutoencoderNetwork.ExpectedTensors(spec);
            var hostile = FileFuzzing.EditHeader(Bytes(model), h =>
            {
                h["Body"]!["EncoderLayers"]![0]!["Channels"] = huge;
                h["Options"]!["Body"]!["EncoderLayers"]![0]!["Channels"] = huge;
                h["Tensors"] = FileFuzzing.Table(expected);
            });
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderModelFile.Load(new MemoryStream(hostile)));
            Assert.IsTrue(GC.GetAllocatedBytesForCurrentThread() - allocated < 4 << 20);
            // The dense code alone reads 16,777,216 x 4 x 4 values: the claim runs to 2^30 and more weights.
            StringAssert.Contains(refused.Message, "weights");
            StringAssert.Contains(refused.Message, "the file holds");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>
    /// A re-signed header that changes an encoder layer to stride 1 and padding int.MaxValue in both copies: the weights
    /// keep their shapes and, in 32-bit arithmetic, 2 x padding wrapped to -2, so the map kept its old size and the file
    /// loaded, to fail (or allocate) in Transform. The plan works in 64 bits and refuses the 4-billion-row map at load.
    /// </summary>
    [TestMethod]
    public void PaddingThatWrappedThePlanArithmeticIsRefused()
    {
        var image = new ImageShape(1, 8, 8);
        var model = Ml.Transforms.Autoencoder(new AutoencoderOptions
        {
            Body = new ConvolutionalOptions { ImageShape = image, EncoderLayers = { new ConvolutionLayer(3, 3, 2) }, Upsampling = DecoderUpsampling.NearestNeighbour },
            HiddenLayerSizes = [], Epochs = 1, BatchSize = 16,
        }).Fit(Ml.ToDataView(PatternImages.Planar(image, 16)));
        try
        {
            var hostile = FileFuzzing.EditHeader(Bytes(model), h =>
            {
                foreach (var conv in new[] { h["Body"]!, h["Options"]!["Body"]! })
                {
                    conv["EncoderLayers"]![0]!["Stride"] = 1;
                    conv["EncoderLayers"]![0]!["Padding"] = int.MaxValue;
                }
            });
            var refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderModelFile.Load(new MemoryStream(hostile)));
            StringAssert.Contains(refused.Message, "Encoder layer 0");
            StringAssert.Contains(refused.Message, "values per row");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>
    /// A 16 MB header whose history is five million empty entries ("{},{},..."): read as it stood, it built five million
    /// records (about 1 GB, 3 s) before the history's length was checked. Every collection is bounded while it is read
    /// and history entries must carry their fields, so it is refused at once, allocating little beyond the file.
    /// </summary>
    [TestMethod]
    public void HeaderOfMillionsOfEmptyEntriesIsRefusedWhileItIsRead()
    {
        var model = SmallDense();
        try
        {
            var file = Bytes(model);
            string header = FileFuzzing.Header(file).ToJsonString();
            int entries = ((16 << 20) - header.Length - 64) / 3;
            string hostileHeader = header.Replace("\"History\":[", "\"History\":[" + string.Concat(Enumerable.Repeat("{},", entries)) + "{}],\"Ignored\":[", StringComparison.Ordinal);
            var hostile = FileFuzzing.WithHeader(file, hostileHeader);
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderModelFile.Load(new MemoryStream(hostile)));
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            StringAssert.Contains(refused.Message, "not valid JSON");
            Assert.IsTrue(allocated < hostile.Length + (8 << 20), $"{allocated} bytes allocated to refuse a {hostile.Length}-byte file");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>A tensor table with a duplicated entry (same count, every name known) is refused: before, the duplicate loaded twice and the tensor it displaced kept its random initial weights.</summary>
    [TestMethod]
    public void DuplicateTensorEntryIsRefused()
    {
        var model = SmallDense();
        try
        {
            var file = Bytes(model);
            var table = FileFuzzing.Header(file)["Tensors"]!.AsArray();
            Assert.AreEqual("encoder.linear0.bias", table[1]!["Name"]!.GetValue<string>());
            // The decoder's first bias has the same shape (6): listing the encoder's twice keeps the count and the byte length.
            int decoderBias = table.Select((t, i) => (t, i)).Single(p => p.t!["Name"]!.GetValue<string>() == "decoder.linear0.bias").i;
            var duplicated = FileFuzzing.EditHeader(file, h => h["Tensors"]![decoderBias] = h["Tensors"]![1]!.DeepClone());
            var refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderModelFile.Load(new MemoryStream(duplicated)));
            StringAssert.Contains(refused.Message, "decoder.linear0.bias");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>
    /// A model with a NaN or infinite weight is not saved: InvalidOperationException names the tensor, nothing is written to
    /// a stream, and a file already at the path keeps its bytes (the save goes through a temporary file that is removed).
    /// </summary>
    [TestMethod]
    public void SaveRefusesNonFiniteWeightsAndLeavesTheExistingFile()
    {
        var model = SmallDense();
        using var folder = new TempDirectory("nonfinite");
        try
        {
            string path = folder.File("model.mlae");
            model.Save(path);
            var before = File.ReadAllBytes(path);
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                var state = model.Model.Network.state_dict();
                using (no_grad()) state["decoder.linear0.weight"][1, 2] = bad;
                var refused = Assert.ThrowsExactly<InvalidOperationException>(() => model.Save(path));
                StringAssert.Contains(refused.Message, "'decoder.linear0.weight'");
                StringAssert.Contains(refused.Message, "non-finite");
                CollectionAssert.AreEqual(before, File.ReadAllBytes(path), "the existing file is untouched");
                CollectionAssert.AreEqual(new[] { "model.mlae" }, Directory.GetFiles(folder.Path).Select(Path.GetFileName).ToArray(), "no temporary file is left");
                using var stream = new MemoryStream();
                Assert.ThrowsExactly<InvalidOperationException>(() => model.Save(stream));
                Assert.AreEqual(0, stream.Length, "nothing is written to a stream");
                using (no_grad()) state["decoder.linear0.weight"][1, 2] = 0.25f;
            }
            model.Save(path); // finite again: saves
            AutoencoderModelFile.Load(path).Model.Dispose();
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>
    /// Save runs the reader's checks on what it is about to write: a model whose training history would make the header
    /// larger than the 16 MB a model file may hold (here 120,000 epochs with two terms each) is refused with
    /// InvalidOperationException instead of being written as a file that could never load.
    /// </summary>
    [TestMethod]
    public void SaveRefusesAModelTheReaderWouldRefuse()
    {
        var model = SmallDense();
        try
        {
            var terms = new Dictionary<string, double> { ["reconstruction"] = 0.125, ["sparsity"] = 0.0625 };
            var epochs = Enumerable.Range(1, 120_000).Select(e => new Training.EpochRecord(e, 0.1, 0.2, 1e-3, TimeSpan.FromMilliseconds(3), 1000) { Terms = terms, ValidationTerms = terms }).ToArray();
            var longHistory = new AutoencoderTransformer(
                new AutoencoderModel(model.Model.Network, model.Model.TorchDevice, new Training.TrainingHistory(epochs, 1, false, false)), model.Options, model.InputSize);
            using var stream = new MemoryStream();
            var refused = Assert.ThrowsExactly<InvalidOperationException>(() => longHistory.Save(stream));
            StringAssert.Contains(refused.Message, "120000 epochs");
            Assert.AreEqual(0, stream.Length);
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>
    /// Re-signed downstream files whose header sizes overflowed the length checks: a fine-tuned classifier claiming a code
    /// of int.MaxValue (latent + 1 wrapped to int.MinValue, so the check passed and a 6-billion-float array was asked for),
    /// and a k-NN model claiming int.MaxValue rows of int.MaxValue features (rows x (4 + 4 x features) wrapped negative).
    /// Both are refused with the format exception, in the first (field-by-field) versions, still read (the committed
    /// files of TestData/formats/2026-12-04), and in the container versions written now (their JSON headers edited).
    /// </summary>
    [TestMethod]
    public void DownstreamHeadersThatOverflowTheLengthChecksAreRefused()
    {
        string before = Path.Combine(AppContext.BaseDirectory, "TestData", "formats", "2026-12-04");
        // Fine-tuned classifier, version 1: magic, version, three names, classes, latent, ...; the checksum covers the whole file.
        var file = File.ReadAllBytes(Path.Combine(before, "classifier.bin"));
        int latentAt = OffsetAfterNames(file, 8 + 4, 3) + 4;
        Assert.AreEqual(3, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(latentAt)));
        var hostile = FileFuzzing.Sign(WithInt(FileFuzzing.Body(file), latentAt, int.MaxValue));
        var refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderClassifierTransformer.Load(new MemoryStream(hostile)));
        StringAssert.Contains(refused.Message, $"latent {int.MaxValue}");

        // k-NN transformer before the container: three names and a batch size, then the model (magic, version 1, k, metric,
        // weighting, classes, features, rows, ...) with its own checksum.
        file = File.ReadAllBytes(Path.Combine(before, "knn.bin"));
        int modelAt = OffsetAfterNames(file, 0, 3) + 4;
        var model = file[modelAt..];
        var body = FileFuzzing.Body(model);
        body = WithInt(WithInt(body, 8 + 4 * 5, int.MaxValue), 8 + 4 * 6, int.MaxValue); // features, rows
        hostile = [.. file.AsSpan(0, modelAt), .. FileFuzzing.Sign(body)];
        refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => KNearestNeighborsPredictionTransformer.Load(new MemoryStream(hostile)));
        StringAssert.Contains(refused.Message, "too short");

        var rows = Synthetic.LowRank(60, 6, 2, seed: 11);
        var raw = Ml.ToDataView(rows);
        var keyed = Ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw).Transform(raw);
        var pretrained = Ml.Transforms.Autoencoder(new AutoencoderOptions { HiddenLayerSizes = [4], LatentDimension = 2, Epochs = 1, Seed = 7 }).Fit(raw);
        var classifier = Ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 1 }).Fit(keyed);
        var knn = Ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 3).Fit(keyed);
        try
        {
            // The container versions: the sizes are JSON header fields, and each section must hold exactly what they imply.
            hostile = FileFuzzing.EditHeader(Save(classifier.Save), h => h["LatentDimension"] = int.MaxValue);
            refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderClassifierTransformer.Load(new MemoryStream(hostile)));
            StringAssert.Contains(refused.Message, "head-weight section should hold");

            hostile = FileFuzzing.EditHeader(Save(knn.Model.Save), h =>
            {
                h["FeatureCount"] = int.MaxValue;
                h["TrainingRowCount"] = int.MaxValue;
            });
            refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => KNearestNeighborsModel.Load(new MemoryStream(hostile)));
            StringAssert.Contains(refused.Message, $"label section should hold {int.MaxValue} values");
        }
        finally
        {
            classifier.Autoencoder.Model.Dispose();
            pretrained.Model.Dispose();
            knn.Model.Dispose();
        }
    }

    private static byte[] Save(Action<Stream> save)
    {
        using var buffer = new MemoryStream();
        save(buffer);
        return buffer.ToArray();
    }

    /// <summary>The offset after <paramref name="count"/> BinaryWriter strings that start at <paramref name="start"/>.</summary>
    private static int OffsetAfterNames(byte[] file, int start, int count)
    {
        using var reader = new BinaryReader(new MemoryStream(file));
        reader.BaseStream.Position = start;
        for (int i = 0; i < count; i++) reader.ReadString();
        return (int)reader.BaseStream.Position;
    }

    private static byte[] WithInt(byte[] bytes, int at, int value)
    {
        var copy = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(at), value);
        return copy;
    }

    private static void AssertSameTable(List<(string Name, long[] Shape)> expected, AutoencoderNetwork network, string what)
    {
        var actual = network.state_dict().Select(p => (p.Key, p.Value.shape)).ToList();
        string Show(IEnumerable<(string Name, long[] Shape)> t) => string.Join("; ", t.Select(x => $"{x.Name} [{string.Join(",", x.Shape)}]"));
        Assert.AreEqual(Show(expected), Show(actual), what);
    }
}
