namespace Ml.Autoencoders.Series;

/// <summary>
/// Reconstruction errors of windows taken back to the time steps of the series: for each step, the mean over the
/// windows that cover it of the squared error at that step (averaged over the step's features), and how many windows
/// cover it. The per-point anomaly score of a windowed autoencoder.
/// </summary>
/// <remarks>
/// A step covered by windows starting at s1, s2, ... gets (e(s1) + e(s2) + ...) / count, where e(s) is the mean over
/// the step's features of (x - x̂)² in the window starting at s. Steps no window covers get NaN and a count of 0.
/// The same computation as <c>mlContext.Transforms.TimeStepErrors</c>, on arrays.
/// </remarks>
public sealed class TimeStepErrorSeries
{
    private TimeStepErrorSeries(float[] errors, int[] windowCounts)
    {
        Errors = errors;
        WindowCounts = windowCounts;
    }

    /// <summary>Per-step error, indexed by time step; NaN where no window covers the step.</summary>
    public float[] Errors { get; }

    /// <summary>Windows covering each step.</summary>
    public int[] WindowCounts { get; }

    /// <summary>Steps in the result (the series length given, else the end of the last window).</summary>
    public int Length => Errors.Length;

    /// <summary>
    /// Per-step errors from the squared errors of each window's values: <paramref name="squaredErrors"/> holds
    /// <paramref name="windowStarts"/>.Length windows of <paramref name="windowSize"/> x features values each, step by step.
    /// </summary>
    /// <param name="windowStarts">Each window's first time step (not negative).</param>
    /// <param name="squaredErrors">(x - x̂)² of every value, window after window, row-major.</param>
    /// <param name="windowSize">Time steps per window.</param>
    /// <param name="seriesLength">Steps in the result; null: up to the end of the last window.</param>
    /// <exception cref="ArgumentException">The sizes do not agree, a start is negative, or a window ends beyond <paramref name="seriesLength"/>.</exception>
    public static TimeStepErrorSeries FromSquaredErrors(ReadOnlySpan<long> windowStarts, ReadOnlySpan<float> squaredErrors, int windowSize, long? seriesLength = null)
    {
        int width = Width(windowStarts.Length, squaredErrors.Length, windowSize, nameof(squaredErrors));
        var accumulator = new Accumulator(windowSize, width / windowSize, seriesLength);
        for (int w = 0; w < windowStarts.Length; w++)
            accumulator.AddSquaredErrors(windowStarts[w], squaredErrors.Slice(w * width, width), w);
        return accumulator.Result();
    }

    /// <summary>Per-step errors from windows and their reconstructions (both window after window, row-major, step by step).</summary>
    /// <param name="windowStarts">Each window's first time step (not negative).</param>
    /// <param name="windows">The windows' values.</param>
    /// <param name="reconstructions">Their reconstructions, as many values.</param>
    /// <param name="windowSize">Time steps per window.</param>
    /// <param name="seriesLength">Steps in the result; null: up to the end of the last window.</param>
    /// <exception cref="ArgumentException">The sizes do not agree, a start is negative, or a window ends beyond <paramref name="seriesLength"/>.</exception>
    public static TimeStepErrorSeries FromReconstructions(ReadOnlySpan<long> windowStarts, ReadOnlySpan<float> windows, ReadOnlySpan<float> reconstructions, int windowSize, long? seriesLength = null)
    {
        if (reconstructions.Length != windows.Length)
            throw new ArgumentException($"{windows.Length} window values but {reconstructions.Length} reconstructed values.", nameof(reconstructions));
        int width = Width(windowStarts.Length, windows.Length, windowSize, nameof(windows));
        var accumulator = new Accumulator(windowSize, width / windowSize, seriesLength);
        for (int w = 0; w < windowStarts.Length; w++)
            accumulator.AddReconstruction(windowStarts[w], windows.Slice(w * width, width), reconstructions.Slice(w * width, width), w);
        return accumulator.Result();
    }

    private static int Width(int windows, int values, int windowSize, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        if (windows == 0) return windowSize;
        if (values % windows != 0 || values / windows % windowSize != 0 || values == 0)
            throw new ArgumentException($"{values} values do not make {windows} windows of {windowSize} steps (each window needs a multiple of {windowSize} values).", name);
        return values / windows;
    }

    /// <summary>Sums the per-step errors of windows one at a time (the transform reads them from a cursor).</summary>
    internal sealed class Accumulator
    {
        private readonly int windowSize, features;
        private readonly long? seriesLength;
        private readonly double[] stepErrors;
        private double[] sums = new double[1024];
        private int[] counts = new int[1024];
        private long end;

        public Accumulator(int windowSize, int features, long? seriesLength)
        {
            this.windowSize = windowSize;
            this.features = features;
            this.seriesLength = seriesLength;
            stepErrors = new double[windowSize];
            if (seriesLength > Array.MaxLength)
                throw new ArgumentOutOfRangeException(nameof(seriesLength), seriesLength, $"At most {Array.MaxLength} time steps.");
        }

        public void AddSquaredErrors(long start, ReadOnlySpan<float> squared, long row)
        {
            for (int j = 0; j < windowSize; j++)
            {
                double sum = 0;
                foreach (float e in squared.Slice(j * features, features)) sum += e;
                stepErrors[j] = sum / features;
            }
            Add(start, row);
        }

        public void AddReconstruction(long start, ReadOnlySpan<float> window, ReadOnlySpan<float> reconstruction, long row)
        {
            for (int j = 0; j < windowSize; j++)
            {
                double sum = 0;
                for (int f = j * features; f < (j + 1) * features; f++)
                {
                    double d = (double)window[f] - reconstruction[f];
                    sum += d * d;
                }
                stepErrors[j] = sum / features;
            }
            Add(start, row);
        }

        private void Add(long start, long row)
        {
            if (start < 0) throw new ArgumentException($"Window {row} starts at step {start}; window starts are time steps, 0 or more.", "windowStarts");
            long windowEnd = start + windowSize;
            if (seriesLength is { } n && windowEnd > n)
                throw new ArgumentException($"Window {row} covers steps {start} to {windowEnd - 1}, beyond the series length {n}.", "windowStarts");
            if (windowEnd > Array.MaxLength) throw new ArgumentException($"Window {row} starts at step {start}; at most {Array.MaxLength} time steps are supported.", "windowStarts");
            if (windowEnd > sums.Length)
            {
                int size = (int)Math.Min(Array.MaxLength, Math.Max(windowEnd, 2L * sums.Length));
                Array.Resize(ref sums, size);
                Array.Resize(ref counts, size);
            }
            for (int j = 0; j < windowSize; j++)
            {
                if (!double.IsFinite(stepErrors[j]))
                    throw new ArgumentException($"Window {row} (starting at step {start}) has a non-finite error at step {start + j}.", "windowStarts");
                sums[start + j] += stepErrors[j];
                counts[start + j]++;
            }
            end = Math.Max(end, windowEnd);
        }

        public TimeStepErrorSeries Result()
        {
            int length = (int)(seriesLength ?? end);
            var errors = new float[length];
            var windowCounts = new int[length];
            for (int t = 0; t < length; t++)
            {
                int count = t < counts.Length ? counts[t] : 0;
                windowCounts[t] = count;
                errors[t] = count == 0 ? float.NaN : (float)(sums[t] / count);
            }
            return new TimeStepErrorSeries(errors, windowCounts);
        }
    }
}
