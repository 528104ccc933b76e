namespace Ml.Autoencoders.SampleData;

/// <summary>One injected anomaly: its kind, first step and length (steps), and what was done.</summary>
public sealed record InjectedAnomaly(string Kind, int Start, int Length, string Description);

/// <summary>
/// Plants labelled anomalies in a stretch of a series (for a recording that has no labels), by a documented, seeded
/// procedure. The stretch [from, to) is cut into <c>count</c> equal slots and each slot gets one anomaly, at a random place
/// inside its middle three quarters (so that the windows around one anomaly rarely reach the next); the kinds take turns
/// in a seeded random order of the six below, so each appears count / 6 times. Amplitudes are in units of σ, the standard
/// deviation of the series before <c>from</c> (the clean training part), and the steps each anomaly changes are labelled.
/// <list type="bullet">
/// <item>spike: 1 to 3 steps get ±(3 to 5)σ added (a glitch of the electrode).</item>
/// <item>level shift: 1 to 2 seconds get ±(1 to 1.5)σ added (a baseline jump).</item>
/// <item>noise burst: 0.5 to 1 second gets Gaussian noise of 0.5σ added (muscle noise).</item>
/// <item>flat line: 0.3 to 0.6 seconds hold the value of their first step (signal dropout).</item>
/// <item>inverted beat: 0.6 seconds around the largest value of a 1.5-second span (an R peak) are mirrored about their median.</item>
/// <item>widened beat: the same 0.6 seconds are replaced by their middle half stretched to twice its length (linear
/// interpolation): a QRS complex twice as wide, as a ventricular beat's.</item>
/// </list>
/// </summary>
public static class SeriesAnomalies
{
    /// <summary>The six kinds, in the order of the documentation.</summary>
    public static readonly string[] Kinds = ["spike", "level shift", "noise burst", "flat line", "inverted beat", "widened beat"];

    /// <summary>
    /// A copy of <paramref name="series"/> with <paramref name="count"/> anomalies planted in [<paramref name="from"/>,
    /// <paramref name="to"/>), the label of every step (true = changed by an anomaly), and the anomalies.
    /// </summary>
    /// <param name="series">The clean series.</param>
    /// <param name="from">First step of the stretch that gets anomalies (at least 2 steps before it set σ).</param>
    /// <param name="to">End of that stretch (exclusive).</param>
    /// <param name="count">Anomalies (slots); each slot must hold 4 seconds.</param>
    /// <param name="sampleRate">Steps per second, for the durations above.</param>
    /// <param name="seed">Seed of every random choice.</param>
    public static (float[] Series, bool[] Labels, IReadOnlyList<InjectedAnomaly> Anomalies) Inject(float[] series, int from, int to, int count, double sampleRate, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(from, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(to, series.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int slot = (to - from) / count;
        if (slot < 4 * sampleRate) throw new ArgumentOutOfRangeException(nameof(count), count, $"{count} anomalies in {to - from} steps leave {slot} steps each; each needs 4 seconds ({4 * sampleRate} steps).");
        double mean = series.Take(from).Average(v => (double)v);
        double sigma = Math.Sqrt(series.Take(from).Average(v => (v - mean) * (v - mean)));
        var random = new Random(seed);
        var x = (float[])series.Clone();
        var labels = new bool[series.Length];
        var anomalies = new List<InjectedAnomaly>();
        int[] order = [];
        int Steps(double seconds) => Math.Max(1, (int)Math.Round(seconds * sampleRate));
        double Between(double low, double high) => low + (high - low) * random.NextDouble();
        double Sign() => random.Next(2) == 0 ? -1 : 1;
        for (int a = 0; a < count; a++)
        {
            if (a % Kinds.Length == 0) order = Enumerable.Range(0, Kinds.Length).OrderBy(_ => random.Next()).ToArray();
            string kind = Kinds[order[a % Kinds.Length]];
            int slotStart = from + a * slot, inner = slot / 8;
            int length = kind switch
            {
                "spike" => random.Next(1, 4),
                "level shift" => Steps(Between(1, 2)),
                "noise burst" => Steps(Between(0.5, 1)),
                "flat line" => Steps(Between(0.3, 0.6)),
                _ => Steps(0.6),
            };
            int start = slotStart + inner + random.Next(slot - 2 * inner - length);
            string description;
            switch (kind)
            {
                case "spike":
                {
                    double amplitude = Sign() * Between(3, 5);
                    for (int t = start; t < start + length; t++) x[t] += (float)(amplitude * sigma);
                    description = $"{amplitude:+0.0;-0.0}σ added";
                    break;
                }
                case "level shift":
                {
                    double shift = Sign() * Between(1, 1.5);
                    for (int t = start; t < start + length; t++) x[t] += (float)(shift * sigma);
                    description = $"{shift:+0.00;-0.00}σ added";
                    break;
                }
                case "noise burst":
                    for (int t = start; t < start + length; t++) x[t] += (float)(0.5 * sigma * Gaussian(random));
                    description = "Gaussian noise of 0.5σ added";
                    break;
                case "flat line":
                    for (int t = start + 1; t < start + length; t++) x[t] = x[start];
                    description = $"held at {x[start]:0.000}";
                    break;
                default:
                {
                    // Centre the beat on the largest value of a 1.5-second span starting where the anomaly was placed.
                    int span = Steps(1.5), peak = start;
                    for (int t = start; t < Math.Min(start + span, slotStart + slot - inner); t++) if (series[t] > series[peak]) peak = t;
                    start = Math.Clamp(peak - length / 2, slotStart, slotStart + slot - length);
                    var beat = series.AsSpan(start, length).ToArray();
                    if (kind == "inverted beat")
                    {
                        float median = beat.Order().ElementAt(length / 2);
                        for (int i = 0; i < length; i++) x[start + i] = 2 * median - beat[i];
                        description = $"mirrored about {median:0.000}";
                    }
                    else
                    {
                        for (int i = 0; i < length; i++)
                        {
                            double source = length / 4.0 + i / 2.0;
                            int lo = Math.Min((int)source, length - 2);
                            double w = source - lo;
                            x[start + i] = (float)((1 - w) * beat[lo] + w * beat[lo + 1]);
                        }
                        description = "middle half stretched x2";
                    }
                    break;
                }
            }
            for (int t = start; t < start + length; t++) labels[t] = true;
            anomalies.Add(new InjectedAnomaly(kind, start, length, description));
        }
        return (x, labels, anomalies);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
