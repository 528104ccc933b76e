using Ml.Autoencoders.Data;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Anomaly;

/// <summary>
/// What a fitted anomaly detector scores with: the trained autoencoders (one, or an ensemble), each member's weight, what
/// the score is, and the training rows' scores. It holds no threshold and no column names:
/// <see cref="AutoencoderAnomalyTransformer"/> adds those, as ML.NET's <c>AnomalyPredictionTransformer&lt;TModel&gt;</c>
/// adds a threshold to its model, and exposes this object as its <c>Model</c>.
/// </summary>
/// <remarks>
/// Several transformers can share one model: <c>mlContext.AnomalyDetection.ChangeModelThreshold(detector, threshold)</c>
/// returns a transformer with another threshold over the same model, without copying or retraining. The native memory
/// (the members' networks) belongs to the model: <c>Release()</c> on any transformer that shares it frees it once, after
/// the batches being computed by every one of them finish, and from then on all of them throw
/// <see cref="ObjectDisposedException"/> (<see cref="IsReleased"/> tells). Not <see cref="IDisposable"/>, for the reason
/// the transformers are not (see <see cref="BatchTransformer"/>).
/// </remarks>
public sealed class AutoencoderAnomalyModel
{
    private readonly AutoencoderTransformer[] members;
    private readonly float[] weights;
    private readonly float[] trainingScores;
    private readonly CodeDistance[]? codeParts;

    /// <param name="members">The trained autoencoders.</param>
    /// <param name="weights">Each member's factor in the score.</param>
    /// <param name="scoreKind">What the score is.</param>
    /// <param name="trainingScores">The training rows' scores.</param>
    /// <param name="codeParts">One per member for <see cref="AnomalyScoreKind.ReconstructionAndCodeDistance"/>, else null; owned (disposed) by this model.</param>
    internal AutoencoderAnomalyModel(IReadOnlyList<AutoencoderTransformer> members, float[] weights, AnomalyScoreKind scoreKind, float[] trainingScores, CodeDistance[]? codeParts = null)
    {
        if (members.Count == 0 || members.Count != weights.Length) throw new ArgumentException($"{members.Count} members for {weights.Length} weights.", nameof(weights));
        if ((scoreKind == AnomalyScoreKind.ReconstructionAndCodeDistance) != (codeParts is not null) || (codeParts is not null && codeParts.Length != members.Count))
            throw new ArgumentException($"The {scoreKind} score needs {(scoreKind == AnomalyScoreKind.ReconstructionAndCodeDistance ? "one code-distance part per member" : "no code-distance parts")}.", nameof(codeParts));
        this.members = members.ToArray();
        this.weights = (float[])weights.Clone();
        this.trainingScores = trainingScores;
        this.codeParts = codeParts;
        ScoreKind = scoreKind;
        Lifetime = new NativeLifetime(nameof(AutoencoderAnomalyTransformer), "Release() or the members' Model.Dispose()",
            () =>
            {
                foreach (var member in this.members) member.Release();
                foreach (var part in this.codeParts ?? []) part.Dispose();
            },
            () => this.members.Any(m => m.IsReleased));
    }

    /// <summary>The members' code-distance parts (<see cref="AnomalyScoreKind.ReconstructionAndCodeDistance"/>), else null.</summary>
    internal IReadOnlyList<CodeDistance>? CodeParts => codeParts;

    /// <summary>
    /// Code neighbours averaged into a row's code distance (<see cref="AnomalyScoreKind.ReconstructionAndCodeDistance"/>:
    /// <see cref="AutoencoderAnomalyOptions.CodeNeighbors"/>, at most the reference codes); 0 for the other kinds.
    /// </summary>
    public int CodeNeighbors => codeParts?[0].Neighbors ?? 0;

    /// <summary>The first (or only) trained autoencoder (encode, reconstruct, history).</summary>
    public AutoencoderTransformer Autoencoder => members[0];

    /// <summary>Every trained autoencoder of the ensemble, first = <see cref="Autoencoder"/> (one unless <see cref="AutoencoderAnomalyOptions.EnsembleSize"/> asked for more).</summary>
    public IReadOnlyList<AutoencoderTransformer> Members => members;

    /// <summary>
    /// Each member's factor in the score: the members' mean training score divided by this member's (all 1 for one member,
    /// or when a member reconstructs its training rows exactly).
    /// </summary>
    public IReadOnlyList<float> MemberWeights => weights;

    /// <summary>What the score is.</summary>
    public AnomalyScoreKind ScoreKind { get; }

    /// <summary>The scores of the training rows (in training order), from which contamination thresholds are taken.</summary>
    public float[] TrainingScores => (float[])trainingScores.Clone();

    internal float[] TrainingScoresView => trainingScores;

    /// <summary>Values per input row.</summary>
    public int InputSize => members[0].InputSize;

    /// <summary>True once the members' native memory is freed (by <c>Release()</c> of a transformer over this model, or the members' <c>Model.Dispose()</c>).</summary>
    public bool IsReleased => Lifetime.IsReleased;

    /// <summary>The one lifetime of the members' native memory, shared by every transformer over this model.</summary>
    internal NativeLifetime Lifetime { get; }

    /// <summary>
    /// The threshold above which round(<paramref name="fraction"/> x training rows) training rows score (fewer when scores
    /// tie at it): what <see cref="AutoencoderAnomalyTransformer.SetThresholdByContamination"/> sets.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is outside [0, 1) or NaN.</exception>
    public float ThresholdForContamination(double fraction) => AutoencoderAnomalyTransformer.ContaminationThreshold(trainingScores, fraction);

