using Microsoft.ML;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>The library's own model file: identical outputs after a round trip, clear errors for bad files.</summary>
[TestClass]
public sealed class PersistenceTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static byte[]? saved;
    private static float[][] rows = Array.Empty<float[]>();

    private static byte[] SavedModel()
    {
        if (saved is not null) return saved;
        rows = Synthetic.LowRank(100, 9, 2);
        var model = Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = new[] { 5 }, Epochs = 2, ValidationFraction = 0.2 }).Fit(Ml.ToDataView(rows));
        using var stream = new MemoryStream();
        model.Save(stream);
        return saved = stream.ToArray();
    }

    /// <summary>A saved file loads on the CPU with identical outputs, options, shapes and history.</summary>
    [TestMethod]
    public void FileRoundTripGivesIdenticalOutputs()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mlae-{Guid.NewGuid():N}.mlae");
        try
        {
            rows = Synthetic.LowRank(100, 9, 2);
            var model = Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = new[] { 5 }, Epochs = 2, LatentColumnName = "Code" }).Fit(Ml.ToDataView(rows));
            model.Save(path);
            var loaded = AutoencoderTransformer.Load(path, ComputeDevice.Cpu);
            Assert.AreEqual("Code", loaded.Options.LatentColumnName);
            Assert.AreEqual(model.Model.Architecture, loaded.Model.Architecture);
            Assert.AreEqual(model.History.Epochs.Count, loaded.History.Epochs.Count);
            Assert.AreEqual(model.History.Epochs[^1].TrainLoss, loaded.History.Epochs[^1].TrainLoss);
            foreach (var row in rows)
            {
                CollectionAssert.AreEqual(model.Model.Encode(row), loaded.Model.Encode(row));
                CollectionAssert.AreEqual(model.Model.Reconstruct(row), loaded.Model.Reconstruct(row));
            }
            Assert.IsFalse(Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(path) + ".tmp-*").Any(), "no temporary file is left behind");
        }
        finally { File.Delete(path); }
    }

    /// <summary>Every truncation of a model file raises the library's format exception.</summary>
    [TestMethod]
    public void TruncatedFilesAreRejected()
    {
        var bytes = SavedModel();
        foreach (int length in new[] { 0, 1, 8, 15, 16, 40, bytes.Length / 2, bytes.Length - 33, bytes.Length - 1 })
            Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(new MemoryStream(bytes[..length])), $"length {length}");
    }

    /// <summary>Flipped bytes anywhere (header, weights, checksum) are caught.</summary>
    [TestMethod]
    public void CorruptedFilesAreRejected()
    {
        var bytes = SavedModel();
        var random = new Random(4);
        for (int i = 0; i < 300; i++)
        {
            var copy = (byte[])bytes.Clone();
            int at = random.Next(copy.Length);
            copy[at] ^= (byte)(1 + random.Next(255));
            Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(new MemoryStream(copy)), $"byte {at} flipped");
        }
    }

    /// <summary>Foreign files (text, a zip, another version) are refused with a message that says why.</summary>
    [TestMethod]
    public void ForeignFilesAreRejected()
    {
        var text = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(new MemoryStream("hello, this is not a model at all; it is just some text"u8.ToArray())));
        StringAssert.Contains(text.Message, "magic");
        var bytes = (byte[])SavedModel().Clone();
        bytes[8] = 99; // format version
        var version = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(new MemoryStream(bytes)));
        StringAssert.Contains(version.Message, "version 99");
        var path = Path.Combine(Path.GetTempPath(), $"mlae-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, new byte[100]);
        try
        {
            var file = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(path));
            StringAssert.Contains(file.Message, path);
        }
        finally { File.Delete(path); }
    }

    /// <summary>
    /// The downstream files (the committed newest set) loaded from a damaged copy, as another kind, or in a version this
    /// library does not read, are refused with a message that names the file, the kind and what was wrong.
    /// </summary>
    [TestMethod]
    [DataRow("anomaly", "anomaly detector")] [DataRow("classifier", "fine-tuned classifier")] [DataRow("knn", "k-NN transformer")] [DataRow("tsne", "t-SNE model")]
    public void DamagedOrForeignDownstreamFilesNameTheFileAndWhatIsWrong(string name, string kind)
    {
        Func<string, object> load = name switch
        {
            "anomaly" => p => Anomaly.AutoencoderAnomalyTransformer.Load(p),
            "classifier" => p => Classification.AutoencoderClassifierTransformer.Load(p),
            "knn" => p => Neighbors.KNearestNeighborsPredictionTransformer.Load(p),
            _ => p => Embedding.TsneTransformer.Load(p),
        };
        var original = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "formats", "2026-12-05", name + ".bin"));
        using var dir = new TempDirectory("downstream");
        string path = dir.File(name + ".bin");

        var damaged = (byte[])original.Clone();
        damaged[damaged.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, damaged);
        var e = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => load(path));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, kind);
        StringAssert.Contains(e.Message, "checksum");

        var version = (byte[])original.Clone();
        BitConverter.TryWriteBytes(version.AsSpan(8), 77);
        File.WriteAllBytes(path, version);
        e = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => load(path));
        StringAssert.Contains(e.Message, $"{kind} format version 77 is not supported");

        File.WriteAllBytes(path, SavedModel());
        e = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => load(path));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "magic");
    }

    /// <summary>
    /// The fine-tuned classifier's file keeps its fine-tuning history from version 2 on (the committed file of the newest
    /// set was fine-tuned for 2 epochs); a version-1 file, which kept none, loads with an empty one.
    /// </summary>
    [TestMethod]
    public void TheClassifierFileKeepsItsFineTuningHistory()
    {
        string formats = Path.Combine(AppContext.BaseDirectory, "TestData", "formats");
        var loaded = Classification.AutoencoderClassifierTransformer.Load(Path.Combine(formats, "2026-12-05", "classifier.bin"));
        var before = Classification.AutoencoderClassifierTransformer.Load(Path.Combine(formats, "2026-12-04", "classifier.bin"));
        try
        {
            Assert.AreEqual(2, loaded.History.Epochs.Count);
            Assert.IsTrue(loaded.History.Epochs.All(e => double.IsFinite(e.TrainLoss) && e.TrainLoss > 0 && e.Rows == 120), "each epoch's loss and rows");
            Assert.AreEqual(0, before.History.Epochs.Count);
        }
        finally
        {
            loaded.Autoencoder.Model.Dispose();
            before.Autoencoder.Model.Dispose();
        }
    }

    /// <summary>A header that lies about a huge size is refused without allocating it.</summary>
    [TestMethod]
    public void HeaderLengthIsCheckedAgainstTheFile()
    {
        var bytes = (byte[])SavedModel().Clone();
        BitConverter.TryWriteBytes(bytes.AsSpan(12), int.MaxValue);
        var e = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(new MemoryStream(bytes)));
        StringAssert.Contains(e.Message, "header length");
    }
}
