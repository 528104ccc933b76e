using System.Buffers.Binary;
using System.IO.Compression;

namespace Ml.Autoencoders.SampleData;

/// <summary>
/// One split (train or test) of Fashion-MNIST held in memory: images as row-major pixel rows scaled to [0, 1],
/// and their class labels.
/// </summary>
public sealed class FashionMnistSplit
{
    /// <summary>Creates a split from pixel rows and labels.</summary>
    /// <param name="pixels">Row-major pixels, <paramref name="labels"/>.Length * <paramref name="height"/> * <paramref name="width"/> values in [0, 1].</param>
    /// <param name="labels">One class label (0..9) per image.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="source">Directory (or description) the data came from.</param>
    /// <param name="isSubset">Whether this is less than a complete Fashion-MNIST split.</param>
    /// <exception cref="ArgumentException">The array lengths do not agree with the dimensions.</exception>
    public FashionMnistSplit(float[] pixels, int[] labels, int height, int width, string source, bool isSubset)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if ((long)labels.Length * height * width != pixels.Length)
        {
            throw new ArgumentException(
                $"pixels has {pixels.Length} values; {labels.Length} images of {height}x{width} need {(long)labels.Length * height * width}.",
                nameof(pixels));
        }

        Pixels = pixels;
        Labels = labels;
        Height = height;
        Width = width;
        Source = source;
        IsSubset = isSubset;
    }

    /// <summary>All images, row-major: image <c>i</c> occupies <c>[i * PixelsPerImage, (i + 1) * PixelsPerImage)</c>; values in [0, 1] (byte / 255).</summary>
    public float[] Pixels { get; }

    /// <summary>Class label (0..9, see <see cref="FashionMnist.ClassNames"/>) of each image.</summary>
    public int[] Labels { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Image height in pixels (28 for Fashion-MNIST).</summary>
    public int Height { get; }

    /// <summary>Image width in pixels (28 for Fashion-MNIST).</summary>
    public int Width { get; }

    /// <summary>Pixels per image: <see cref="Height"/> * <see cref="Width"/> (784 for Fashion-MNIST).</summary>
    public int PixelsPerImage => Height * Width;

    /// <summary>The directory the files were read from.</summary>
    public string Source { get; }

    /// <summary>
    /// True when this is not a complete Fashion-MNIST split: it comes from the small subset shipped with the repository
    /// (or any file holding neither 60,000 nor 10,000 images), or it was cut with <c>maxRows</c> or <see cref="Take"/>.
    /// </summary>
    public bool IsSubset { get; }

    /// <summary>Returns a copy of the pixels of image <paramref name="i"/>.</summary>
    /// <param name="i">Zero-based image index.</param>
    /// <returns>A new array of <see cref="PixelsPerImage"/> values.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="i"/> is not in [0, <see cref="Count"/>).</exception>
    public float[] Row(int i)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(i);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(i, Count);
        return Pixels.AsSpan(i * PixelsPerImage, PixelsPerImage).ToArray();
    }

    /// <summary>Returns a new split with the first <paramref name="n"/> images (all of them if there are fewer).</summary>
    /// <param name="n">Number of images to keep; not negative.</param>
    /// <returns>A split holding copies of the first rows.</returns>
    public FashionMnistSplit Take(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        n = Math.Min(n, Count);
        return new FashionMnistSplit(
            Pixels.AsSpan(0, n * PixelsPerImage).ToArray(),
            Labels.AsSpan(0, n).ToArray(),
            Height,
            Width,
            Source,
            IsSubset || n < Count);
    }
}

/// <summary>
/// Reads Fashion-MNIST (Xiao, Rasul &amp; Vollgraf 2017, Zalando SE, MIT licence) in its original IDX format, gzip-compressed
/// (uncompressed IDX files are accepted too).
/// </summary>
public static class FashionMnist
{
    /// <summary>Environment variable naming a directory with the four original files.</summary>
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";

