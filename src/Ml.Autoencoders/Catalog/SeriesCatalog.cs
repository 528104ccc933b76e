using Ml.Autoencoders;
using Ml.Autoencoders.Series;

namespace Microsoft.ML;

/// <summary>The series entry points on <see cref="TransformsCatalog"/> (<c>mlContext.Transforms</c>): steps to windows, and windows' errors back to steps.</summary>
public static class SeriesCatalog
{
    /// <summary>
    /// Sliding windows over an ordered series (one row per time step): one output row per window, with the window's
    /// values step by step in <paramref name="outputColumnName"/> (windowSize x features, dimensions (windowSize,
    /// features): a <c>RecurrentOptions</c> body reads it with <c>Steps = windowSize</c>) and its first step in
    /// <see cref="SlidingWindowOptions.WindowStartColumnName"/> ("WindowStart", <see cref="long"/>). The output has only
    /// these two columns, and its row count differs from the input's, so the transform cannot run in a PredictionEngine
    /// (see <see cref="SlidingWindowTransformer"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The window column.</param>
    /// <param name="inputColumnNames">The series' columns (Single scalars or known-size vectors of Single), in the order their values go into each step.</param>
    /// <param name="windowSize">Time steps per window (at least 1; at most the series' length).</param>
    /// <param name="stride">Time steps between window starts (at least 1).</param>
    /// <exception cref="ArgumentException">No input column, a repeated one, or the output names collide.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="windowSize"/> or <paramref name="stride"/> is below 1.</exception>
    /// <example><code>
    /// var windows = mlContext.Transforms.SlidingWindows("Features", ["Ecg"], windowSize: 64, stride: 4);
    /// var pipeline = windows.Append(mlContext.Transforms.Autoencoder(new AutoencoderOptions { Body = new RecurrentOptions { Steps = 64 } }));
    /// </code></example>
    public static SlidingWindowEstimator SlidingWindows(
        this TransformsCatalog catalog,
        string outputColumnName,
        string[] inputColumnNames,
        int windowSize,
        int stride = SlidingWindowOptions.Defaults.Stride)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SlidingWindowEstimator(new SlidingWindowOptions
        {
            OutputColumnName = outputColumnName,
            InputColumnNames = inputColumnNames,
            WindowSize = windowSize,
            Stride = stride,
        });
    }

    /// <summary>Sliding windows configured by <paramref name="options"/> (columns, window size, stride, window-start column).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every knob of the transform.</param>
    public static SlidingWindowEstimator SlidingWindows(this TransformsCatalog catalog, SlidingWindowOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SlidingWindowEstimator(options);
    }

    /// <summary>
    /// Scored windows back to the series' time steps: one output row per time step with "TimeStep" (<see cref="long"/>),
    /// "TimeStepError" (<see cref="float"/>: the mean, over the windows that cover the step, of the squared reconstruction
    /// error at that step, averaged over its features; NaN where no window covers it) and "WindowCount" (<see cref="int"/>).
    /// Put it after an autoencoder (it reads the windows and their reconstructions) that follows <c>SlidingWindows</c>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="featureColumnName">The windows.</param>
    /// <param name="reconstructionColumnName">Their reconstructions.</param>
    /// <param name="windowStartColumnName">Each window's first time step.</param>
    /// <param name="windowSize">Steps per window; null: read from the window column's dimensions (as <c>SlidingWindows</c> writes them).</param>
    /// <example><code>
    /// var perStep = mlContext.Transforms.SlidingWindows("Features", ["Ecg"], windowSize: 64)
    ///     .Append(mlContext.Transforms.Autoencoder(options))
    ///     .Append(mlContext.Transforms.TimeStepErrors())
    ///     .Fit(trainingSeries).Transform(testSeries);   // one row per step of testSeries
    /// </code></example>
    public static TimeStepErrorEstimator TimeStepErrors(
        this TransformsCatalog catalog,
        string featureColumnName = DefaultColumnNames.Features,
        string reconstructionColumnName = DefaultColumnNames.Reconstruction,
        string windowStartColumnName = SlidingWindowOptions.Defaults.WindowStartColumnName,
        int? windowSize = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TimeStepErrorEstimator(new TimeStepErrorOptions
        {
            FeatureColumnName = featureColumnName,
            ReconstructionColumnName = reconstructionColumnName,
            WindowStartColumnName = windowStartColumnName,
            WindowSize = windowSize,
        });
    }

    /// <summary>Per-time-step errors configured by <paramref name="options"/> (for example from the anomaly detector's per-value errors: <see cref="TimeStepErrorOptions.SquaredErrorsColumnName"/>).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every knob of the transform.</param>
    public static TimeStepErrorEstimator TimeStepErrors(this TransformsCatalog catalog, TimeStepErrorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TimeStepErrorEstimator(options);
    }
}
