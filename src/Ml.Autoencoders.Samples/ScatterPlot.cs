using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Ml.Autoencoders.Samples;

/// <summary>Writes 2-d scatter plots of points coloured by class (for example a 2-d code space) as PNG files, with OxyPlot.</summary>
internal static class ScatterPlot
{
    private const double LowPercentile = 0.005;
    private const double HighPercentile = 0.995;
    private const double Padding = 0.05;
    private const int DrawingRounds = 20;

    /// <summary>
    /// Draws the points (<paramref name="xs"/>[i], <paramref name="ys"/>[i]) as small semi-transparent dots coloured by
    /// <paramref name="labels"/>[i] (tab10 palette, repeated beyond ten classes), with grid lines and ticks on both axes,
    /// <paramref name="title"/> at the top and a legend of <paramref name="classNames"/> at the right, and saves it as PNG.
    /// </summary>
    /// <remarks>
    /// Each axis shows the 0.5th..99.5th percentile range of its values padded by 5% on both sides, so a few outliers do
    /// not squash the plot; points outside are clipped, and non-finite points left out. The image is
    /// <paramref name="size"/> pixels high and wider by the legend.
    /// </remarks>
    /// <param name="path">Output file; its directory is created if needed.</param>
    /// <param name="xs">Horizontal coordinates.</param>
    /// <param name="ys">Vertical coordinates; as many as <paramref name="xs"/>.</param>
    /// <param name="labels">Class index of each point, in [0, <paramref name="classNames"/>.Count); as many as <paramref name="xs"/>.</param>
    /// <param name="classNames">Legend text of each class.</param>
    /// <param name="title">Text drawn centred above the plot.</param>
    /// <param name="size">Image height in pixels (at least 200); the text scales with it.</param>
    /// <param name="xTitle">Optional title of the horizontal axis.</param>
    /// <param name="yTitle">Optional title of the vertical axis.</param>
    /// <exception cref="ArgumentException">The arrays differ in length, a label is outside <paramref name="classNames"/>, or <paramref name="classNames"/> is empty.</exception>
    public static void Save(
        string path,
        float[] xs,
        float[] ys,
        int[] labels,
        IReadOnlyList<string> classNames,
        string title,
        int size = 900,
        string? xTitle = null,
        string? yTitle = null)
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

        double k = size / 900.0;
        var model = PlotPng.NewModel(title, k);
        var grid = OxyColor.FromRgb(0xe6, 0xe6, 0xe6);
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = xTitle, Minimum = xMin, Maximum = xMax, MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = grid, IsZoomEnabled = false });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yTitle, Minimum = yMin, Maximum = yMax, MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = grid, IsZoomEnabled = false });
        model.Legends.Add(new Legend
        {
            LegendPlacement = LegendPlacement.Outside,
            LegendPosition = LegendPosition.RightTop,
            LegendFontSize = 16 * k,
            LegendSymbolLength = 16 * k,
            LegendBackground = OxyColor.FromRgb(0xfa, 0xfa, 0xfa),
            LegendBorder = OxyColor.FromRgb(0xcc, 0xcc, 0xcc),
        });

        // The legend shows one opaque, larger dot per class, from series that hold no points.
        for (int c = 0; c < classNames.Count; c++)
        {
            model.Series.Add(new ScatterSeries
            {
                Title = classNames[c] ?? "",
                MarkerType = MarkerType.Circle,
                MarkerSize = 5 * k,
                MarkerFill = PlotPng.Palette[c % PlotPng.Palette.Length],
            });
        }

        // Points in rounds of the given order, one series per class and round, so no class systematically hides another.
        int perRound = Math.Max(1, (finite.Length + DrawingRounds - 1) / DrawingRounds);
        foreach (var round in finite.Chunk(perRound))
        {
            var series = classNames.Select((_, c) => new ScatterSeries
            {
                RenderInLegend = false,
                MarkerType = MarkerType.Circle,
                MarkerSize = 2 * Math.Max(1, k),
                MarkerFill = OxyColor.FromAColor(130, PlotPng.Palette[c % PlotPng.Palette.Length]),
            }).ToArray();
            foreach (int i in round)
            {
                series[labels[i]].Points.Add(new ScatterPoint(xs[i], ys[i]));
            }

            foreach (var s in series.Where(s => s.Points.Count > 0))
            {
                model.Series.Add(s);
            }
        }

        PlotPng.Save(model, path, (int)Math.Round(size * 1.22), size);
    }

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
}