    /// <summary>Directory where the Debian package <c>dataset-fashion-mnist</c> installs the full data set.</summary>
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Relative path (from the repository root or an output folder) of the small subset shipped with the repository.</summary>
    public const string SubsetRelativePath = "data/fashion-mnist-subset";

    /// <summary>File name of the training images.</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte.gz";

    /// <summary>File name of the training labels.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte.gz";

    /// <summary>File name of the test images.</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte.gz";

    /// <summary>File name of the test labels.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte.gz";

    /// <summary>Names of the ten classes, indexed by label.</summary>
    public static readonly string[] ClassNames =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    private const int ImagesMagic = 2051; // 0x00000803: unsigned byte, 3 dimensions
    private const int LabelsMagic = 2049; // 0x00000801: unsigned byte, 1 dimension
    private const int FullTrainCount = 60_000;
    private const int FullTestCount = 10_000;

    private static readonly string[] AllFiles = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>Reads one split from an IDX image file and an IDX label file.</summary>
    /// <param name="imagesPath">IDX3 unsigned-byte image file (gzip-compressed or not).</param>
    /// <param name="labelsPath">IDX1 unsigned-byte label file (gzip-compressed or not).</param>
    /// <param name="maxRows">Keep at most this many images (the first ones); null keeps all. The whole file is still validated.</param>
    /// <returns>The split; <see cref="FashionMnistSplit.Source"/> is the directory of <paramref name="imagesPath"/>.</returns>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt, truncated, has a wrong magic number or disagrees with the other file.</exception>
    public static FashionMnistSplit Load(string imagesPath, string labelsPath, int? maxRows = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagesPath);
        ArgumentException.ThrowIfNullOrEmpty(labelsPath);
        if (maxRows is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "maxRows must not be negative.");
        }

        imagesPath = Path.GetFullPath(imagesPath);
        labelsPath = Path.GetFullPath(labelsPath);

        using var images = new IdxReader(imagesPath);
        using var labels = new IdxReader(labelsPath);

        // Headers first, so that a mismatch is reported before any bulk work.
        Span<byte> header = stackalloc byte[16];
        images.ReadHeader(header, ImagesMagic, LabelsMagic, "images (idx3-ubyte)", "labels");
        int imageCount = images.ReadDimension(header, 4, "image count", allowZero: true);
        int height = images.ReadDimension(header, 8, "row count", allowZero: false);
        int width = images.ReadDimension(header, 12, "column count", allowZero: false);

        Span<byte> labelHeader = stackalloc byte[8];
        labels.ReadHeader(labelHeader, LabelsMagic, ImagesMagic, "labels (idx1-ubyte)", "images");
        int labelCount = labels.ReadDimension(labelHeader, 4, "label count", allowZero: true);

        if (imageCount != labelCount)
        {
            throw new InvalidDataException(
                $"Fashion-MNIST files disagree: '{imagesPath}' holds {imageCount} images but '{labelsPath}' holds {labelCount} labels.");
        }

        int keep = Math.Min(imageCount, maxRows ?? imageCount);
        long pixelsPerImage = (long)height * width;
        if (keep * pixelsPerImage > Array.MaxLength)
        {
            throw new InvalidDataException($"'{imagesPath}': {keep} images of {height}x{width} are too many to hold in one array; pass a smaller maxRows.");
        }

        // Labels: small, so read and check them all.
        byte[] labelBytes = new byte[labelCount];
        labels.ReadBody(labelBytes, labelCount, "labels");
        labels.ExpectEnd(8L + labelCount);
        for (int i = 0; i < labelBytes.Length; i++)
        {
            if (labelBytes[i] >= ClassNames.Length)
            {
                throw new InvalidDataException(
                    $"'{labelsPath}': label {i} is {labelBytes[i]}; Fashion-MNIST labels are 0..{ClassNames.Length - 1}.");
            }
        }

        // Images: keep the first rows, stream through the rest to check the length.
        byte[] pixelBytes = new byte[keep * pixelsPerImage];
        long expectedBody = imageCount * pixelsPerImage;
        images.ReadBody(pixelBytes, expectedBody, "pixel data");
        images.SkipBody(expectedBody - pixelBytes.LongLength, expectedBody, "pixel data");
        images.ExpectEnd(16L + expectedBody);

        var pixels = new float[pixelBytes.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = pixelBytes[i] / 255f;
        }

        var labelInts = new int[keep];
        for (int i = 0; i < keep; i++)
        {
            labelInts[i] = labelBytes[i];
        }

        bool isSubset = keep < imageCount || (imageCount != FullTrainCount && imageCount != FullTestCount);
        string source = Path.GetDirectoryName(imagesPath) ?? imagesPath;
        return new FashionMnistSplit(pixels, labelInts, height, width, source, isSubset);
    }

    /// <summary>
    /// Loads the training and test splits from the first place that has them:
    /// <paramref name="directory"/> if given; else the directory named by <c>FASHION_MNIST_DIR</c> if set;
    /// else <c>/usr/share/datasets/fashion-mnist</c> if all four files are there;
    /// else the 2,000 + 1,000 image subset shipped under <c>data/fashion-mnist-subset</c>
    /// (looked for in <see cref="AppContext.BaseDirectory"/>, then in each folder above it).
    /// </summary>
    /// <param name="directory">A directory holding the four original files; when given, no other place is tried.</param>
    /// <param name="maxTrain">Keep at most this many training images; null keeps all.</param>
    /// <param name="maxTest">Keep at most this many test images; null keeps all.</param>
    /// <returns>Both splits; their <see cref="FashionMnistSplit.Source"/> and <see cref="FashionMnistSplit.IsSubset"/> tell where they came from.</returns>
    /// <exception cref="DirectoryNotFoundException">The explicit or environment directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">Files are missing from the explicit or environment directory, or no source was found at all.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt.</exception>
    public static (FashionMnistSplit Train, FashionMnistSplit Test) LoadDefault(string? directory = null, int? maxTrain = null, int? maxTest = null)
    {
        string dir = ResolveDirectory(directory);
        var train = Load(Path.Combine(dir, TrainImagesFile), Path.Combine(dir, TrainLabelsFile), maxTrain);
        var test = Load(Path.Combine(dir, TestImagesFile), Path.Combine(dir, TestLabelsFile), maxTest);
        return (train, test);
    }

    /// <summary>Returns the directory <see cref="LoadDefault"/> would read, following the same order.</summary>
    /// <param name="directory">An explicit directory; when given it must hold the four files.</param>
    /// <returns>The full path of a directory holding the four files.</returns>
    /// <exception cref="DirectoryNotFoundException">The explicit or environment directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">Files are missing from the explicit or environment directory, or no source was found at all.</exception>
    public static string ResolveDirectory(string? directory = null)
    {
        if (!string.IsNullOrEmpty(directory))
        {
            return RequireAllFiles(directory, "the directory passed to FashionMnist.LoadDefault");
        }

        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return RequireAllFiles(fromEnv, $"the directory named by {EnvironmentVariable}");
        }

        if (HasAllFiles(SystemDirectory))
        {
            return SystemDirectory;
        }

        var searched = new List<string>();
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, SubsetRelativePath);
            searched.Add(candidate);
            if (HasAllFiles(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"Fashion-MNIST not found. Set {EnvironmentVariable}, install it in {SystemDirectory} (Debian package dataset-fashion-mnist), " +
            $"or ship the subset in {SubsetRelativePath}. Looked for the subset in: {string.Join(", ", searched)}.");
    }

    private static bool HasAllFiles(string dir) => AllFiles.All(f => File.Exists(Path.Combine(dir, f)));

    private static string RequireAllFiles(string dir, string what)
    {
        string full = Path.GetFullPath(dir);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"Fashion-MNIST: {what}, '{full}', does not exist.");
        }

        var missing = AllFiles.Where(f => !File.Exists(Path.Combine(full, f))).ToList();
        if (missing.Count > 0)
        {
            throw new FileNotFoundException(
                $"Fashion-MNIST: {what}, '{full}', lacks {string.Join(", ", missing)}.",
                Path.Combine(full, missing[0]));
        }

        return full;
    }

    /// <summary>Sequential reader of one IDX file that turns every failure into an exception naming the file.</summary>
    private sealed class IdxReader : IDisposable
    {
        private readonly FileStream _file;
        private readonly Stream _data;
        private readonly bool _gzip;
        private long _position;
        private int _headerLength;

        public IdxReader(string path)
        {
            Path = path;
            _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> sig = stackalloc byte[2];
            int n = _file.ReadAtLeast(sig, 2, throwOnEndOfStream: false);
            _file.Position = 0;
            _gzip = n == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
            _data = _gzip ? new GZipStream(_file, CompressionMode.Decompress) : _file;
        }

        public string Path { get; }

        private string Kind => _gzip ? "decompressed" : "file";

        public void ReadHeader(Span<byte> header, int magic, int otherMagic, string expected, string otherKind)
        {
            int got = Read(header);
            if (got < 4)
            {
                throw new InvalidDataException($"'{Path}': {Kind} length is {got} bytes, too short for an IDX header.");
            }

            int found = BinaryPrimitives.ReadInt32BigEndian(header);
            if (found != magic)
            {
                string hint = found == otherMagic ? $" (that is the magic number of IDX {otherKind}; were the files swapped?)" : "";
                throw new InvalidDataException(
                    $"'{Path}': wrong magic number {found} (0x{found:X8}); expected {magic} (0x{magic:X8}) for Fashion-MNIST {expected}{hint}.");
            }

            if (got < header.Length)
            {
                throw new InvalidDataException($"'{Path}': {Kind} length is {got} bytes, shorter than its {header.Length}-byte IDX header (truncated).");
            }

            _headerLength = header.Length;
        }

        public int ReadDimension(ReadOnlySpan<byte> header, int offset, string name, bool allowZero)
        {
            int value = BinaryPrimitives.ReadInt32BigEndian(header[offset..]);
            if (value < 0 || (value == 0 && !allowZero))
            {
                throw new InvalidDataException($"'{Path}': header {name} is {value}.");
            }

            return value;
        }

        public void ReadBody(byte[] buffer, long expectedBody, string what)
        {
            int got = Read(buffer);
            if (got < buffer.Length)
            {
                throw Truncated(expectedBody, what);
            }
        }

        public void SkipBody(long count, long expectedBody, string what)
        {
            byte[] scratch = new byte[1 << 16];
            while (count > 0)
            {
                int got = Read(scratch.AsSpan(0, (int)Math.Min(count, scratch.Length)));
                if (got == 0)
                {
                    throw Truncated(expectedBody, what);
                }

                count -= got;
            }
        }

        public void ExpectEnd(long expectedLength)
        {
            Span<byte> scratch = stackalloc byte[4096];
            long extra = 0;
            int got;
            while ((got = Read(scratch)) > 0)
            {
                extra += got;
            }

            if (extra > 0)
            {
                throw new InvalidDataException(
                    $"'{Path}': {Kind} length is {expectedLength + extra} bytes but its header describes {expectedLength}; {extra} bytes follow the data.");
            }
        }

        private InvalidDataException Truncated(long expectedBody, string what)
        {
            return new InvalidDataException(
                $"'{Path}': truncated: {Kind} length is {_position} bytes, but its header promises {expectedBody} bytes of {what} after the {_headerLength}-byte header ({_headerLength + expectedBody} in all).");
        }

        private int Read(Span<byte> buffer)
        {
            int total = 0;
            try
            {
                while (total < buffer.Length)
                {
                    int n = _data.Read(buffer[total..]);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
            {
                throw new InvalidDataException($"'{Path}': corrupt {(_gzip ? "gzip stream" : "file")} after {_position + total} bytes: {ex.Message}", ex);
            }

            _position += total;
            return total;
        }

        public void Dispose()
        {
            _data.Dispose();
            _file.Dispose();
        }
    }
}
