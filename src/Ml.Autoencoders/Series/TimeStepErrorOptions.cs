namespace Ml.Autoencoders.Series;

/// <summary>
/// Every knob of the per-time-step error transform (<c>mlContext.Transforms.TimeStepErrors</c>): which columns of the
/// scored windows it reads and what it calls the columns of the time steps it returns.
/// </summary>
/// <remarks>
/// It reads either the windows and their reconstructions (<see cref="FeatureColumnName"/> and
/// <see cref="ReconstructionColumnName"/>, as the autoencoder appends them) or the squared error of every value
/// (<see cref="SquaredErrorsColumnName"/>, as the anomaly detector's <c>FeatureErrorsColumnName</c> appends it).
/// </remarks>
public sealed class TimeStepErrorOptions
{
    /// <summary>The windows (known-size vector of <see cref="float"/>, step by step). Default "Features".</summary>
    public string FeatureColumnName { get; set; } = DefaultColumnNames.Features;

    /// <summary>The windows' reconstructions (same size). Default "Reconstruction".</summary>
    public string ReconstructionColumnName { get; set; } = DefaultColumnNames.Reconstruction;

    /// <summary>
    /// When set, the squared error of every value of the window is read from this column (known-size vector of
    /// <see cref="float"/>, e.g. the anomaly detector's <c>FeatureErrorsColumnName</c>) instead of being computed from
    /// <see cref="FeatureColumnName"/> and <see cref="ReconstructionColumnName"/>. Default null.
    /// </summary>
    public string? SquaredErrorsColumnName { get; set; }

    /// <summary>Each window's first time step (<see cref="long"/> or <see cref="int"/>, not negative). Default "WindowStart", as <c>SlidingWindows</c> writes it.</summary>
    public string WindowStartColumnName { get; set; } = SlidingWindowOptions.Defaults.WindowStartColumnName;

    /// <summary>
    /// Time steps per window. Null (the default): read from the dimensions (steps, features) of the window column
    /// (<see cref="FeatureColumnName"/>), which <c>SlidingWindows</c> writes and the autoencoder and the anomaly detector
    /// pass through, or else of the column read.
    /// </summary>
    public int? WindowSize { get; set; }

    /// <summary>
    /// Time steps in the series. Null (the default): up to the end of the last window. Set it to get one row for every
    /// step of the series, the steps no window covers included (their error is NaN, their window count 0).
    /// </summary>
    public long? SeriesLength { get; set; }

    /// <summary>The time-step column of the output (<see cref="long"/>, 0, 1, 2, ...). Default "TimeStep".</summary>
    public string TimeStepColumnName { get; set; } = Defaults.TimeStepColumnName;

    /// <summary>
    /// The per-step error column (<see cref="float"/>): the mean, over the windows that cover the step, of the squared
    /// error at that step (averaged over the step's features); NaN for a step no window covers. Default "TimeStepError".
    /// </summary>
    public string ErrorColumnName { get; set; } = Defaults.ErrorColumnName;

    /// <summary>The column of the number of windows that cover each step (<see cref="int"/>). Default "WindowCount".</summary>
    public string WindowCountColumnName { get; set; } = Defaults.WindowCountColumnName;

    /// <summary>The defaults, in one place.</summary>
    public static class Defaults
    {
        /// <summary>"TimeStep".</summary>
        public const string TimeStepColumnName = "TimeStep";

        /// <summary>"TimeStepError".</summary>
        public const string ErrorColumnName = "TimeStepError";

        /// <summary>"WindowCount".</summary>
        public const string WindowCountColumnName = "WindowCount";
    }

    internal TimeStepErrorOptions Clone() => (TimeStepErrorOptions)MemberwiseClone();

    /// <summary>Checks the options alone.</summary>
    /// <exception cref="ArgumentException">A column name is missing, or two output columns share a name.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="WindowSize"/> is below 1 or <see cref="SeriesLength"/> is negative.</exception>
    internal void Validate()
    {
        var names = new[]
        {
            (nameof(WindowStartColumnName), WindowStartColumnName), (nameof(TimeStepColumnName), TimeStepColumnName),
            (nameof(ErrorColumnName), ErrorColumnName), (nameof(WindowCountColumnName), WindowCountColumnName),
        };
        foreach (var (field, value) in SquaredErrorsColumnName is null
            ? names.Append((nameof(FeatureColumnName), FeatureColumnName)).Append((nameof(ReconstructionColumnName), ReconstructionColumnName))
            : names.Append((nameof(SquaredErrorsColumnName), SquaredErrorsColumnName)))
            if (string.IsNullOrEmpty(value)) throw new ArgumentException($"{field} must name a column.", field);
        if (new[] { TimeStepColumnName, ErrorColumnName, WindowCountColumnName }.Distinct(StringComparer.Ordinal).Count() != 3)
            throw new ArgumentException($"The output columns need three names; got '{TimeStepColumnName}', '{ErrorColumnName}', '{WindowCountColumnName}'.", nameof(WindowCountColumnName));
        if (WindowSize is < 1) throw new ArgumentOutOfRangeException("windowSize", WindowSize, "windowSize must be 1 or more (or null: read from the window column's dimensions).");
        if (SeriesLength is < 0) throw new ArgumentOutOfRangeException(nameof(SeriesLength), SeriesLength, "SeriesLength must not be negative (or null: up to the end of the last window).");
    }
}
