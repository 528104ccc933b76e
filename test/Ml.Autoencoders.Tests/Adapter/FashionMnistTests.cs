using System.Buffers.Binary;
using System.IO.Compression;
using Ml.Autoencoders.SampleData;

namespace Ml.Autoencoders.Tests;

/// <summary>Tests of <see cref="FashionMnist"/> and <see cref="FashionMnistSplit"/>: the shipped subset, row selection and the validation of IDX files.</summary>
[TestClass]
public sealed class FashionMnistTests
{
    private static readonly string SubsetDir = Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-subset");

    private TempDirectory? temp;

    private string _tempDir => temp!.Path;

    /// <summary>Creates a fresh temporary directory for the files a test writes.</summary>
    [TestInitialize]
    public void CreateTempDir() => temp = new TempDirectory("fmnist-tests");

    /// <summary>Removes the temporary directory.</summary>
    [TestCleanup]
    public void DeleteTempDir() => temp?.Dispose();

    /// <summary>The subset, its licence and README are copied next to the test binaries.</summary>
    [TestMethod]
    public void Subset_IsCopiedToTheOutputFolder()
    {
        foreach (string name in new[]
                 {
                     FashionMnist.TrainImagesFile, FashionMnist.TrainLabelsFile,
                     FashionMnist.TestImagesFile, FashionMnist.TestLabelsFile, "LICENSE", "README.md",
                 })
        {
            Assert.IsTrue(File.Exists(Path.Combine(SubsetDir, name)), $"{name} missing from {SubsetDir}");
        }
    }

    /// <summary>The shipped subset loads with 2,000/1,000 rows of 784 values in [0, 1], labels 0..9 and all ten classes.</summary>
    [TestMethod]
    public void Subset_LoadsWithExpectedShapeRangeAndClasses()
    {
        var (train, test) = FashionMnist.LoadDefault(SubsetDir);

        Assert.AreEqual(2000, train.Count);
        Assert.AreEqual(1000, test.Count);
        foreach (var split in new[] { train, test })
        {
            Assert.AreEqual(28, split.Height);
            Assert.AreEqual(28, split.Width);
            Assert.AreEqual(784, split.PixelsPerImage);
            Assert.AreEqual(split.Count * 784, split.Pixels.Length);
            Assert.AreEqual(split.Count, split.Labels.Length);
            Assert.IsTrue(split.IsSubset);
            Assert.AreEqual(Path.GetFullPath(SubsetDir), split.Source);

            foreach (float v in split.Pixels)
            {
                Assert.IsTrue(v is >= 0f and <= 1f, $"pixel {v} outside [0, 1]");
            }

            Assert.AreEqual(1f, split.Pixels.Max(), "some pixel should be 255");
            Assert.AreEqual(0f, split.Pixels.Min(), "some pixel should be 0");

            var perClass = new int[10];
            foreach (int label in split.Labels)
            {
                Assert.IsTrue(label is >= 0 and <= 9, $"label {label}");
                perClass[label]++;
            }

            for (int c = 0; c < 10; c++)
            {
                Assert.IsTrue(perClass[c] > 0, $"class {c} ({FashionMnist.ClassNames[c]}) absent");
            }
        }

        // The first training image of Fashion-MNIST is an ankle boot; the first test image too.
        Assert.AreEqual(9, train.Labels[0]);
        Assert.AreEqual(9, test.Labels[0]);
    }

    /// <summary>The class names are the ten Fashion-MNIST classes in label order.</summary>
    [TestMethod]
    public void ClassNames_HasTheTenFashionMnistClasses()
    {
        Assert.AreEqual(10, FashionMnist.ClassNames.Length);
        Assert.AreEqual("T-shirt/top", FashionMnist.ClassNames[0]);
        Assert.AreEqual("Ankle boot", FashionMnist.ClassNames[9]);
    }

    /// <summary>maxRows keeps exactly the first rows; larger values keep all, negative ones are rejected.</summary>
    [TestMethod]
    public void MaxRows_KeepsTheFirstRows()
    {
        string images = Path.Combine(SubsetDir, FashionMnist.TestImagesFile);
        string labels = Path.Combine(SubsetDir, FashionMnist.TestLabelsFile);
        var all = FashionMnist.Load(images, labels);
        var first = FashionMnist.Load(images, labels, maxRows: 10);

        Assert.AreEqual(10, first.Count);
        Assert.AreEqual(10 * 784, first.Pixels.Length);
        CollectionAssert.AreEqual(all.Labels.Take(10).ToArray(), first.Labels);
        CollectionAssert.AreEqual(all.Pixels.Take(10 * 784).ToArray(), first.Pixels);
        Assert.IsTrue(first.IsSubset);

        Assert.AreEqual(all.Count, FashionMnist.Load(images, labels, maxRows: 1_000_000).Count);
        Assert.AreEqual(0, FashionMnist.Load(images, labels, maxRows: 0).Count);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => FashionMnist.Load(images, labels, maxRows: -1));