    /// <summary>Anomaly scores of rows (row-major, <see cref="InputSize"/> values each).</summary>
    /// <exception cref="ArgumentException"><paramref name="rows"/> does not hold <paramref name="count"/> rows.</exception>
    /// <exception cref="AutoencoderDataException">A value is NaN or infinite (names the row, the index and the value).</exception>
    /// <exception cref="ObjectDisposedException">The model was released.</exception>
    public float[] Score(ReadOnlySpan<float> rows, int count) => Score(rows, count, members[0].OptionsView.InputColumnName);

    /// <summary><see cref="Score(ReadOnlySpan{float}, int)"/>, naming <paramref name="columnName"/> in a data error.</summary>
    internal float[] Score(ReadOnlySpan<float> rows, int count, string columnName)
    {
        if (rows.Length != (long)count * InputSize)
            throw new ArgumentException($"Expected {count} rows x {InputSize} values = {(long)count * InputSize}, got {rows.Length}.", nameof(rows));
        VectorColumn.CheckFinite(rows, InputSize, columnName, nameof(rows), "the anomaly detector");
        var scores = new float[count];
        const int Batch = 1024;
        var work = new float[WorkLength(Math.Min(Batch, count))];
        using var lease = Lifetime.Use();
        for (int start = 0; start < count; start += Batch)
        {
            int n = Math.Min(Batch, count - start);
            ScoreBatch(rows.Slice(start * InputSize, n * InputSize), n, scores.AsSpan(start, n), default, work);
        }
        return scores;
    }

    /// <summary>Values of the work area <see cref="ScoreBatch"/> needs for <paramref name="rows"/> rows.</summary>
    internal int WorkLength(int rows) =>
        rows * (InputSize + ScoreKind switch
        {
            AnomalyScoreKind.NegativeElbo => 2 * members.Max(m => m.Model.LatentDimension),
            AnomalyScoreKind.ReconstructionAndCodeDistance => members.Max(m => m.Model.LatentDimension) + 1,
            _ => 0,
        });

    /// <summary>
    /// Scores (and per-feature squared errors, when asked for) of one batch. <paramref name="work"/> (at least
    /// <see cref="WorkLength"/> values, overwritten) holds the reconstruction: callers keep one per cursor, so that a long
    /// Transform does not allocate a large array per batch.
    /// </summary>
    internal void ScoreBatch(ReadOnlySpan<float> x, int rows, Span<float> scores, Span<float> featureErrors, Span<float> work)
    {
        if (work.Length < WorkLength(rows)) throw new ArgumentException($"The work area needs {WorkLength(rows)} values.", nameof(work));
        scores[..rows].Clear();
        if (!featureErrors.IsEmpty) featureErrors[..(rows * InputSize)].Clear();
        double share = 1.0 / members.Length;
        for (int m = 0; m < members.Length; m++)
            AddMemberScores(m, weights[m] * share, x, rows, scores, featureErrors, work);
    }

    /// <summary>Adds <paramref name="factor"/> x one member's scores (and per-feature squared errors) to the totals.</summary>
    private void AddMemberScores(int m, double factor, ReadOnlySpan<float> x, int rows, Span<float> scores, Span<float> featureErrors, Span<float> work)
    {
        var member = members[m];
        var model = member.Model;
        int d = InputSize, k = model.LatentDimension;
        bool elbo = ScoreKind == AnomalyScoreKind.NegativeElbo;
        var codePart = codeParts?[m];
        var reconstruction = work[..(rows * d)];
        var mean = elbo || codePart is not null ? work.Slice(rows * d, rows * k) : default;
        var logVariance = elbo ? work.Slice(rows * (d + k), rows * k) : default;
        var distances = codePart is not null ? work.Slice(rows * (d + k), rows) : default;
        model.Run(x, rows, new AutoencoderModel.RunOutputs { Latent = mean, LogVariance = logVariance, Reconstruction = reconstruction });
        codePart?.Distances(mean, rows, distances);
        bool bce = member.OptionsView.Loss == ReconstructionLoss.BinaryCrossEntropy;
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < d; j++)
            {
                double xi = x[r * d + j], yi = reconstruction[r * d + j], e = (xi - yi) * (xi - yi);
                if (!featureErrors.IsEmpty) featureErrors[r * d + j] = Saturate(featureErrors[r * d + j] + factor * e);
                if (elbo && bce)
                {
                    double p = Math.Clamp(yi, 1e-7, 1 - 1e-7);
                    sum -= xi * Math.Log(p) + (1 - xi) * Math.Log(1 - p);
                }
                else sum += e;
            }
            double score;
            if (elbo)
            {
                double kl = 0;
                for (int c = 0; c < k; c++)
                {
                    double mu = mean[r * k + c], lv = logVariance[r * k + c];
                    kl += -0.5 * (1 + lv - mu * mu - Math.Exp(lv));
                }
                score = sum + member.OptionsView.KlWeight * kl;
            }
            else if (codePart is not null) score = codePart.Combine(Saturate(sum / d), distances[r]); // the error as the training scores took it (float)
            else score = sum / d;
            scores[r] = Saturate(scores[r] + factor * score);
        }
    }

    /// <summary>Far-out rows score <see cref="float.MaxValue"/> rather than infinity.</summary>
    private static float Saturate(double value) => (float)Math.Min(value, float.MaxValue);
}
