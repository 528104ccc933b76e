using Ml.Autoencoders.Networks;

namespace Ml.Autoencoders.Analysis;

/// <summary>
/// Full-reference image quality: peak signal-to-noise ratio (PSNR) and structural similarity (SSIM), computed in
/// double precision from float pixels, as the convolutional denoising benchmark defines them
/// (<c>bench/reference/conv_denoise.py</c>). SSIM is scikit-image's default <c>structural_similarity</c>: a 7x7 uniform
/// window evaluated only where it lies fully inside the image, sample (co)variances (N / (N − 1) with N = 49),
/// K1 = 0.01, K2 = 0.03, and the mean of the SSIM map; several channels are averaged.
/// </summary>
public static class ImageQuality
{
    /// <summary>Side of the square uniform SSIM window; images must be at least this high and wide.</summary>
    public const int SsimWindow = 7;

    /// <summary>SSIM's luminance constant: C1 = (K1 · data range)².</summary>
    public const double SsimK1 = 0.01;

    /// <summary>SSIM's contrast-structure constant: C2 = (K2 · data range)².</summary>
    public const double SsimK2 = 0.03;

    /// <summary>Smallest mean squared error PSNR divides by, so identical images give 10·log10(range² / 1e-10) (100 dB at range 1), not infinity.</summary>
    public const double PsnrMseFloor = 1e-10;

    /// <summary>
    /// Peak signal-to-noise ratio in dB: 10·log10(dataRange² / max(MSE, 1e-10)), the MSE taken over all values of the
    /// image (every channel). NaN pixels give NaN.
    /// </summary>
    /// <param name="image">The image to judge, any layout (the same as <paramref name="reference"/>).</param>
    /// <param name="reference">The clean image.</param>
    /// <param name="dataRange">Distance between the smallest and largest possible pixel value (1 for pixels in [0, 1], 255 for bytes).</param>
    /// <exception cref="ArgumentException">The two spans differ in length or are empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dataRange"/> is not a positive finite number.</exception>
    public static double Psnr(ReadOnlySpan<float> image, ReadOnlySpan<float> reference, double dataRange = 1)
    {
        CheckDataRange(dataRange);
        CheckSameLength(image, reference);
        if (image.IsEmpty) throw new ArgumentException("PSNR needs at least one pixel; both images are empty.", nameof(image));
        double sum = 0;
        for (int i = 0; i < image.Length; i++)
        {
            double d = (double)image[i] - reference[i];
            sum += d * d;
        }
        return PsnrFromMse(sum / image.Length, dataRange);
    }

    /// <summary>
    /// Structural similarity of one single-channel image with its reference: the mean, over every position where a
    /// 7x7 window fits inside the image ((height − 6) x (width − 6) positions), of
    /// ((2·μa·μx + C1)(2·σax + C2)) / ((μa² + μx² + C1)(σa² + σx² + C2)), with window means μ, sample (co)variances σ
    /// (N / (N − 1), N = 49), C1 = (0.01·dataRange)² and C2 = (0.03·dataRange)². 1 for identical images; NaN pixels give NaN.
    /// </summary>
    /// <param name="image">The image to judge: <paramref name="height"/> x <paramref name="width"/> values, row-major.</param>
    /// <param name="reference">The clean image, same layout.</param>
    /// <param name="height">Rows of pixels, at least 7.</param>
    /// <param name="width">Columns of pixels, at least 7.</param>
    /// <param name="dataRange">Distance between the smallest and largest possible pixel value (1 for pixels in [0, 1]).</param>
    /// <exception cref="ArgumentException">The spans differ in length or do not hold height x width values, or the image is smaller than 7x7.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dataRange"/> is not a positive finite number.</exception>
    public static double Ssim(ReadOnlySpan<float> image, ReadOnlySpan<float> reference, int height, int width, double dataRange = 1)
    {
        if (height < SsimWindow || width < SsimWindow)
            throw new ArgumentException($"SSIM needs images of at least {SsimWindow}x{SsimWindow} pixels (its window); got {height}x{width}.", height < SsimWindow ? nameof(height) : nameof(width));
        return Ssim(image, reference, new ImageShape(1, height, width), PixelOrder.Planar, dataRange);
    }

