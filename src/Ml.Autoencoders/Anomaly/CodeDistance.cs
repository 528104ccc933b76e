using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Anomaly;

/// <summary>
/// One member's part of the <see cref="AnomalyScoreKind.ReconstructionAndCodeDistance"/> score: the training rows' codes
/// (all of them, or a seeded sample of <see cref="AutoencoderAnomalyOptions.Defaults.MaxReferenceRows"/>), an exact
/// Euclidean index over them, and the mean and standard deviation of the training rows' reconstruction errors and
/// code distances, which put the two parts on one scale. A row's member score is
/// (error - error mean) / error deviation + (distance - distance mean) / distance deviation, where the distance is the
/// mean distance of the row's code to its <see cref="Neighbors"/> nearest reference codes.
/// </summary>
internal sealed class CodeDistance : IDisposable
{
    private readonly NearestNeighborIndex index;
    private readonly float[] codes;

    private CodeDistance(float[] codes, int rows, int dimension, int neighbors, MemberStatistics statistics, AutoencoderTransformer member)
    {
        this.codes = codes;
        Rows = rows;
        Dimension = dimension;
        Neighbors = neighbors;
        Statistics = statistics;
        index = new NearestNeighborIndex(codes, rows, dimension, NeighborMetric.Euclidean, member.Model.TorchDevice);
    }

    /// <summary>Reference codes.</summary>
    public int Rows { get; }

    /// <summary>Values per code.</summary>
    public int Dimension { get; }

    /// <summary>Nearest reference codes averaged into a row's distance: the option's count, at most the reference codes.</summary>
    public int Neighbors { get; }

    /// <summary>The training rows' means and deviations of both parts.</summary>
    public MemberStatistics Statistics { get; private set; }

    /// <summary>The reference codes, row-major (what a saved detector stores).</summary>
    public ReadOnlySpan<float> Codes => codes;

    /// <summary>Means and standard deviations of one member's training reconstruction errors and code distances.</summary>
    internal readonly record struct MemberStatistics(float ErrorMean, float ErrorDeviation, float DistanceMean, float DistanceDeviation)
    {
        /// <summary>The four values, in this order (the file's layout).</summary>
        public float[] ToArray() => [ErrorMean, ErrorDeviation, DistanceMean, DistanceDeviation];

        /// <summary>From four values written by <see cref="ToArray"/>; deviations must be positive and all finite.</summary>
        public static MemberStatistics From(ReadOnlySpan<float> v, string what)
        {
            if (v.Length != 4 || !float.IsFinite(v[0]) || !float.IsFinite(v[2]) || !(v[1] > 0 && float.IsFinite(v[1])) || !(v[3] > 0 && float.IsFinite(v[3])))
                throw new AutoencoderModelFormatException($"Invalid {what}: the code-distance statistics must be four finite values with positive deviations.");
            return new MemberStatistics(v[0], v[1], v[2], v[3]);
        }
    }

    /// <summary>Neighbours for <paramref name="referenceRows"/> reference codes: the option's count, at most the reference codes.</summary>
    public static int EffectiveNeighbors(int neighbors, int referenceRows) => Math.Min(neighbors, referenceRows);

    /// <summary>
    /// Fits one member's part from its training rows' errors and codes (training order) and returns it with the training
    /// rows' member scores. With more than <paramref name="maxReferenceRows"/> rows, the reference is a sample drawn with
    /// <paramref name="seed"/>. A training row's distance is taken exactly as <c>Transform</c> takes it (its own code, when
    /// in the reference, is one of its neighbours), so scoring the training rows again gives their training scores.
    /// </summary>
    public static (CodeDistance Part, float[] TrainingScores) Fit(AutoencoderTransformer member, float[] errors, float[] trainingCodes, int neighbors, int maxReferenceRows, int seed)
    {
        int n = errors.Length, k = member.Model.LatentDimension;
        int[] reference = Enumerable.Range(0, n).ToArray();
        if (n > maxReferenceRows)
        {
            new Random(seed).Shuffle(reference);
            reference = reference[..maxReferenceRows].Order().ToArray();
        }
        var codes = new float[reference.Length * k];
        for (int j = 0; j < reference.Length; j++) trainingCodes.AsSpan(reference[j] * k, k).CopyTo(codes.AsSpan(j * k, k));
        var part = new CodeDistance(codes, reference.Length, k, EffectiveNeighbors(neighbors, reference.Length), default, member);
        try
        {
            var distances = new float[n];
            part.Distances(trainingCodes, n, distances);
            part.Statistics = new MemberStatistics(Mean(errors), Deviation(errors), Mean(distances), Deviation(distances));
            var scores = new float[n];
            for (int i = 0; i < n; i++) scores[i] = part.Combine(errors[i], distances[i]);
            return (part, scores);
        }
        catch
        {
            part.Dispose();
            throw;
        }
    }

    /// <summary>A loaded member's part; the caller has checked the codes' length against the member's code size.</summary>
    public static CodeDistance Load(AutoencoderTransformer member, float[] codes, int neighbors, MemberStatistics statistics, string what)
    {
        int k = member.Model.LatentDimension, rows = k == 0 ? 0 : codes.Length / k;
        if (rows < 1 || (long)rows * k != codes.Length)
            throw new AutoencoderModelFormatException($"Invalid {what}: {codes.Length} reference code values do not make whole codes of {k}.");
        if (neighbors != EffectiveNeighbors(neighbors, rows) || neighbors < 1)
            throw new AutoencoderModelFormatException($"Invalid {what}: {neighbors} neighbours for {rows} reference codes.");
        if (codes.Any(v => !float.IsFinite(v))) throw new AutoencoderModelFormatException($"Invalid {what}: a reference code value is not finite.");
        return new CodeDistance(codes, rows, k, neighbors, statistics, member);
    }

    /// <summary>One row's member score from its reconstruction error and code distance.</summary>
    public float Combine(double error, double distance) =>
        (float)Math.Min((error - Statistics.ErrorMean) / Statistics.ErrorDeviation + (distance - Statistics.DistanceMean) / Statistics.DistanceDeviation, float.MaxValue);

    /// <summary>Mean distance of each code (rows x <see cref="Dimension"/>) to its <see cref="Neighbors"/> nearest reference codes.</summary>
    public void Distances(ReadOnlySpan<float> latent, int rows, Span<float> distances)
    {
        var (d, _) = index.Query(latent, rows, Neighbors);
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < Neighbors; c++) sum += d[r * Neighbors + c];
            distances[r] = (float)(sum / Neighbors);
        }
    }

    public void Dispose() => index.Dispose();

    private static float Mean(float[] v) => (float)v.Average(x => (double)x);

    /// <summary>The population standard deviation, or 1 where the values do not vary (a constant part adds nothing to the ranking).</summary>
    private static float Deviation(float[] v)
    {
        double mean = v.Average(x => (double)x);
        float s = (float)Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
        return s > 0 && float.IsFinite(s) ? s : 1f;
    }
}
