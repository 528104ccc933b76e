using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;
using SkiaSharp;
using static Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator;

namespace Ml.Autoencoders.Samples;

/// <summary>One image file as an ML.NET row: its path relative to the image folder and its class.</summary>
public sealed class ImageFileRow
{
    /// <summary>Path of the PNG file, relative to the folder given to <c>LoadImages</c>.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>Class 0..9.</summary>
    public uint Label { get; set; }
}

/// <summary>
/// The classic convolutional denoising autoencoder (the Keras tutorial's net) end to end from image files: Fashion-MNIST
/// written as grey PNG files, then LoadImages -> ResizeImages -> ExtractPixels -> the autoencoder, trained on images with
/// Gaussian noise of factor 0.6 clipped to [0, 1]; noisy test images denoised, judged by PSNR and SSIM, drawn as a grid,
/// and the reconstruction column turned back into images with ConvertToImage.
/// </summary>
internal static class ConvDenoisingSample
{
    private const double NoiseFactor = 0.6;
    private const int TestNoiseSeed = 1234;
    private const int Side = 28;
    private static readonly ImageShape Shape = new(1, Side, Side);

    public static void Run(string[] args)
    {
        var total = Stopwatch.StartNew();
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        string outDir = Path.Combine(SampleData.Arg(args, "--out") ?? "out", "conv-denoising");
        string imageDir = Path.Combine(outDir, "images");
        var ml = new MLContext(seed: 0);

        var clock = Stopwatch.StartNew();
        var trainFiles = ml.Data.LoadFromEnumerable(WritePngs(train, imageDir, "train"));
        var testFiles = ml.Data.LoadFromEnumerable(WritePngs(test, imageDir, "test"));
        Console.WriteLine($"Wrote {train.Count + test.Count:N0} grey PNG files under {Path.GetFullPath(imageDir)} in {clock.Elapsed.TotalSeconds:F1}s.");

        // The classic recipe (the Keras tutorial's net: transposed convolutions, Adam 1e-3), then the preset's default.
        // ml.Transforms.ConvolutionalDenoisingAutoencoder(Shape, NoiseFactor, epochs: epochs, classic: true) is the same
        // estimator; the preset's options are used here to print each epoch as it ends.
        var options = AutoencoderPresets.ConvolutionalDenoising(Shape, NoiseFactor, classic: true);
        options.Epochs = epochs;
        options.Progress = new ConsoleProgress("classic");
        var pixels = ml.Transforms.LoadImages("Image", imageDir, nameof(ImageFileRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", Side, Side))
            .Append(ml.Transforms.ExtractPixels(AutoencoderColumnNames.Features, "Image", ColorBits.Red, scaleImage: 1f / 255));  // grey PNG: red = grey
        var pipeline = pixels.Append(ml.Transforms.Autoencoder(options));
        var model = Fit(pipeline, trainFiles, "classic");
        var autoencoder = model.LastTransformer;

        // The preset's default, as docs/images.md quotes it.
        var betterPipeline = pixels.Append(ml.Transforms.ConvolutionalDenoisingAutoencoder(Shape, NoiseFactor, epochs: epochs));
        var betterAutoencoder = Fit(betterPipeline, trainFiles, "preset default").LastTransformer;

        // The clean test images as the pipeline reads them from their files; noise added here with a fixed seed.
        float[][] clean = model.Transform(testFiles).Column(AutoencoderColumnNames.Features);
        Console.WriteLine($"PNG round trip: largest |pixel from file - pixel from IDX| over the test images = {MaxDifference(clean, test):G3}.");
        float[][] noisy = AddNoise(clean, NoiseFactor, TestNoiseSeed);
        var noisyView = ml.Data.LoadFromEnumerable(noisy.Select((p, i) => new ImageRow { Features = p, Label = (uint)test.Labels[i] }).ToList());
        var denoisedView = autoencoder.Transform(noisyView);
        float[][] denoised = denoisedView.Column(AutoencoderColumnNames.Reconstruction);
        float[][] betterDenoised = betterAutoencoder.Transform(noisyView).Column(AutoencoderColumnNames.Reconstruction);

        Console.WriteLine($"\nAgainst the clean test images ({test.Count:N0}; noise {NoiseFactor} clipped to [0, 1], seed {TestNoiseSeed}):");
        Console.WriteLine($"{"",-26} {"PSNR",9} {"SSIM",7}");
        Console.WriteLine($"{"noisy",-26} {ImageQuality.MeanPsnr(noisy, clean),6:F2} dB {ImageQuality.MeanSsim(noisy, clean, Shape),7:F4}");
        Console.WriteLine($"{"denoised, classic",-26} {ImageQuality.MeanPsnr(denoised, clean),6:F2} dB {ImageQuality.MeanSsim(denoised, clean, Shape),7:F4}");
        Console.WriteLine($"{"denoised, preset default",-26} {ImageQuality.MeanPsnr(betterDenoised, clean),6:F2} dB {ImageQuality.MeanSsim(betterDenoised, clean, Shape),7:F4}");

        var shown = SampleMetrics.FirstOfEachClass(test);
        string png = Path.Combine(outDir, "conv-denoising-rows.png");
        ImageGrid.SaveRows(png, new (string, float[][])[]
        {
            ("noisy", shown.Select(i => noisy[i]).ToArray()),
            ("classic", shown.Select(i => denoised[i]).ToArray()),
            ("default", shown.Select(i => betterDenoised[i]).ToArray()),
            ("original", shown.Select(i => clean[i]).ToArray()),
        }, Side, Side, scale: 3);
        Console.WriteLine($"\nWrote {Path.GetFullPath(png)} (noisy inputs, denoised by the classic net and by the preset default, originals; one test image per class).");
        betterAutoencoder.Model.Dispose();

        string reconstructedDir = Path.Combine(outDir, "reconstructed");
        SaveWithConvertToImage(ml, denoisedView, shown, reconstructedDir);
        Console.WriteLine($"Wrote {shown.Length} denoised images through ConvertToImage to {Path.GetFullPath(reconstructedDir)}.");
        Console.WriteLine($"Total {total.Elapsed.TotalSeconds:F1}s.");
        autoencoder.Model.Dispose();
    }

    /// <summary>Fits the image pipeline and prints the architecture and training speed.</summary>
    private static TransformerChain<AutoencoderTransformer> Fit(IEstimator<TransformerChain<AutoencoderTransformer>> pipeline, IDataView files, string name)
    {
        Console.WriteLine($"\nConvolutional denoising autoencoder ({name}) on {Shape} images, Gaussian noise {NoiseFactor} clipped to [0, 1] in training:");
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(files);
        var autoencoder = model.LastTransformer;
        var options = autoencoder.Options;
        Console.WriteLine($"{options.Loss}, {options.Optimizer} lr {options.LearningRate} {options.LearningRateSchedule}, batch {options.BatchSize}, {options.Epochs} epochs; " +
            $"train loss {autoencoder.History.Epochs[0].TrainLoss:F5} -> {autoencoder.History.Epochs[^1].TrainLoss:F5}");
        Console.WriteLine(autoencoder.Model.Architecture);
        Console.WriteLine($"Fitted in {clock.Elapsed.TotalSeconds:F1}s (image decoding included); training {autoencoder.History.SamplesPerSecond():F0} rows/s over the epochs' own time.");
        return model;
    }

    /// <summary>
    /// The reconstruction column back to images inside ML.NET. ConvertToImage cannot make grey from one plane: the
    /// planes it does not read get constants (a red-only vector gives red images), and with <c>scaleImage</c> other
    /// than 1 it writes alpha 0 unless it reads an alpha plane (fully transparent PNG files). So it gets planar ARGB:
    /// an opaque alpha plane of ones, then the grey plane as red, green and blue, all scaled by 255.
    /// </summary>
    private static void SaveWithConvertToImage(MLContext ml, IDataView denoised, int[] rows, string directory)
    {
        const string planes = "ArgbPlanes", image = "DenoisedImage";
        var toImages = ml.Transforms.Expression("Opaque", "x => 1.0", AutoencoderColumnNames.Reconstruction)
            .Append(ml.Transforms.Concatenate(planes, "Opaque", AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.Reconstruction))
            .Append(ml.Transforms.ConvertToImage(Side, Side, image, planes, ColorBits.All, ColorsOrder.ARGB, interleavedColors: false, scaleImage: 255));
        var images = toImages.Fit(denoised).Transform(denoised);

        Directory.CreateDirectory(directory);
        var wanted = rows.ToHashSet();
        using var cursor = images.GetRowCursor(images.Schema.Where(c => c.Name == image));
        var getImage = cursor.GetGetter<MLImage>(images.Schema[image]);
        while (cursor.MoveNext())
        {
            if (!wanted.Contains((int)cursor.Position)) continue;
            MLImage bitmap = null!; // the getter makes a new image on each call; we own and dispose it
            getImage(ref bitmap);
            using (bitmap)
            {
                bitmap.Save(Path.Combine(directory, $"{cursor.Position:D5}.png"));
            }
        }
    }

    /// <summary>Writes each image of <paramref name="split"/> as an 8-bit grey PNG file <c>{set}/NNNNN.png</c> under <paramref name="root"/>.</summary>
    private static List<ImageFileRow> WritePngs(FashionMnistSplit split, string root, string set)
    {
        Directory.CreateDirectory(Path.Combine(root, set));
        var info = new SKImageInfo(split.Width, split.Height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var bytes = new byte[bitmap.RowBytes * split.Height];
        var rows = new List<ImageFileRow>(split.Count);
        for (int i = 0; i < split.Count; i++)
        {
            float[] pixels = split.Row(i);
            for (int y = 0; y < split.Height; y++)
                for (int x = 0; x < split.Width; x++)
                    bytes[y * bitmap.RowBytes + x] = (byte)MathF.Round(Math.Clamp(pixels[y * split.Width + x], 0f, 1f) * 255f);
            Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
            bitmap.NotifyPixelsChanged();

            string relative = Path.Combine(set, $"{i:D5}.png");
            using (var data = bitmap.Encode(SKEncodedImageFormat.Png, 100))
            using (var file = File.Create(Path.Combine(root, relative)))
            {
                data.SaveTo(file);
            }
            rows.Add(new ImageFileRow { ImagePath = relative, Label = (uint)split.Labels[i] });
        }
        return rows;
    }

    /// <summary>x + factor·N(0, 1) clipped to [0, 1] for every pixel (System.Random and Box-Muller, fixed seed).</summary>
    private static float[][] AddNoise(float[][] images, double factor, int seed)
    {
        var random = new Random(seed);
        return images.Select(image => image.Select(v =>
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return (float)Math.Clamp(v + factor * gaussian, 0, 1);
        }).ToArray()).ToArray();
    }

    private static double MaxDifference(float[][] images, FashionMnistSplit split) =>
        images.Select((image, i) => image.Zip(split.Row(i), (a, b) => Math.Abs((double)a - b)).Max()).Max();
}