    /// <summary>
    /// Structural similarity of an image of <paramref name="shape"/> with its reference: the single-channel SSIM
    /// (see <see cref="Ssim(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, double)"/>) of each channel, averaged over
    /// the channels (scikit-image's <c>channel_axis</c> behaviour).
    /// </summary>
    /// <param name="image">The image to judge: <see cref="ImageShape.Size"/> values in <paramref name="pixelOrder"/>.</param>
    /// <param name="reference">The clean image, same shape and order.</param>
    /// <param name="shape">Channels, height and width; height and width at least 7.</param>
    /// <param name="pixelOrder">Planar (channel-major, ExtractPixels' default) or interleaved (pixel-major).</param>
    /// <param name="dataRange">Distance between the smallest and largest possible pixel value (1 for pixels in [0, 1]).</param>
    /// <exception cref="ArgumentException">The spans differ in length or do not hold the shape's size, or the image is smaller than 7x7.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dataRange"/> is not a positive finite number, or the shape has a dimension &lt;= 0.</exception>
    public static double Ssim(ReadOnlySpan<float> image, ReadOnlySpan<float> reference, ImageShape shape, PixelOrder pixelOrder = PixelOrder.Planar, double dataRange = 1)
    {
        CheckShape(shape, pixelOrder, dataRange);
        CheckSameLength(image, reference);
        if (image.Length != shape.Size)
            throw new ArgumentException($"The images have {image.Length} values; a {shape} image has {shape.Size}.", nameof(image));

        int planeSize = shape.Height * shape.Width;
        var a = new double[planeSize];
        var x = new double[planeSize];
        var scratch = new SsimScratch(shape.Height, shape.Width);
        double total = 0;
        for (int c = 0; c < shape.Channels; c++)
        {
            CopyPlane(image, a, c, shape, pixelOrder);
            CopyPlane(reference, x, c, shape, pixelOrder);
            total += SsimPlane(a, x, shape.Height, shape.Width, dataRange, scratch);
        }
        return total / shape.Channels;
    }

    /// <summary>The mean of <see cref="Psnr"/> over pairs of images (the PSNR of each pair first, then the mean, as the benchmark reports it).</summary>
    /// <param name="images">The images to judge, one array per image.</param>
    /// <param name="references">The clean images, in the same order.</param>
    /// <param name="dataRange">Distance between the smallest and largest possible pixel value (1 for pixels in [0, 1]).</param>
    /// <exception cref="ArgumentException">The lists are empty or differ in count, or a pair differs in length.</exception>
    /// <exception cref="ArgumentNullException">A list or an image is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dataRange"/> is not a positive finite number.</exception>
    public static double MeanPsnr(IReadOnlyList<float[]> images, IReadOnlyList<float[]> references, double dataRange = 1)
    {
        CheckPairs(images, references);
        double total = 0;
        for (int i = 0; i < images.Count; i++)
        {
            var (image, reference) = Pair(images, references, i);
            total += Psnr(image, reference, dataRange);
        }
        return total / images.Count;
    }

    /// <summary>The mean of <see cref="Ssim(ReadOnlySpan{float}, ReadOnlySpan{float}, ImageShape, PixelOrder, double)"/> over pairs of images of <paramref name="shape"/>.</summary>
    /// <param name="images">The images to judge, one array of <see cref="ImageShape.Size"/> values per image.</param>
    /// <param name="references">The clean images, in the same order.</param>
    /// <param name="shape">Channels, height and width of every image; height and width at least 7.</param>
    /// <param name="pixelOrder">Planar (channel-major) or interleaved (pixel-major).</param>
    /// <param name="dataRange">Distance between the smallest and largest possible pixel value (1 for pixels in [0, 1]).</param>
    /// <exception cref="ArgumentException">The lists are empty or differ in count, an image does not hold the shape's size, or the shape is smaller than 7x7.</exception>
    /// <exception cref="ArgumentNullException">A list, an image or the shape is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dataRange"/> is not a positive finite number, or the shape has a dimension &lt;= 0.</exception>
    public static double MeanSsim(IReadOnlyList<float[]> images, IReadOnlyList<float[]> references, ImageShape shape, PixelOrder pixelOrder = PixelOrder.Planar, double dataRange = 1)
    {
        CheckShape(shape, pixelOrder, dataRange);
        CheckPairs(images, references);
        double total = 0;
        for (int i = 0; i < images.Count; i++)
        {
            var (image, reference) = Pair(images, references, i);
            if (image.Length != shape.Size || reference.Length != shape.Size)
                throw new ArgumentException($"Image pair {i} has {image.Length} and {reference.Length} values; a {shape} image has {shape.Size}.", nameof(images));
            total += Ssim(image, reference, shape, pixelOrder, dataRange);
        }
        return total / images.Count;
    }

    private static double PsnrFromMse(double mse, double dataRange) =>
        10 * Math.Log10(dataRange * dataRange / Math.Max(mse, PsnrMseFloor));

    /// <summary>Buffers of one SSIM evaluation, reused across channels.</summary>
    private sealed class SsimScratch(int height, int width)
    {
        public readonly double[] Product = new double[height * width];
        public readonly double[] Rows = new double[height * (width - SsimWindow + 1)];
        public readonly double[] MeanA = new double[Positions(height, width)];
        public readonly double[] MeanX = new double[Positions(height, width)];
        public readonly double[] MeanAa = new double[Positions(height, width)];
        public readonly double[] MeanXx = new double[Positions(height, width)];
        public readonly double[] MeanAx = new double[Positions(height, width)];

        private static int Positions(int height, int width) => (height - SsimWindow + 1) * (width - SsimWindow + 1);
    }

