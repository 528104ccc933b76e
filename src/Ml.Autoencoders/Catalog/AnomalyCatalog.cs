using Ml.Autoencoders;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Pipeline;

namespace Microsoft.ML;

/// <summary>Entry points on <c>mlContext.AnomalyDetection.Trainers</c> and <c>mlContext.AnomalyDetection</c>.</summary>
public static class AnomalyCatalog
{
    /// <summary>
    /// An autoencoder anomaly detector with the default body (<see cref="AutoencoderAnomalyOptions.Default"/>): Score =
    /// reconstruction error, PredictedLabel = Score above the threshold that flags <paramref name="contamination"/> of the
    /// training rows. Its output goes to <c>mlContext.AnomalyDetection.Evaluate</c>.
    /// </summary>
    /// <param name="catalog">The anomaly-detection trainers catalog.</param>
    /// <param name="featureColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <param name="contamination">Fraction of training rows flagged, in [0, 1).</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderAnomalyOptions.Seed"/>).</param>
    /// <example><code>
    /// var detector = mlContext.AnomalyDetection.Trainers.Autoencoder(contamination: 0.05).Fit(normalRows);
    /// var metrics = mlContext.AnomalyDetection.Evaluate(detector.Transform(test));
    /// </code></example>
    public static AutoencoderAnomalyDetector Autoencoder(
        this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = DefaultColumnNames.Features,
        double contamination = 0.1,
        int? epochs = null,
        int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var options = AutoencoderAnomalyOptions.Default(epochs, seed);
        options.FeatureColumnName = featureColumnName;
        options.Contamination = contamination;
        return new AutoencoderAnomalyDetector(options, MlNetEnvironment.Of(catalog));
    }

    /// <summary>An autoencoder anomaly detector configured by <paramref name="options"/> (any body, score kind, threshold).</summary>
    /// <param name="catalog">The anomaly-detection trainers catalog.</param>
    /// <param name="options">Columns, autoencoder body, contamination or threshold, score kind, per-feature errors.</param>
    public static AutoencoderAnomalyDetector Autoencoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog, AutoencoderAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderAnomalyDetector(options, MlNetEnvironment.Of(catalog));
    }

    /// <summary>
    /// The autoencoder detector with another threshold, as <c>mlContext.AnomalyDetection.ChangeModelThreshold</c> does for
    /// ML.NET's own detectors: a new transformer over the same trained <see cref="AutoencoderAnomalyTransformer.Model"/> (no
    /// copy, no retraining) whose PredictedLabel is Score &gt; <paramref name="threshold"/>; Score does not change, and
    /// <paramref name="model"/> keeps its threshold. Unlike ML.NET's, it returns a new transformer even for the same
    /// threshold (ours can change its <see cref="AutoencoderAnomalyTransformer.Threshold"/> afterwards; ML.NET's cannot).
    /// </summary>
    /// <remarks>
    /// Both transformers share the members' native memory: <c>Release()</c> on either frees it for both, after the batches
    /// either is computing finish; then both throw <see cref="ObjectDisposedException"/>. Release only when neither is needed
    /// any more (or leave it to the garbage collector). Saving either writes a complete, independent file.
    /// </remarks>
    /// <param name="catalog">The anomaly-detection catalog.</param>
    /// <param name="model">A fitted (or loaded) autoencoder anomaly detector.</param>
    /// <param name="threshold">Rows scoring above it are anomalies; finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is NaN or infinite.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="model"/> was released.</exception>
    /// <example><code>
    /// var detector = mlContext.AnomalyDetection.Trainers.Autoencoder(contamination: 0.05).Fit(normalRows);
    /// var stricter = mlContext.AnomalyDetection.ChangeModelThreshold(detector, detector.Threshold * 2);
    /// </code></example>
    public static AutoencoderAnomalyTransformer ChangeModelThreshold(this AnomalyDetectionCatalog catalog, AutoencoderAnomalyTransformer model, float threshold)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        return model.WithThreshold(threshold);
    }
}
