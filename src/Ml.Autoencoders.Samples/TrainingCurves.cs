using Ml.Autoencoders.Training;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Ml.Autoencoders.Samples;

/// <summary>Writes the loss per epoch of one or more training runs (a model's <see cref="TrainingHistory"/>) as a PNG file, with OxyPlot.</summary>
internal static class TrainingCurves
{
    /// <summary>
    /// Draws, for each run, its training loss per epoch (solid) and its validation loss per epoch (dashed, where the
    /// history has one) in the run's colour, on a logarithmic loss axis, marks each run's
    /// <see cref="TrainingHistory.BestEpoch"/> on the curve it was chosen from, and saves it as PNG.
    /// </summary>
    /// <param name="path">Output file; its directory is created if needed.</param>
    /// <param name="runs">Legend name and history of each run; epochs of greedy pretraining stages are left out.</param>
    /// <param name="title">Text drawn centred above the plot.</param>
    /// <param name="lossName">Title of the loss axis (for example "MSE per pixel").</param>
    /// <param name="validationName">What the dashed curves are, in the legend (for example "validation").</param>
    /// <param name="note">Optional line under the title (for example why a run has no validation curve).</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <exception cref="ArgumentException">No run has an end-to-end epoch.</exception>
    public static void Save(
        string path,
        IReadOnlyList<(string Name, TrainingHistory History)> runs,
        string title,
        string lossName,
        string validationName = "validation",
        string? note = null,
        int width = 1200,
        int height = 620)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(runs);
        var epochs = runs.Select(r => r.History.Epochs.Where(e => e.PretrainingStage is null).ToList()).ToList();
        if (epochs.All(e => e.Count == 0))
        {
            throw new ArgumentException("No run has an end-to-end epoch to plot.", nameof(runs));
        }

        // Room beyond the first and last epoch, so their markers are not cut by the frame.
        int lastEpoch = epochs.Max(e => e.Count == 0 ? 1 : e[^1].Epoch);
        double pad = Math.Max(0.5, lastEpoch * 0.02);
        bool dots = lastEpoch <= 40; // a dot per epoch helps to count a few epochs, and clutters many
        double k = height / 620.0;
        var model = PlotPng.NewModel(title, k);
        model.Subtitle = "training: mean over each epoch's batches as the weights change" +
            (epochs.Any(run => run.Any(e => e.ValidationLoss is not null)) ? $"; {validationName}: after each epoch" : "") +
            (note is null ? "" : "\n" + note);
        model.SubtitleFontSize = 13 * k;
        var grid = OxyColor.FromRgb(0xe6, 0xe6, 0xe6);
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Bottom,
            Title = "epoch",
            Minimum = 1 - pad,
            Maximum = lastEpoch + pad,
            MinimumMajorStep = 1,
            MinimumMinorStep = 1,
            StringFormat = "0",
            MajorGridlineStyle = LineStyle.Solid,
            MajorGridlineColor = grid,
        });
        model.Axes.Add(new LogarithmicAxis
        {
            Position = AxisPosition.Left,
            Title = lossName + " (log scale)",
            MinimumPadding = 0.04,
            MaximumPadding = 0.04,
            MajorGridlineStyle = LineStyle.Solid,
            MajorGridlineColor = grid,
            MinorGridlineStyle = LineStyle.Dot,
            MinorGridlineColor = grid,
        });
        model.Legends.Add(new Legend
        {
            LegendPlacement = LegendPlacement.Outside,
            LegendPosition = LegendPosition.RightTop,
            LegendFontSize = 14 * k,
            LegendSymbolLength = 30 * k,
            LegendLineSpacing = 4 * k,
        });

        for (int r = 0; r < runs.Count; r++)
        {
            var color = PlotPng.Palette[r % PlotPng.Palette.Length];
            var run = epochs[r];
            model.Series.Add(Curve($"{runs[r].Name}: training", color, LineStyle.Solid, dots, run.Select(e => new DataPoint(e.Epoch, e.TrainLoss))));
            bool validated = run.Any(e => e.ValidationLoss is not null);
            if (validated)
            {
                model.Series.Add(Curve($"{runs[r].Name}: {validationName}", color, LineStyle.Dash, dots,
                    run.Where(e => e.ValidationLoss is not null).Select(e => new DataPoint(e.Epoch, e.ValidationLoss!.Value))));
            }

            // BestEpoch is the lowest monitored loss: validation when the run had it, training otherwise. A legend entry
            // rather than a label on the plot: a label next to the last epoch would run off the plot area.
            var best = run.FirstOrDefault(e => e.Epoch == runs[r].History.BestEpoch);
            if (best is not null)
            {
                var marker = new ScatterSeries
                {
                    Title = $"{runs[r].Name}: best epoch {best.Epoch} ({(validated ? validationName : "training")} {best.MonitoredLoss:G4})",
                    MarkerType = MarkerType.Circle,
                    MarkerSize = 6 * k,
                    MarkerFill = OxyColors.White,
                    MarkerStroke = color,
                    MarkerStrokeThickness = 2 * k,
                };
                marker.Points.Add(new ScatterPoint(best.Epoch, best.MonitoredLoss));
                model.Series.Add(marker);
            }
        }

        PlotPng.Save(model, path, width, height);
    }

    private static LineSeries Curve(string title, OxyColor color, LineStyle style, bool dots, IEnumerable<DataPoint> points)
    {
        var series = new LineSeries
        {
            Title = title,
            Color = color,
            LineStyle = style,
            StrokeThickness = 2,
            MarkerType = dots ? MarkerType.Circle : MarkerType.None,
            MarkerSize = 2.5,
            MarkerFill = color,
        };
        series.Points.AddRange(points);
        return series;
    }
}