        var (train, test) = FashionMnist.LoadDefault(SubsetDir, maxTrain: 7, maxTest: 3);
        Assert.AreEqual(7, train.Count);
        Assert.AreEqual(3, test.Count);
    }

    /// <summary>Row and Take return copies of the right rows.</summary>
    [TestMethod]
    public void RowAndTake_CopyTheRightRows()
    {
        var (_, test) = FashionMnist.LoadDefault(SubsetDir, maxTest: 20);

        float[] row3 = test.Row(3);
        CollectionAssert.AreEqual(test.Pixels.Skip(3 * 784).Take(784).ToArray(), row3);
        row3[0] = 42f;
        Assert.AreNotEqual(42f, test.Pixels[3 * 784], "Row must return a copy");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => test.Row(20));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => test.Row(-1));

        var five = test.Take(5);
        Assert.AreEqual(5, five.Count);
        CollectionAssert.AreEqual(test.Labels.Take(5).ToArray(), five.Labels);
        CollectionAssert.AreEqual(test.Pixels.Take(5 * 784).ToArray(), five.Pixels);
        Assert.AreEqual(test.Source, five.Source);
        Assert.AreEqual(20, test.Take(100).Count);
    }

    /// <summary>Plain (not gzip-compressed) IDX files load as well.</summary>
    [TestMethod]
    public void UncompressedIdx_IsAcceptedToo()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: false);
        var split = FashionMnist.Load(images, labels);
        Assert.AreEqual(3, split.Count);
        Assert.AreEqual(2, split.Height);
        Assert.AreEqual(3, split.Width);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, split.Labels);
        Assert.AreEqual(5 / 255f, split.Pixels[5]);
        Assert.IsTrue(split.IsSubset);
    }

    /// <summary>A gzip file cut in half raises InvalidDataException naming the file.</summary>
    [TestMethod]
    public void TruncatedGzipFile_ThrowsNamingTheFile()
    {
        byte[] gz = File.ReadAllBytes(Path.Combine(SubsetDir, FashionMnist.TestImagesFile));
        string images = Path.Combine(_tempDir, "cut-images.gz");
        File.WriteAllBytes(images, gz.AsSpan(0, gz.Length / 2).ToArray());

        var ex = Assert.ThrowsExactly<InvalidDataException>(
            () => FashionMnist.Load(images, Path.Combine(SubsetDir, FashionMnist.TestLabelsFile)));
        StringAssert.Contains(ex.Message, images);
    }

    /// <summary>A gzip file with garbled bytes raises InvalidDataException naming the file.</summary>
    [TestMethod]
    public void CorruptGzipStream_ThrowsNamingTheFile()
    {
        byte[] gz = File.ReadAllBytes(Path.Combine(SubsetDir, FashionMnist.TestImagesFile));
        for (int i = 100; i < 200; i++)
        {
            gz[i] ^= 0x5a;
        }

        string images = Path.Combine(_tempDir, "garbled-images.gz");
        File.WriteAllBytes(images, gz);

        var ex = Assert.ThrowsExactly<InvalidDataException>(
            () => FashionMnist.Load(images, Path.Combine(SubsetDir, FashionMnist.TestLabelsFile)));
        StringAssert.Contains(ex.Message, images);
    }

    /// <summary>A valid gzip stream whose IDX body is shorter than its header promises raises InvalidDataException.</summary>
    [TestMethod]
    public void BodyShorterThanHeader_ThrowsNamingTheFile()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: true, imageBodyDelta: -1);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, images);
        StringAssert.Contains(ex.Message, "truncated");

        // Also when only the first rows are kept: the whole file is still checked.
        ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels, maxRows: 1));
        StringAssert.Contains(ex.Message, images);
    }

    /// <summary>Bytes after the data the header describes raise InvalidDataException naming the file.</summary>
    [TestMethod]
    public void BytesAfterTheData_ThrowNamingTheFile()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: true, imageBodyDelta: 4);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, images);

        (images, labels) = WriteIdxPair(count: 3, gzip: true, labelBodyDelta: 1);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, labels);
    }

    /// <summary>A wrong magic number raises InvalidDataException naming the file.</summary>
    [TestMethod]
    public void WrongMagicNumber_ThrowsNamingTheFile()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: true, imageMagic: 2049);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, images);
        StringAssert.Contains(ex.Message, "magic");

        (images, labels) = WriteIdxPair(count: 3, gzip: true, labelMagic: 0x12345678);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, labels);
        StringAssert.Contains(ex.Message, "magic");
    }

    /// <summary>Passing the label file as the image file is caught by the magic number.</summary>
    [TestMethod]
    public void SwappedFiles_Throw()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: true);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(labels, images));
        StringAssert.Contains(ex.Message, labels);
    }

    /// <summary>Different image and label counts raise InvalidDataException naming both files.</summary>
    [TestMethod]
    public void ImageAndLabelCountsDisagree_ThrowsNamingBothFiles()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: true, labelCount: 2);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, images);
        StringAssert.Contains(ex.Message, labels);
    }

    /// <summary>A label outside 0..9 raises InvalidDataException naming the file.</summary>
    [TestMethod]
    public void LabelOutOfRange_ThrowsNamingTheFile()
    {
        var (images, labels) = WriteIdxPair(count: 3, gzip: true, badLabel: true);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, labels);
    }

    /// <summary>An empty file raises InvalidDataException naming the file.</summary>
    [TestMethod]
    public void EmptyFile_ThrowsNamingTheFile()
    {
        var (_, labels) = WriteIdxPair(count: 3, gzip: true);
        string images = Path.Combine(_tempDir, "empty");
        File.WriteAllBytes(images, []);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => FashionMnist.Load(images, labels));
        StringAssert.Contains(ex.Message, images);
    }

    /// <summary>An explicit directory without the files (or that does not exist) is an error, not a fallback.</summary>
    [TestMethod]
    public void ExplicitDirectoryWithoutTheFiles_Throws()
    {
        Assert.ThrowsExactly<FileNotFoundException>(() => FashionMnist.LoadDefault(_tempDir));
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => FashionMnist.LoadDefault(Path.Combine(_tempDir, "nope")));
    }

    /// <summary>Without arguments, LoadDefault finds some source on this machine.</summary>
    [TestMethod]
    public void LoadDefault_FindsSomeSource()
    {
        // Whatever this machine has (FASHION_MNIST_DIR, the Debian package, or the shipped subset).
        var (train, test) = FashionMnist.LoadDefault(maxTrain: 50, maxTest: 50);
        Assert.AreEqual(50, train.Count);
        Assert.AreEqual(50, test.Count);
        Assert.IsTrue(Directory.Exists(train.Source), train.Source);
    }

    /// <summary>Writes a tiny 2x3 IDX image/label pair with pixel value i at position i, optionally damaged.</summary>
    private (string Images, string Labels) WriteIdxPair(
        int count,
        bool gzip,
        int imageMagic = 2051,
        int labelMagic = 2049,
        int? labelCount = null,
        int imageBodyDelta = 0,
        int labelBodyDelta = 0,
        bool badLabel = false)
    {
        const int rows = 2, cols = 3;
        var image = new List<byte>();
        image.AddRange(BigEndian(imageMagic));
        image.AddRange(BigEndian(count));
        image.AddRange(BigEndian(rows));
        image.AddRange(BigEndian(cols));
        for (int i = 0; i < count * rows * cols + imageBodyDelta; i++)
        {
            image.Add((byte)i);
        }

        int nLabels = labelCount ?? count;
        var label = new List<byte>();
        label.AddRange(BigEndian(labelMagic));
        label.AddRange(BigEndian(nLabels));
        for (int i = 0; i < nLabels + labelBodyDelta; i++)
        {
            label.Add((byte)(badLabel && i == nLabels - 1 ? 10 : i % 10));
        }

        string suffix = gzip ? ".gz" : "";
        string imagesPath = Path.Combine(_tempDir, $"images-{Guid.NewGuid():N}-idx3-ubyte{suffix}");
        string labelsPath = Path.Combine(_tempDir, $"labels-{Guid.NewGuid():N}-idx1-ubyte{suffix}");
        Write(imagesPath, image.ToArray(), gzip);
        Write(labelsPath, label.ToArray(), gzip);
        return (imagesPath, labelsPath);
    }

    private static byte[] BigEndian(int value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        return b;
    }

    private static void Write(string path, byte[] data, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, data);
            return;
        }

        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Optimal);
        gz.Write(data);
    }
}
