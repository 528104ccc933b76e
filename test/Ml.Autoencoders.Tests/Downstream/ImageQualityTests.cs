using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Networks;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// PSNR and SSIM as the convolutional denoising benchmark defines them (bench/reference/conv_denoise.py): the cap,
/// hand-checkable values, agreement with the Python reference and with a naive loop, channels, and refused input.
/// </summary>
[TestClass]
public sealed class ImageQualityTests
{
    /// <summary>Identical images: SSIM is exactly 1 and PSNR sits at the cap 10·log10(1 / 1e-10) = 100 dB.</summary>
    [TestMethod]
    public void IdenticalImagesGiveSsimOneAndPsnrAtTheCap()
    {
        float[] image = RandomImage(28, 28, seed: 1);
        Assert.AreEqual(1.0, ImageQuality.Ssim(image, image, 28, 28));
        Assert.AreEqual(100.0, ImageQuality.Psnr(image, image), 1e-12);
        Assert.AreEqual(1.0, ImageQuality.Ssim(new float[49], new float[49], 7, 7), "flat images: both variances 0, C2 / C2");
    }

    /// <summary>A constant offset of 0.1 everywhere: MSE 0.01, PSNR 10·log10(1 / 0.01) = 20 dB (to float precision of 0.1f).</summary>
    [TestMethod]
    public void ConstantOffsetOfOneTenthIsTwentyDecibels()
    {
        float[] reference = RandomImage(28, 28, seed: 2, max: 0.9f);
        float[] image = reference.Select(v => v + 0.1f).ToArray();
        Assert.AreEqual(20.0, ImageQuality.Psnr(image, reference), 1e-5);
        Assert.AreEqual(20.0, ImageQuality.Psnr(new float[784].Select(_ => 0.1f).ToArray(), new float[784]), 1e-6);
        Assert.AreEqual(20.0, ImageQuality.Psnr(new float[] { 25.5f }, new float[] { 0 }, dataRange: 255), 1e-6, "the range scales the peak");
    }

    /// <summary>
    /// Fixed 9x12 arrays against psnr_per_image / ssim_per_image of bench/reference/conv_denoise.py (torch 1.13, float64 from
    /// float32 pixels): a = ((37i + 11) mod 101) / 100 and x = ((53i + 7) mod 97) / 96; then a ramp x and a = x plus a small
    /// clipped pattern. A non-square image, so rows and columns cannot be swapped unnoticed.
    /// </summary>
    [TestMethod]
    public void MatchesThePythonReferenceOnFixedArrays()
    {
        const int h = 9, w = 12;
        var (a, x) = Patterns(h, w);
        Assert.AreEqual(8.094065086299738, ImageQuality.Psnr(a, x), 1e-11);
        Assert.AreEqual(0.2114431685555383, ImageQuality.Ssim(a, x, h, w), 1e-12);

        var (a2, x2) = RampWithPattern(h, w);
        Assert.AreEqual(23.32257682168958, ImageQuality.Psnr(a2, x2), 1e-11);
        Assert.AreEqual(0.9542992792336281, ImageQuality.Ssim(a2, x2, h, w), 1e-12);
    }

    /// <summary>The library's window sums agree with a naive two-pass loop (mean, then centred sums) at every valid position.</summary>
    [TestMethod]
    [DataRow(7, 7)]
    [DataRow(10, 11)]
    [DataRow(28, 28)]
    public void SsimMatchesANaiveWindowLoop(int height, int width)
    {
        float[] x = RandomImage(height, width, seed: 3);
        float[] a = AddNoise(x, 0.2, seed: 4);
        Assert.AreEqual(NaiveSsim(a, x, height, width), ImageQuality.Ssim(a, x, height, width), 1e-12);
    }

    /// <summary>More noise, lower SSIM and PSNR (fixed seeds; Gaussian noise clipped to [0, 1] as in the denoising benchmark).</summary>
    [TestMethod]
    public void SsimAndPsnrFallAsNoiseGrows()
    {
        float[] clean = SmoothImage(28, 28);
        double previousSsim = 1, previousPsnr = 100;
        foreach (double factor in new[] { 0.02, 0.1, 0.3, 0.6 })
        {
            float[] noisy = AddNoise(clean, factor, seed: 5);
            double ssim = ImageQuality.Ssim(noisy, clean, 28, 28);
            double psnr = ImageQuality.Psnr(noisy, clean);
            Assert.IsLessThan(previousSsim, ssim, $"SSIM at noise {factor}");
            Assert.IsLessThan(previousPsnr, psnr, $"PSNR at noise {factor}");
            previousSsim = ssim;
            previousPsnr = psnr;
        }
    }

    /// <summary>Several channels: the mean of the per-channel SSIM, the same whether the pixels are planar or interleaved.</summary>
    [TestMethod]
    public void ChannelsAreAveragedInEitherPixelOrder()
    {
        const int h = 9, w = 12;
        var (a, x) = Patterns(h, w);
        var (a2, x2) = RampWithPattern(h, w);
        float[] planarA = [.. a, .. a2, .. x];
        float[] planarX = [.. x, .. x2, .. x];
        var shape = new ImageShape(3, h, w);
        double expected = (ImageQuality.Ssim(a, x, h, w) + ImageQuality.Ssim(a2, x2, h, w) + 1) / 3;

        Assert.AreEqual(expected, ImageQuality.Ssim(planarA, planarX, shape, PixelOrder.Planar), 1e-15);
        Assert.AreEqual(0.7219141492630555, ImageQuality.Ssim(planarA, planarX, shape), 1e-12, "Python reference, mean of the three channels");
        Assert.AreEqual(expected, ImageQuality.Ssim(Interleave(planarA, 3), Interleave(planarX, 3), shape, PixelOrder.Interleaved), 1e-15);
    }

