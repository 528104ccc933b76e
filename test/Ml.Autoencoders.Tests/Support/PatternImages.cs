using Ml.Autoencoders.Networks;
using SkiaSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Small images of one simple pattern: a bright rectangle (a square, or a bar across the image) in one of a few
/// places and colours on a dark background. Few enough distinct images that a tiny convolutional autoencoder learns
/// them all in a few epochs; different enough that predicting the mean image is poor.
/// </summary>
internal static class PatternImages
{
    private const float Background = 0.08f;

    private static readonly (float R, float G, float B)[] Colours =
    {
        (1f, 0.2f, 0.2f), (0.2f, 1f, 0.2f), (0.3f, 0.3f, 1f), (1f, 1f, 1f), (1f, 1f, 0.2f), (0.2f, 0.9f, 0.9f), (0.9f, 0.3f, 0.9f), (0.6f, 0.6f, 0.6f),
    };

    /// <summary>Where pattern <paramref name="index"/> lies, as fractions of the height and width: four squares, a centre square, two bars.</summary>
    private static (double Top, double Left, double Bottom, double Right) Place(int index) => (index % 7) switch
    {
        0 => (0, 0, 0.45, 0.45),
        1 => (0, 0.55, 0.45, 1),
        2 => (0.55, 0, 1, 0.45),
        3 => (0.55, 0.55, 1, 1),
        4 => (0.3, 0.3, 0.7, 0.7),
        5 => (0.35, 0, 0.65, 1),
        _ => (0, 0.35, 1, 0.65),
    };

    /// <summary>Pattern <paramref name="index"/>'s rectangle in pixels of an image of <paramref name="height"/> x <paramref name="width"/> (end exclusive, never empty).</summary>
    private static (int Top, int Left, int Bottom, int Right) Pixels(int index, int height, int width)
    {
        var (t, l, b, r) = Place(index);
        int top = (int)Math.Round(t * height), left = (int)Math.Round(l * width);
        return (top, left, Math.Max(top + 1, (int)Math.Round(b * height)), Math.Max(left + 1, (int)Math.Round(r * width)));
    }

    /// <summary>
    /// <paramref name="count"/> images of <paramref name="shape"/> in planar order (channel by channel), values in [0, 1]:
    /// image i has place i % 7 and colour (i / 7) % 8; one channel takes the colour's red value.
    /// </summary>
    public static float[][] Planar(ImageShape shape, int count)
    {
        var images = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var image = images[i] = new float[shape.Size];
            Array.Fill(image, Background);
            var colour = Colours[i / 7 % Colours.Length];
            var (top, left, bottom, right) = Pixels(i, shape.Height, shape.Width);
            for (int c = 0; c < shape.Channels; c++)
            {
                float value = c switch { 0 => colour.R, 1 => colour.G, _ => colour.B };
                for (int y = top; y < bottom; y++)
                    for (int x = left; x < right; x++) image[(c * shape.Height + y) * shape.Width + x] = value;
            }
        }
        return images;
    }

    /// <summary>Writes the images of <see cref="Planar"/> (three channels) as RGB PNG files; returns their file names.</summary>
    public static string[] WritePngs(string folder, int height, int width, int count)
    {
        var images = Planar(new ImageShape(3, height, width), count);
        var names = new string[count];
        for (int i = 0; i < count; i++)
        {
            using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    byte Channel(int c) => (byte)Math.Round(255 * images[i][(c * height + y) * width + x]);
                    bitmap.SetPixel(x, y, new SKColor(Channel(0), Channel(1), Channel(2)));
                }
            names[i] = $"pattern{i:D3}.png";
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            using var file = File.Create(Path.Combine(folder, names[i]));
            data.SaveTo(file);
        }
        return names;
    }

    /// <summary>A planar (CHW) image in interleaved (HWC) order.</summary>
    public static float[] ToInterleaved(float[] planar, ImageShape shape)
    {
        var interleaved = new float[planar.Length];
        for (int c = 0; c < shape.Channels; c++)
            for (int p = 0; p < shape.Height * shape.Width; p++) interleaved[p * shape.Channels + c] = planar[c * shape.Height * shape.Width + p];
        return interleaved;
    }

    /// <summary>Mean squared difference between two sets of rows, over every value.</summary>
    public static double MeanSquaredError(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < a.Count; i++)
            for (int j = 0; j < a[i].Length; j++, n++) sum += (a[i][j] - b[i][j]) * (double)(a[i][j] - b[i][j]);
        return sum / n;
    }

    /// <summary>Mean squared error of predicting every row by the mean row: the error of a model that learned nothing about the rows.</summary>
    public static double MeanImageError(IReadOnlyList<float[]> rows)
    {
        var mean = new float[rows[0].Length];
        foreach (var row in rows)
            for (int j = 0; j < mean.Length; j++) mean[j] += row[j] / rows.Count;
        return MeanSquaredError(rows, rows.Select(_ => mean).ToArray());
    }
}
