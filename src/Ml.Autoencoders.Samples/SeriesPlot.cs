using System.Globalization;
using Ml.Autoencoders.SampleData;
using SkiaSharp;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// Draws a series with its per-point anomaly scores as a PNG: one band per stretch of <c>secondsPerRow</c> seconds, each
/// with the series (planted anomalies shaded and named, flagged points in red) above its score (log scale, threshold dashed).
/// </summary>
internal static class SeriesPlot
{
    private static readonly SKColor Shade = new(0xff, 0xd8, 0xa8), SeriesColor = new(0x30, 0x30, 0x30), Flag = new(0xd6, 0x27, 0x28),
        ScoreColor = new(0x1f, 0x77, 0xb4), Grid = new(0xe6, 0xe6, 0xe6), Axis = new(0x55, 0x55, 0x55);

    /// <param name="path">The PNG file.</param>
    /// <param name="series">The values (one per step).</param>
    /// <param name="scores">The per-point scores; NaN where none.</param>
    /// <param name="flagged">Points flagged as anomalous.</param>
    /// <param name="anomalies">The planted anomalies (shaded).</param>
    /// <param name="threshold">The score threshold (dashed line).</param>
    /// <param name="sampleRate">Steps per second.</param>
    /// <param name="startSeconds">Time of step 0, for the axis labels.</param>
    /// <param name="title">The title line.</param>
    /// <param name="secondsPerRow">Seconds per band.</param>
    public static void Save(string path, float[] series, float[] scores, bool[] flagged, IReadOnlyList<InjectedAnomaly> anomalies, double threshold,
        double sampleRate, double startSeconds, string title, double secondsPerRow = 30)
    {
        int perRow = (int)Math.Round(secondsPerRow * sampleRate), rows = (series.Length + perRow - 1) / perRow;
        const float left = 70, right = 20, top = 70, seriesH = 170, scoreH = 90, gap = 8, rowGap = 44;
        float scale = Math.Max(1f, 1500f / perRow);
        int width = (int)(left + perRow * scale + right), height = (int)(top + rows * (seriesH + gap + scoreH + rowGap));
        using var typeface = ImageGrid.LoadTypeface();
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true, TextSize = 15, Typeface = typeface };
        using var small = new SKPaint { Color = new SKColor(0x80, 0x40, 0x00), IsAntialias = true, TextSize = 12, Typeface = typeface };
        using var titlePaint = new SKPaint { Color = SKColors.Black, IsAntialias = true, TextSize = 18, Typeface = typeface, FakeBoldText = true };
        using var line = new SKPaint { Color = SeriesColor, StrokeWidth = 1.2f, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var scoreLine = new SKPaint { Color = ScoreColor, StrokeWidth = 1.2f, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var shade = new SKPaint { Color = Shade, Style = SKPaintStyle.Fill };
        using var flag = new SKPaint { Color = Flag, Style = SKPaintStyle.Fill, IsAntialias = true };
        using var grid = new SKPaint { Color = Grid, StrokeWidth = 1 };
        using var axis = new SKPaint { Color = Axis, StrokeWidth = 1, Style = SKPaintStyle.Stroke };
        using var dashed = new SKPaint { Color = Flag, StrokeWidth = 1.2f, Style = SKPaintStyle.Stroke, PathEffect = SKPathEffect.CreateDash([6, 4], 0) };

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        canvas.DrawText(title, left, 28, titlePaint);
        canvas.DrawText("shaded: planted anomaly (named);  red dots: points whose score is above the threshold;  lower panel: per-point score, log scale, threshold dashed",
            left, 52, text);

        float lo = series.Min(), hi = series.Max();
        var finiteScores = scores.Where(s => float.IsFinite(s) && s > 0).ToArray();
        double scoreLo = Math.Log10(DetectionMetrics.Quantile(finiteScores, 0.01)), scoreHi = Math.Log10(finiteScores.Max());
        scoreLo = Math.Min(scoreLo, Math.Log10(threshold) - 0.5);
        scoreHi = Math.Max(scoreHi, Math.Log10(threshold) + 0.5);
        for (int r = 0; r < rows; r++)
        {
            int first = r * perRow, last = Math.Min(series.Length, first + perRow);
            float y0 = top + r * (seriesH + gap + scoreH + rowGap), s0 = y0 + seriesH + gap;
            float X(int t) => left + (t - first + 0.5f) * scale;
            float Y(float v) => y0 + seriesH - 4 - (v - lo) / (hi - lo) * (seriesH - 8);
            float S(float v) => s0 + scoreH - (float)((Math.Log10(Math.Max(v, 1e-12)) - scoreLo) / (scoreHi - scoreLo)) * scoreH;

            // Time grid every 5 seconds, labelled under the score panel.
            int every = (int)Math.Round(5 * sampleRate);
            for (int t = first + (every - first % every) % every; t < last; t += every)
            {
                canvas.DrawLine(X(t), y0, X(t), s0 + scoreH, grid);
                string label = (startSeconds + t / sampleRate).ToString("0", CultureInfo.InvariantCulture) + " s";
                canvas.DrawText(label, X(t) - text.MeasureText(label) / 2, s0 + scoreH + 17, text);
            }
            foreach (var a in anomalies.Where(a => a.Start < last && a.Start + a.Length > first))
            {
                float xa = X(Math.Max(a.Start, first)) - scale / 2, xb = X(Math.Min(a.Start + a.Length, last) - 1) + scale / 2;
                xa -= Math.Max(0, 4 - (xb - xa)) / 2;
                xb = Math.Max(xb, xa + 4); // a one-step spike stays visible
                canvas.DrawRect(new SKRect(xa, y0, xb, s0 + scoreH), shade);
                canvas.DrawText(a.Kind, Math.Min(xa, left + (last - first) * scale - small.MeasureText(a.Kind)), y0 + 12, small);
            }
            using (var pathSeries = new SKPath())
            {
                pathSeries.MoveTo(X(first), Y(series[first]));
                for (int t = first + 1; t < last; t++) pathSeries.LineTo(X(t), Y(series[t]));
                canvas.DrawPath(pathSeries, line);
            }
            for (int t = first; t < last; t++)
                if (flagged[t]) canvas.DrawCircle(X(t), Y(series[t]), 2.2f, flag);
            using (var pathScore = new SKPath())
            {
                bool open = false;
                for (int t = first; t < last; t++)
                {
                    if (!float.IsFinite(scores[t])) { open = false; continue; }
                    if (open) pathScore.LineTo(X(t), S(scores[t]));
                    else { pathScore.MoveTo(X(t), S(scores[t])); open = true; }
                }
                canvas.Save();
                canvas.ClipRect(new SKRect(left, s0, left + perRow * scale, s0 + scoreH));
                canvas.DrawPath(pathScore, scoreLine);
                canvas.Restore();
            }
            float yThreshold = S((float)threshold);
            canvas.DrawLine(left, yThreshold, left + (last - first) * scale, yThreshold, dashed);
            canvas.DrawRect(new SKRect(left, y0, left + perRow * scale, y0 + seriesH), axis);
            canvas.DrawRect(new SKRect(left, s0, left + perRow * scale, s0 + scoreH), axis);
            canvas.DrawText("ECG", 8, y0 + seriesH / 2, text);
            canvas.DrawText("score", 8, s0 + scoreH / 2, text);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