    /// <summary>The mean helpers average the per-image values (PSNR per image first, then the mean).</summary>
    [TestMethod]
    public void MeanHelpersAverageThePerImageValues()
    {
        const int h = 9, w = 12;
        var (a, x) = Patterns(h, w);
        var (a2, x2) = RampWithPattern(h, w);
        float[][] images = [a, a2], references = [x, x2];
        var shape = new ImageShape(1, h, w);
        Assert.AreEqual((8.094065086299738 + 23.32257682168958) / 2, ImageQuality.MeanPsnr(images, references), 1e-11);
        Assert.AreEqual((0.2114431685555383 + 0.9542992792336281) / 2, ImageQuality.MeanSsim(images, references, shape), 1e-12);
    }

    /// <summary>Images and references of different lengths or counts are refused with a message that gives both sizes.</summary>
    [TestMethod]
    public void MismatchedLengthsThrow()
    {
        float[] image = new float[784], shorter = new float[783];
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Psnr(image, shorter)).Message, "783");
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Ssim(image, shorter, 28, 28));
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Ssim(shorter, shorter, 28, 28));
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Ssim(image, image, new ImageShape(3, 28, 28)));
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.MeanPsnr([image, image], [image]));
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.MeanSsim([image], [shorter], new ImageShape(1, 28, 28)));
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.MeanPsnr([], []));
    }

    /// <summary>SSIM needs room for one 7x7 window; a bad data range is refused too.</summary>
    [TestMethod]
    public void ImagesSmallerThanTheWindowAndBadRangesThrow()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Ssim(new float[42], new float[42], 6, 7)).Message, "7x7");
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Ssim(new float[42], new float[42], 7, 6));
        Assert.ThrowsExactly<ArgumentException>(() => ImageQuality.Ssim(new float[42], new float[42], new ImageShape(1, 6, 7)));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ImageQuality.Psnr(new float[4], new float[4], dataRange: 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ImageQuality.Ssim(new float[49], new float[49], 7, 7, dataRange: double.NaN));
    }

    private static (float[] A, float[] X) Patterns(int h, int w) =>
        (Enumerable.Range(0, h * w).Select(i => (float)((i * 37 + 11) % 101 / 100.0)).ToArray(),
         Enumerable.Range(0, h * w).Select(i => (float)((i * 53 + 7) % 97 / 96.0)).ToArray());

    private static (float[] A, float[] X) RampWithPattern(int h, int w)
    {
        int n = h * w;
        var x = new float[n];
        var a = new float[n];
        for (int r = 0; r < h; r++)
        {
            for (int c = 0; c < w; c++)
            {
                double ramp = (r * w + c) / (double)(n - 1);
                x[r * w + c] = (float)ramp;
                a[r * w + c] = (float)Math.Clamp(ramp + 0.05 * ((r * 7 + c * 3) % 5 - 2), 0, 1);
            }
        }
        return (a, x);
    }

    private static float[] RandomImage(int h, int w, int seed, float max = 1f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, h * w).Select(_ => (float)random.NextDouble() * max).ToArray();
    }

    private static float[] SmoothImage(int h, int w) =>
        Enumerable.Range(0, h * w).Select(i => (float)(0.5 + 0.4 * Math.Sin(i / w * 0.5) * Math.Cos(i % w * 0.3))).ToArray();

    private static float[] AddNoise(float[] image, double factor, int seed)
    {
        var random = new Random(seed);
        return image.Select(v =>
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return (float)Math.Clamp(v + factor * gaussian, 0, 1);
        }).ToArray();
    }

    private static float[] Interleave(float[] planar, int channels)
    {
        int plane = planar.Length / channels;
        var interleaved = new float[planar.Length];
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < plane; i++)
                interleaved[i * channels + c] = planar[c * plane + i];
        return interleaved;
    }

    /// <summary>SSIM straight from its definition: per window, the means, then centred sums over the 49 pixels divided by 48.</summary>
    private static double NaiveSsim(float[] a, float[] x, int h, int w)
    {
        const int k = 7;
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        double total = 0;
        int positions = 0;
        for (int top = 0; top + k <= h; top++)
        {
            for (int left = 0; left + k <= w; left++)
            {
                double muA = 0, muX = 0;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++)
                    {
                        muA += a[(top + dy) * w + left + dx];
                        muX += x[(top + dy) * w + left + dx];
                    }
                muA /= k * k;
                muX /= k * k;
                double varA = 0, varX = 0, cov = 0;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++)
                    {
                        double da = a[(top + dy) * w + left + dx] - muA, dxv = x[(top + dy) * w + left + dx] - muX;
                        varA += da * da;
                        varX += dxv * dxv;
                        cov += da * dxv;
                    }
                varA /= k * k - 1;
                varX /= k * k - 1;
                cov /= k * k - 1;
                total += (2 * muA * muX + c1) * (2 * cov + c2) / ((muA * muA + muX * muX + c1) * (varA + varX + c2));
                positions++;
            }
        }
        return total / positions;
    }
}