    private static double SsimPlane(double[] a, double[] x, int height, int width, double dataRange, SsimScratch s)
    {
        const double n = SsimWindow * SsimWindow;
        const double covNorm = n / (n - 1);
        double c1 = SsimK1 * dataRange * (SsimK1 * dataRange);
        double c2 = SsimK2 * dataRange * (SsimK2 * dataRange);

        WindowMeans(a, height, width, s.Rows, s.MeanA);
        WindowMeans(x, height, width, s.Rows, s.MeanX);
        for (int i = 0; i < a.Length; i++) s.Product[i] = a[i] * a[i];
        WindowMeans(s.Product, height, width, s.Rows, s.MeanAa);
        for (int i = 0; i < x.Length; i++) s.Product[i] = x[i] * x[i];
        WindowMeans(s.Product, height, width, s.Rows, s.MeanXx);
        for (int i = 0; i < a.Length; i++) s.Product[i] = a[i] * x[i];
        WindowMeans(s.Product, height, width, s.Rows, s.MeanAx);

        // Written so that identical images give numerator == denominator bit for bit (2·m·m is exact doubling of m·m).
        double sum = 0;
        for (int p = 0; p < s.MeanA.Length; p++)
        {
            double muA = s.MeanA[p], muX = s.MeanX[p];
            double varA = covNorm * (s.MeanAa[p] - muA * muA);
            double varX = covNorm * (s.MeanXx[p] - muX * muX);
            double cov = covNorm * (s.MeanAx[p] - muA * muX);
            sum += (2 * muA * muX + c1) * (2 * cov + c2) / ((muA * muA + muX * muX + c1) * (varA + varX + c2));
        }
        return sum / s.MeanA.Length;
    }

    /// <summary>
    /// The mean of <paramref name="plane"/> over every fully-inside 7x7 window, row-major ((height − 6) x (width − 6)):
    /// seven-term sums along rows, then along columns (each window summed afresh, no running sums to drift).
    /// </summary>
    private static void WindowMeans(double[] plane, int height, int width, double[] rows, double[] means)
    {
        int outW = width - SsimWindow + 1, outH = height - SsimWindow + 1;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                double sum = 0;
                for (int k = 0; k < SsimWindow; k++) sum += plane[y * width + x + k];
                rows[y * outW + x] = sum;
            }
        }
        const double area = SsimWindow * SsimWindow;
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                double sum = 0;
                for (int k = 0; k < SsimWindow; k++) sum += rows[(y + k) * outW + x];
                means[y * outW + x] = sum / area;
            }
        }
    }

    private static void CopyPlane(ReadOnlySpan<float> image, double[] plane, int channel, ImageShape shape, PixelOrder order)
    {
        if (order == PixelOrder.Planar || shape.Channels == 1)
        {
            var source = image.Slice(channel * plane.Length, plane.Length);
            for (int i = 0; i < plane.Length; i++) plane[i] = source[i];
        }
        else
        {
            for (int i = 0; i < plane.Length; i++) plane[i] = image[i * shape.Channels + channel];
        }
    }

    private static void CheckDataRange(double dataRange)
    {
        if (!(dataRange > 0) || double.IsInfinity(dataRange))
            throw new ArgumentOutOfRangeException(nameof(dataRange), dataRange, "The data range must be a positive finite number (1 for pixels in [0, 1], 255 for bytes).");
    }

    private static void CheckShape(ImageShape shape, PixelOrder pixelOrder, double dataRange)
    {
        ArgumentNullException.ThrowIfNull(shape);
        shape.Validate(nameof(shape));
        if (!Enum.IsDefined(pixelOrder)) throw new ArgumentOutOfRangeException(nameof(pixelOrder), pixelOrder, "Unknown pixel order.");
        CheckDataRange(dataRange);
        if (shape.Height < SsimWindow || shape.Width < SsimWindow)
            throw new ArgumentException($"SSIM needs images of at least {SsimWindow}x{SsimWindow} pixels (its window); got {shape.Height}x{shape.Width}.", nameof(shape));
    }

    private static void CheckSameLength(ReadOnlySpan<float> image, ReadOnlySpan<float> reference)
    {
        if (image.Length != reference.Length)
            throw new ArgumentException($"The image has {image.Length} values but the reference has {reference.Length}; they must match.", nameof(reference));
    }

    private static void CheckPairs(IReadOnlyList<float[]> images, IReadOnlyList<float[]> references)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(references);
        if (images.Count != references.Count)
            throw new ArgumentException($"{images.Count} images but {references.Count} references; they must pair up.", nameof(references));
        if (images.Count == 0)
            throw new ArgumentException("No images: the mean of an empty set is undefined.", nameof(images));
    }

    private static (float[] Image, float[] Reference) Pair(IReadOnlyList<float[]> images, IReadOnlyList<float[]> references, int i) =>
        (images[i] ?? throw new ArgumentNullException(nameof(images), $"Image {i} is null."),
         references[i] ?? throw new ArgumentNullException(nameof(references), $"Reference {i} is null."));
}
