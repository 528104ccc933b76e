using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;
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

    internal AutoencoderAnomalyDetector(AutoencoderAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options.Clone();
        this.options.Autoencoder.InputColumnName = options.FeatureColumnName;
    }

    /// <summary>Trains the autoencoder, scores the training rows and sets the threshold.</summary>
    /// <exception cref="AutoencoderSchemaException">The feature column is missing or of the wrong type.</exception>
    /// <exception cref="AutoencoderDataException">A value is NaN or infinite (names the row), or there are no rows.</exception>
    public AutoencoderAnomalyTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var autoencoder = new AutoencoderEstimator(options.Autoencoder).Fit(input);
        try
        {
            var provisional = new AutoencoderAnomalyTransformer(autoencoder, options, [], 0);
            int d = autoencoder.InputSize;
            var scores = new List<float>();
            const int Batch = 1024;
            var rows = new float[Batch * d];
            var batchScores = new float[Batch];
            var work = new float[provisional.WorkLength(Batch)];
            int filled = 0;
            foreach (var (_, values) in new DataViewRows(input, options.FeatureColumnName, d, "the anomaly detector").Read(options.Autoencoder.CancellationToken))
            {
                values.Span.CopyTo(rows.AsSpan(filled * d, d));
                if (++filled == Batch)
                {
                    provisional.ScoreBatch(rows, Batch, batchScores, default, work);
                    scores.AddRange(batchScores);
                    filled = 0;
                }
            }
            if (filled > 0)
            {
                provisional.ScoreBatch(rows.AsSpan(0, filled * d), filled, batchScores.AsSpan(0, filled), default, work);
                scores.AddRange(batchScores.Take(filled));
            }
            var training = scores.ToArray();
            float threshold = options.Threshold is { } t ? (float)t : AutoencoderAnomalyTransformer.ContaminationThreshold(training, options.Contamination);
            return new AutoencoderAnomalyTransformer(autoencoder, options, training, threshold);
        }
        catch
        {
            autoencoder.Model.Dispose();
            throw;
        }
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
