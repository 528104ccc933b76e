using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Anomaly;

/// <summary>
/// Anomaly detection by reconstruction error, as an ML.NET anomaly-detection trainer: <see cref="Fit"/> trains an
/// autoencoder (any body: dense, convolutional, variational) on the training rows, scores them, and sets the threshold
/// from <see cref="AutoencoderAnomalyOptions.Contamination"/> (or takes <see cref="AutoencoderAnomalyOptions.Threshold"/>).
/// Create it with <c>mlContext.AnomalyDetection.Trainers.Autoencoder(...)</c>; its output goes to
/// <c>mlContext.AnomalyDetection.Evaluate</c> (Label <see cref="float"/>: 1 = anomaly) like RandomizedPca's does.
/// </summary>
public sealed class AutoencoderAnomalyDetector : IEstimator<AutoencoderAnomalyTransformer>
{
    private readonly AutoencoderAnomalyOptions options;
    private readonly MlNetEnvironment? context;
    private readonly string seedSource;

    /// <summary>The detector of a catalog: <paramref name="context"/> decides a null seed, receives the log and can cancel Fit.</summary>
    internal AutoencoderAnomalyDetector(AutoencoderAnomalyOptions options, MlNetEnvironment? context)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options.Clone();
        this.context = context;
        (this.options.Seed, seedSource) = context?.ResolveSeed(options.Seed, "AutoencoderAnomalyDetector")
            ?? (options.Seed ?? 0, options.Seed is null ? "no MLContext: 0" : "set in the options");
        if (this.options.Autoencoder is { } body)
        {
            body.InputColumnName = options.FeatureColumnName;
            body.Seed ??= this.options.Seed;
            body.Validate();
        }
    }

    /// <summary>
    /// Trains the autoencoder (or the ensemble's members, see <see cref="AutoencoderAnomalyOptions.EnsembleSize"/>),
    /// scores the training rows and sets the threshold.
    /// </summary>
    /// <exception cref="AutoencoderSchemaException">The feature column is missing or of the wrong type.</exception>
    /// <exception cref="AutoencoderDataException">A value is NaN or infinite (names the row), or there are no rows.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dense code (LatentDimension) is not narrower than the input and
    /// <see cref="AutoencoderAnomalyOptions.AllowWideCode"/> is off, or the input has fewer than 2 values.</exception>
    public AutoencoderAnomalyTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var fit = FitContext.Start(context, "AutoencoderAnomalyDetector");
        fit.ThrowIfCanceled(Training);
        fit.Trace($"seed {options.Seed} ({seedSource}){(options.Autoencoder is { } given ? $"; the given body's seed {given.Seed}" : "")}");
        using var threads = Runtime.TorchThreads.Use(options.Threads);
        var body = options.Autoencoder;
        int inputSize = body?.Body is not null ? 0 : VectorColumn.Check(input.Schema, options.FeatureColumnName, null).Size;
        string? epochsChoice = null;
        int members = options.EnsembleSize ?? 1;
        if (body is null)
        {
            body = AutoencoderAnomalyOptions.DefaultAutoencoder(inputSize, options.Epochs, options.Seed);
            body.InputColumnName = options.FeatureColumnName;
            long rows = CountRows(input);
            members = options.EnsembleSize ?? AutoencoderAnomalyOptions.Defaults.EnsembleSize(rows);
            if (options.Epochs is null)
            {
                (int epochs, epochsChoice) = AutoencoderAnomalyOptions.Defaults.ChooseEpochs(rows, body.BatchSize);
                body.Epochs = epochs;
            }
        }
        else if (body.Body is null && body.LatentDimension >= inputSize && !options.AllowWideCode)
        {
            throw new ArgumentOutOfRangeException(nameof(AutoencoderOptions.LatentDimension), body.LatentDimension,
                $"The code (Autoencoder.LatentDimension = {body.LatentDimension}) is not narrower than the input ({inputSize} values of column '{options.FeatureColumnName}'): " +
                $"it can learn the identity and reconstruct anomalies as well as normal rows. Use a LatentDimension below {inputSize} " +
                $"(the default body uses {AutoencoderAnomalyOptions.Defaults.LatentDimension(Math.Max(2, inputSize))}), or set AutoencoderAnomalyOptions.AllowWideCode = true.");
        }
        var trained = new List<AutoencoderTransformer>();
        bool codeDistance = options.ScoreKind == AnomalyScoreKind.ReconstructionAndCodeDistance;
        var codeParts = new List<CodeDistance>();
        try
        {
            var rawTraining = new List<float[]>();
            for (int m = 0; m < members; m++)
            {
                fit.ThrowIfCanceled(Training);
                var memberOptions = body.Clone();
                memberOptions.Seed = body.Seed + m;
                var member = new AutoencoderEstimator(memberOptions, context) { LogStage = members > 1 ? $"anomaly detector member {m + 1} of {members}" : "anomaly detector" }.Fit(input);
                trained.Add(member);
                if (epochsChoice is not null) member.Model.History.EpochsChoice = epochsChoice;
                if (codeDistance)
                {
                    // each row's reconstruction error (the score ReconstructionError gives) and its code
                    var (errors, codes) = ScoreRows(new AutoencoderAnomalyModel([member], [1f], AnomalyScoreKind.ReconstructionError, []), input, member);
                    var (part, scores) = CodeDistance.Fit(member, errors, codes!, options.CodeNeighbors, AutoencoderAnomalyOptions.Defaults.MaxReferenceRows,
                        member.Model.Seed);
                    codeParts.Add(part);
                    rawTraining.Add(scores);
                }
                else rawTraining.Add(ScoreRows(new AutoencoderAnomalyModel([member], [1f], options.ScoreKind, []), input).Scores);
            }
            // Standardised member scores (code distance) share a scale already; the others are rescaled to a common mean.
            var weights = codeDistance
                ? Enumerable.Repeat(1f, members).ToArray()
                : AutoencoderAnomalyTransformer.WeightsFromMeans(rawTraining.Select(r => r.Length == 0 ? 0 : r.Average(v => (double)v)).ToArray());
            var training = new float[rawTraining[0].Length];
            for (int i = 0; i < training.Length; i++)
            {
                double sum = 0;
                for (int m = 0; m < members; m++) sum += weights[m] * (double)rawTraining[m][i];
                training[i] = (float)Math.Min(sum / members, float.MaxValue);
            }
            float threshold = options.Threshold is { } t ? (float)t : AutoencoderAnomalyTransformer.ContaminationThreshold(training, options.Contamination);
            fit.Info(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"threshold {threshold:G6} ") + (options.Threshold is null
                ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"(contamination {options.Contamination}: {training.Count(s => s > threshold)} of {training.Length} training rows score above it)")
                : "(set in the options)"));
            return new AutoencoderAnomalyTransformer(trained, weights, options, training, threshold, codeDistance ? codeParts.ToArray() : null);
        }
        catch
        {
            foreach (var member in trained) member.Model.Dispose();
            foreach (var part in codeParts) part.Dispose();
            throw;
        }
    }

    private const string Training = "the anomaly detector's training";

    /// <summary>Rows of the training view (a cursor with no active column when the view cannot count them).</summary>
    private long CountRows(IDataView input)
    {
        if (input.GetRowCount() is { } known) return (long)known;
        long n = 0;
        using var cursor = input.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
        {
            options.Autoencoder?.CancellationToken.ThrowIfCancellationRequested();
            n++;
        }
        return n;
    }

    /// <summary>
    /// The scores of every row of <paramref name="input"/>, in order, and, when <paramref name="codesOf"/> is given, each
    /// row's code from that member (rows x its code size).
    /// </summary>
    private (float[] Scores, float[]? Codes) ScoreRows(AutoencoderAnomalyModel detector, IDataView input, AutoencoderTransformer? codesOf = null)
    {
        int d = detector.InputSize, k = codesOf?.Model.LatentDimension ?? 0;
        var scores = new List<float>();
        var codes = codesOf is null ? null : new List<float>();
        const int Batch = 1024;
        var rows = new float[Batch * d];
        var batchScores = new float[Batch];
        var batchCodes = new float[Batch * k];
        var work = new float[detector.WorkLength(Batch)];
        int filled = 0;
        void Flush()
        {
            detector.ScoreBatch(rows.AsSpan(0, filled * d), filled, batchScores.AsSpan(0, filled), default, work);
            scores.AddRange(batchScores.Take(filled));
            if (codesOf is not null)
            {
                codesOf.Model.Run(rows.AsSpan(0, filled * d), filled, new Models.AutoencoderModel.RunOutputs { Latent = batchCodes.AsSpan(0, filled * k) });
                codes!.AddRange(batchCodes.Take(filled * k));
            }
            filled = 0;
        }
        foreach (var (_, values) in new DataViewRows(input, options.FeatureColumnName, d, "the anomaly detector").Read(options.Autoencoder?.CancellationToken ?? default))
        {
            values.Span.CopyTo(rows.AsSpan(filled * d, d));
            if (++filled == Batch) Flush();
        }
        if (filled > 0) Flush();
        return (scores.ToArray(), codes?.ToArray());
    }

    /// <summary>Checks the feature column before any work and adds Score (Single), PredictedLabel (Boolean) and the optional per-feature errors.</summary>
    /// <exception cref="AutoencoderSchemaException">The feature column is missing or not a float vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        VectorColumn.Check(inputSchema, options.FeatureColumnName);
        var added = new List<SchemaShape.Column>
        {
            SchemaShapeColumns.Scalar(options.ScoreColumnName),
            SchemaShapeColumns.Boolean(options.PredictedLabelColumnName),
        };
        if (options.FeatureErrorsColumnName is { } errors) added.Add(SchemaShapeColumns.Vector(errors));
        return SchemaShapeColumns.Append(inputSchema, added);
    }
}
