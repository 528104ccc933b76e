using System.Runtime.InteropServices;
using SkiaSharp;

namespace Ml.Autoencoders.Samples;

/// <summary>Writes grids of small grey images (for example originals above reconstructions) as PNG files.</summary>
internal static class ImageGrid
{
    private const int Gap = 2;

    // Tried in order for row labels; the NoDependencies native assets have no fontconfig, so the default
    // typeface may have no glyphs at all on Linux.
    private static readonly string[] FontFiles =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
        "/System/Library/Fonts/Helvetica.ttc",
        "C:\\Windows\\Fonts\\arial.ttf",
    ];

    /// <summary>
    /// Draws each inner list of <paramref name="rows"/> as one row of grey images (0 = black, 1 = white, values clamped)
    /// on a white background with a <c>2</c> px gap, optionally with a label left of each row, and saves it as PNG.
    /// </summary>
    /// <param name="path">Output file; its directory is created if needed.</param>
    /// <param name="rows">Rows of images; each image has <paramref name="height"/> * <paramref name="width"/> values, row-major.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="scale">Each image pixel becomes a <paramref name="scale"/> x <paramref name="scale"/> block.</param>
    /// <param name="rowLabels">Optional text drawn at the left of each row (null entries leave a row unlabelled).</param>
    public static void SaveGreyGrid(
        string path,
        IReadOnlyList<IReadOnlyList<float[]>> rows,
        int height,
        int width,
        int scale = 2,
        IReadOnlyList<string?>? rowLabels = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(scale);
        if (rows.Count == 0)
        {
            throw new ArgumentException("At least one row is needed.", nameof(rows));
        }

        if (rowLabels is not null && rowLabels.Count > rows.Count)
        {
            throw new ArgumentException($"{rowLabels.Count} labels for {rows.Count} rows.", nameof(rowLabels));
        }

        for (int r = 0; r < rows.Count; r++)
        {
            ArgumentNullException.ThrowIfNull(rows[r], $"{nameof(rows)}[{r}]");
            for (int c = 0; c < rows[r].Count; c++)
            {
                float[] image = rows[r][c] ?? throw new ArgumentNullException($"{nameof(rows)}[{r}][{c}]");
                if (image.Length != height * width)
                {
                    throw new ArgumentException(
                        $"Image [{r}][{c}] has {image.Length} values; {height}x{width} needs {height * width}.", nameof(rows));
                }
            }
        }

        int cellW = width * scale;
        int cellH = height * scale;
        int maxCols = Math.Max(1, rows.Max(r => r.Count));

        using var typeface = rowLabels is null ? null : LoadTypeface();
        using var textPaint = new SKPaint
        {
            Color = SKColors.Black,
            IsAntialias = true,
            TextSize = Math.Clamp(cellH * 0.3f, 10f, 24f),
            Typeface = typeface,
        };

        int labelWidth = 0;
        if (rowLabels is not null)
        {
            float widest = rowLabels.Where(l => !string.IsNullOrEmpty(l)).Select(l => textPaint.MeasureText(l)).DefaultIfEmpty(0f).Max();
            labelWidth = widest > 0 ? (int)MathF.Ceiling(widest) + 3 * Gap : 0;
        }

        int imageW = Gap + labelWidth + maxCols * cellW + (maxCols - 1) * Gap + Gap;
        int imageH = Gap + rows.Count * cellH + (rows.Count - 1) * Gap + Gap;

        // Compose the pixels in managed memory, then hand them to Skia in one copy.
        var info = new SKImageInfo(imageW, imageH, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        int rowBytes = bitmap.RowBytes;
        byte[] buffer = new byte[rowBytes * imageH];
        Array.Fill(buffer, (byte)255);

        for (int r = 0; r < rows.Count; r++)
        {
            int top = Gap + r * (cellH + Gap);
            for (int c = 0; c < rows[r].Count; c++)
            {
                int left = Gap + labelWidth + c * (cellW + Gap);
                float[] image = rows[r][c];
                for (int y = 0; y < height; y++)
                {
                    for (int x = 0; x < width; x++)
                    {
                        float v = image[y * width + x];
                        byte g = float.IsNaN(v) ? (byte)0 : (byte)MathF.Round(Math.Clamp(v, 0f, 1f) * 255f);
                        for (int dy = 0; dy < scale; dy++)
                        {
                            int offset = (top + y * scale + dy) * rowBytes + (left + x * scale) * 4;
                            for (int dx = 0; dx < scale; dx++, offset += 4)
                            {
                                buffer[offset] = g;
                                buffer[offset + 1] = g;
                                buffer[offset + 2] = g;
                                buffer[offset + 3] = 255;
                            }
                        }
                    }
                }
            }
        }

        Marshal.Copy(buffer, 0, bitmap.GetPixels(), buffer.Length);
        bitmap.NotifyPixelsChanged();

        if (rowLabels is not null && labelWidth > 0)
        {
            using var canvas = new SKCanvas(bitmap);
            for (int r = 0; r < rowLabels.Count; r++)
            {
                string? label = rowLabels[r];
                if (string.IsNullOrEmpty(label))
                {
                    continue;
                }

                var bounds = new SKRect();
                textPaint.MeasureText(label, ref bounds);
                float top = Gap + r * (cellH + Gap);
                float baseline = top + cellH / 2f - bounds.MidY;
                canvas.DrawText(label, Gap, baseline, textPaint);
            }

            canvas.Flush();
        }

        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        using var skImage = SKImage.FromBitmap(bitmap);
        using var png = skImage.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    /// <summary>
    /// Draws labelled rows of grey images (0 = black, 1 = white, values clamped), one row per entry of
    /// <paramref name="rows"/> with its label at the left (for example noisy / denoised / original), and saves it as PNG.
    /// </summary>
    /// <param name="path">Output file; its directory is created if needed.</param>
    /// <param name="rows">Each row's label (null or empty for none) and images; each image has <paramref name="height"/> * <paramref name="width"/> values, row-major.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="scale">Each image pixel becomes a <paramref name="scale"/> x <paramref name="scale"/> block.</param>
    public static void SaveRows(
        string path,
        IReadOnlyList<(string Label, float[][] Images)> rows,
        int width,
        int height,
        int scale = 2)
    {
        ArgumentNullException.ThrowIfNull(rows);
        for (int r = 0; r < rows.Count; r++)
        {
            ArgumentNullException.ThrowIfNull(rows[r].Images, $"{nameof(rows)}[{r}].Images");
        }

        SaveGreyGrid(
            path,
            rows.Select(r => (IReadOnlyList<float[]>)r.Images).ToArray(),
            height,
            width,
            scale,
            rows.Select(r => (string?)r.Label).ToArray());
    }

    /// <summary>
    /// The first font file found among a few well-known paths, or null for Skia's default typeface (which may have
    /// no glyphs on Linux with the NoDependencies native assets). The caller disposes it.
    /// </summary>
    internal static SKTypeface? LoadTypeface()
    {
        foreach (string file in FontFiles)
        {
            if (File.Exists(file))
            {
                var face = SKTypeface.FromFile(file);
                if (face is not null)
                {
                    return face;
                }
            }
        }

        return null; // Skia's default typeface
    }
}
