namespace Ml.Autoencoders.Series;

/// <summary>
/// Every knob of the sliding-window transform (<c>mlContext.Transforms.SlidingWindows</c>): which columns of an ordered
/// series (one row per time step) become windows, how long the windows are and how far apart they start.
/// </summary>
public sealed class SlidingWindowOptions
{
    /// <summary>
    /// The window column: a known-size vector of <see cref="float"/> with <see cref="WindowSize"/> x features values, step
    /// by step (step 0's features, then step 1's, ...), dimensions (window size, features): what
    /// <c>RecurrentOptions</c> reads with <c>Steps = WindowSize</c> and <c>Features</c> = the values per time step.
    /// Default "Features".
    /// </summary>
    public string OutputColumnName { get; set; } = Defaults.OutputColumnName;

    /// <summary>
    /// The series' columns, in the order their values appear in each step: <see cref="float"/> scalars (one value per
    /// step each) or known-size <see cref="float"/> vectors (that many values per step). Required.
    /// </summary>
    public string[] InputColumnNames { get; set; } = [];

    /// <summary>Time steps per window (at least 1). Required.</summary>
    public int WindowSize { get; set; }

    /// <summary>Time steps between the starts of consecutive windows (at least 1; 1, the default, starts a window at every step).</summary>
    public int Stride { get; set; } = Defaults.Stride;

    /// <summary>
    /// The column holding each window's first time step, as the zero-based row position in the series
    /// (<see cref="long"/>), so that scores can be lined up with the series. Default "WindowStart".
    /// </summary>
    public string WindowStartColumnName { get; set; } = Defaults.WindowStartColumnName;

    /// <summary>The defaults, in one place (both catalog overloads use them).</summary>
    public static class Defaults
    {
        /// <summary>The window column: "Features", the column the autoencoder and the anomaly detector read by default.</summary>
        public const string OutputColumnName = DefaultColumnNames.Features;

        /// <summary>The window-start column: "WindowStart".</summary>
        public const string WindowStartColumnName = "WindowStart";

        /// <summary>A window at every time step: 1.</summary>
        public const int Stride = 1;
    }

    internal SlidingWindowOptions Clone()
    {
        var copy = (SlidingWindowOptions)MemberwiseClone();
        copy.InputColumnNames = (string[])(InputColumnNames?.Clone() ?? Array.Empty<string>());
        return copy;
    }

    /// <summary>Checks the options alone (the columns are checked against a schema by the estimator and the transformer).</summary>
    /// <exception cref="ArgumentException">A column name is missing or repeated, or the output names collide.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="WindowSize"/> or <see cref="Stride"/> is below 1.</exception>
    internal void Validate()
    {
        if (InputColumnNames is null || InputColumnNames.Length == 0)
            throw new ArgumentException("Name at least one input column (the series' values at each time step).", "inputColumnNames");
        foreach (string name in InputColumnNames)
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("An input column name is null or empty.", "inputColumnNames");
        if (InputColumnNames.Distinct(StringComparer.Ordinal).Count() != InputColumnNames.Length)
            throw new ArgumentException($"An input column is named twice: {string.Join(", ", InputColumnNames.Select(n => $"'{n}'"))}.", "inputColumnNames");
        if (string.IsNullOrEmpty(OutputColumnName)) throw new ArgumentException("OutputColumnName must name a column.", "outputColumnName");
        if (string.IsNullOrEmpty(WindowStartColumnName)) throw new ArgumentException("WindowStartColumnName must name a column.", "windowStartColumnName");
        if (OutputColumnName == WindowStartColumnName)
            throw new ArgumentException($"The window column and the window-start column are both named '{OutputColumnName}'.", "windowStartColumnName");
        if (WindowSize < 1)
            throw new ArgumentOutOfRangeException("windowSize", WindowSize, "A window needs at least one time step: windowSize must be 1 or more.");
        if (Stride < 1)
            throw new ArgumentOutOfRangeException("stride", Stride, "stride is the number of time steps between window starts: it must be 1 or more.");
    }
}
