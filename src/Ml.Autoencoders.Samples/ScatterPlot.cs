using System.Globalization;
using SkiaSharp;

namespace Ml.Autoencoders.Samples;

/// <summary>Writes 2-d scatter plots of points coloured by class (for example a 2-d code space) as PNG files.</summary>
internal static class ScatterPlot
{
    // matplotlib's tab10 palette: ten colours that stay distinct from each other.
    private static readonly SKColor[] Palette =
    [
        new(0x1f, 0x77, 0xb4), new(0xff, 0x7f, 0x0e), new(0x2c, 0xa0, 0x2c), new(0xd6, 0x27, 0x28), new(0x94, 0x67, 0xbd),
        new(0x8c, 0x56, 0x4b), new(0xe3, 0x77, 0xc2), new(0x7f, 0x7f, 0x7f), new(0xbc, 0xbd, 0x22), new(0x17, 0xbe, 0xcf),
    ];

    private const float LowPercentile = 0.005f;
    private const float HighPercentile = 0.995f;
    private const float Padding = 0.05f;

    /// <summary>
    /// Draws the points (<paramref name="xs"/>[i], <paramref name="ys"/>[i]) as small semi-transparent dots coloured by
    /// <paramref name="labels"/>[i] (tab10 palette, repeated beyond ten classes), with a framed axis area, grid lines and
    /// round-valued ticks on both axes, <paramref name="title"/> at the top and a legend of <paramref name="classNames"/>
    /// at the right, and saves it as PNG.
    /// </summary>
    /// <remarks>
    /// Each axis shows the 0.5th..99.5th percentile range of its values padded by 5% on both sides, so a few outliers do
    /// not squash the plot; points outside are left out (dots on the border are clipped), as are non-finite points.
    /// The plot area is about <paramref name="size"/> x <paramref name="size"/> pixels; the legend widens the image.
    /// </remarks>
    /// <param name="path">Output file; its directory is created if needed.</param>
    /// <param name="xs">Horizontal coordinates.</param>
    /// <param name="ys">Vertical coordinates; as many as <paramref name="xs"/>.</param>
    /// <param name="labels">Class index of each point, in [0, <paramref name="classNames"/>.Count); as many as <paramref name="xs"/>.</param>
    /// <param name="classNames">Legend text of each class.</param>
    /// <param name="title">Text drawn centred above the plot.</param>
    /// <param name="size">Image height in pixels (at least 200; more if a long legend needs it); the text scales with it.</param>
    /// <exception cref="ArgumentException">The arrays differ in length, a label is outside <paramref name="classNames"/>, or <paramref name="classNames"/> is empty.</exception>
    public static void Save(
        string path,
        float[] xs,
        float[] ys,
        int[] labels,
        IReadOnlyList<string> classNames,
        string title,
        int size = 900)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(xs);
        ArgumentNullException.ThrowIfNull(ys);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(title);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 200);
        if (ys.Length != xs.Length || labels.Length != xs.Length)
        {
            throw new ArgumentException(
                $"xs, ys and labels must have the same length; got {xs.Length}, {ys.Length} and {labels.Length}.", nameof(labels));
        }

        if (classNames.Count == 0)
        {
            throw new ArgumentException("At least one class name is needed.", nameof(classNames));
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classNames.Count)
            {
                throw new ArgumentException(
                    $"labels[{i}] = {labels[i]} is outside the {classNames.Count} class names (valid: 0..{classNames.Count - 1}).",
                    nameof(labels));
            }
        }

        var finite = Enumerable.Range(0, xs.Length).Where(i => float.IsFinite(xs[i]) && float.IsFinite(ys[i])).ToArray();
        var (xMin, xMax) = DataRange(finite.Select(i => xs[i]));
        var (yMin, yMax) = DataRange(finite.Select(i => ys[i]));
        var (xTicks, xDecimals) = Ticks(xMin, xMax);
        var (yTicks, yDecimals) = Ticks(yMin, yMax);

        float k = size / 900f;
        using var typeface = ImageGrid.LoadTypeface();
        using var titlePaint = TextPaint(typeface, MathF.Max(16f, 22f * k));
        titlePaint.FakeBoldText = true;
        using var tickPaint = TextPaint(typeface, MathF.Max(12f, 15f * k));
        using var legendPaint = TextPaint(typeface, MathF.Max(12f, 16f * k));

        // A real minus sign where a font file was found (Skia's default typeface may lack it).
        string minus = typeface is null ? "-" : "\u2212";
        string[] xLabels = xTicks.Select(t => Format(t, xDecimals, minus)).ToArray();
        string[] yLabels = yTicks.Select(t => Format(t, yDecimals, minus)).ToArray();
        float tickLen = 6f * k;
        float widestY = yLabels.Select(l => tickPaint.MeasureText(l)).DefaultIfEmpty(0f).Max();
        float widestName = classNames.Select(n => legendPaint.MeasureText(n ?? "")).Max();
        float swatch = 6f * k;
        float lineH = legendPaint.TextSize * 1.6f;

        float firstX = xLabels.Length > 0 && xTicks[0] - xMin < (xMax - xMin) * 0.05 ? tickPaint.MeasureText(xLabels[0]) / 2f : 0f;
        float left = MathF.Ceiling(MathF.Max(16f * k + widestY + tickLen + 6f * k, 8f * k + firstX));
        float top = MathF.Ceiling(24f * k + titlePaint.TextSize * 1.4f);
        float bottom = MathF.Ceiling(20f * k + tickPaint.TextSize * 1.3f + tickLen);
        float plotSide = size - top - bottom;
        float legendLeft = left + plotSide + 24f * k;
        float legendPad = 12f * k;
        float legendW = legendPad * 3 + 2 * swatch + widestName;
        int imageW = (int)MathF.Ceiling(legendLeft + legendW + 20f * k);
        float legendH = legendPad * 2 + lineH * classNames.Count;
        int imageH = (int)MathF.Max(size, MathF.Ceiling(top + legendH + 20f * k)); // a long legend lengthens the image
        var plot = new SKRect(left, top, left + plotSide, top + plotSide);

        float MapX(double x) => (float)(plot.Left + (x - xMin) / (xMax - xMin) * plot.Width);
        float MapY(double y) => (float)(plot.Bottom - (y - yMin) / (yMax - yMin) * plot.Height);

        var info = new SKImageInfo(imageW, imageH, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);

        // Grid lines at the ticks, under the points.
        using (var gridPaint = new SKPaint { Color = new SKColor(0xe6, 0xe6, 0xe6), StrokeWidth = 1f, IsAntialias = false })
        {
            foreach (double t in xTicks)
            {
                float x = MathF.Round(MapX(t)) + 0.5f;
                canvas.DrawLine(x, plot.Top, x, plot.Bottom, gridPaint);
            }

            foreach (double t in yTicks)
            {
                float y = MathF.Round(MapY(t)) + 0.5f;
                canvas.DrawLine(plot.Left, y, plot.Right, y, gridPaint);
            }
        }

        // Points, in the given order (so no class systematically hides another), clipped to the plot area.
        canvas.Save();
        canvas.ClipRect(plot);
        var dotPaints = classNames.Select((_, c) => new SKPaint
        {
            Color = Palette[c % Palette.Length].WithAlpha(130),
            IsAntialias = true,
            Style = SKPaintStyle.Fill,
        }).ToArray();
        try
        {
            float radius = 2f * MathF.Max(1f, k);
            double xLo = xMin - (xMax - xMin) * 0.01, xHi = xMax + (xMax - xMin) * 0.01;
            double yLo = yMin - (yMax - yMin) * 0.01, yHi = yMax + (yMax - yMin) * 0.01;
            foreach (int i in finite)
            {
                if (xs[i] < xLo || xs[i] > xHi || ys[i] < yLo || ys[i] > yHi)
                {
                    continue;
                }

                canvas.DrawCircle(MapX(xs[i]), MapY(ys[i]), radius, dotPaints[labels[i]]);
            }
        }
        finally
        {
            foreach (var p in dotPaints)
            {
                p.Dispose();
            }
        }

        canvas.Restore();

        // Frame, ticks and tick labels.
        using var axisPaint = new SKPaint { Color = new SKColor(0x33, 0x33, 0x33), StrokeWidth = MathF.Max(1f, k), IsAntialias = true, Style = SKPaintStyle.Stroke };
        canvas.DrawRect(plot, axisPaint);
        var bounds = new SKRect();
        for (int i = 0; i < xTicks.Length; i++)
        {
            float x = MapX(xTicks[i]);
            canvas.DrawLine(x, plot.Bottom, x, plot.Bottom + tickLen, axisPaint);
            tickPaint.MeasureText(xLabels[i], ref bounds);
            canvas.DrawText(xLabels[i], x - bounds.MidX, plot.Bottom + tickLen + 4f * k - bounds.Top, tickPaint);
        }

        for (int i = 0; i < yTicks.Length; i++)
        {
            float y = MapY(yTicks[i]);
            canvas.DrawLine(plot.Left - tickLen, y, plot.Left, y, axisPaint);
            tickPaint.MeasureText(yLabels[i], ref bounds);
            canvas.DrawText(yLabels[i], plot.Left - tickLen - 5f * k - bounds.Right, y - bounds.MidY, tickPaint);
        }

        // Title, centred over the plot area (or the whole image if it is wider than the plot).
        titlePaint.MeasureText(title, ref bounds);
        float titleX = bounds.Width <= plot.Width ? plot.MidX - bounds.MidX : MathF.Max(4f, (imageW - bounds.Width) / 2f - bounds.Left);
        canvas.DrawText(title, titleX, (top - bounds.Height) / 2f - bounds.Top, titlePaint);

        // Legend: one opaque swatch and name per class, in a light box at the right of the plot.
        var legendBox = new SKRect(legendLeft, plot.Top, legendLeft + legendW, plot.Top + legendH);
        using (var boxFill = new SKPaint { Color = new SKColor(0xfa, 0xfa, 0xfa), Style = SKPaintStyle.Fill })
        using (var boxEdge = new SKPaint { Color = new SKColor(0xcc, 0xcc, 0xcc), Style = SKPaintStyle.Stroke, StrokeWidth = 1f, IsAntialias = true })
        {
            canvas.DrawRoundRect(legendBox, 4f * k, 4f * k, boxFill);
            canvas.DrawRoundRect(legendBox, 4f * k, 4f * k, boxEdge);
        }

        using (var swatchPaint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill })
        {
            legendPaint.MeasureText("Ag", ref bounds);
            for (int c = 0; c < classNames.Count; c++)
            {
                float cy = legendBox.Top + legendPad + lineH * (c + 0.5f);
                swatchPaint.Color = Palette[c % Palette.Length];
                canvas.DrawCircle(legendBox.Left + legendPad + swatch, cy, swatch, swatchPaint);
                canvas.DrawText(classNames[c] ?? "", legendBox.Left + legendPad * 2 + swatch * 2, cy - bounds.MidY, legendPaint);
            }
        }

        canvas.Flush();

        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    private static SKPaint TextPaint(SKTypeface? typeface, float textSize) => new()
    {
        Color = new SKColor(0x22, 0x22, 0x22),
        IsAntialias = true,
        TextSize = textSize,
        Typeface = typeface,
    };

    // The 0.5th..99.5th percentile range padded by 5% each side; a unit range around the value when all are equal.
    private static (double Min, double Max) DataRange(IEnumerable<float> values)
    {
        double[] sorted = values.Select(v => (double)v).Order().ToArray();
        if (sorted.Length == 0)
        {
            return (0, 1);
        }

        double lo = Percentile(sorted, LowPercentile);
        double hi = Percentile(sorted, HighPercentile);
        double span = hi - lo;
        if (!(span > 0))
        {
            double half = Math.Max(Math.Abs(lo) * 0.1, 0.5);
            return (lo - half, lo + half);
        }

        return (lo - span * Padding, hi + span * Padding);
    }

    private static double Percentile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int i = (int)Math.Floor(pos);
        int j = Math.Min(i + 1, sorted.Length - 1);
        return sorted[i] + (sorted[j] - sorted[i]) * (pos - i);
    }

    // Ticks at a round step (1, 2 or 5 times a power of ten) giving about six ticks inside [min, max].
    private static (double[] Ticks, int Decimals) Ticks(double min, double max)
    {
        double raw = (max - min) / 6;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double fraction = raw / magnitude;
        double nice = fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10;
        double step = nice * magnitude;
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));

        var ticks = new List<double>();
        for (long n = (long)Math.Ceiling(min / step - 1e-9); n * step <= max + step * 1e-9; n++)
        {
            double t = n * step;
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        }

        return (ticks.ToArray(), decimals);
    }

    private static string Format(double value, int decimals, string minus)
    {
        string text = Math.Abs(value).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return value < 0 ? minus + text : text;
    }
}
