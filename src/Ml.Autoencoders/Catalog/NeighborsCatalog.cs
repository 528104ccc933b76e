using Ml.Autoencoders;
using Ml.Autoencoders.Neighbors;

namespace Microsoft.ML;

/// <summary>Entry points on <c>mlContext.MulticlassClassification.Trainers</c>.</summary>
public static class NeighborsCatalog
{
    /// <summary>
    /// A k-nearest-neighbours classifier (<see cref="KNearestNeighborsTrainer"/>): exact search as batched matrix products
    /// on TorchSharp; outputs Score and PredictedLabel for <c>mlContext.MulticlassClassification.Evaluate</c>.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">A key-typed label (after <c>MapValueToKey</c>).</param>
    /// <param name="featureColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <param name="numberOfNeighbors">Neighbours that vote (k).</param>
    /// <param name="metric">The distance.</param>
    /// <param name="weighting">How neighbours vote.</param>
    /// <example><code>
    /// var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(mlContext.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 5));
    /// </code></example>
    public static KNearestNeighborsTrainer KNearestNeighbors(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = DefaultColumnNames.Label,
        string featureColumnName = DefaultColumnNames.Features,
        int numberOfNeighbors = KNearestNeighborsTrainer.Defaults.NumberOfNeighbors,
        NeighborMetric metric = NeighborMetric.Euclidean,
        NeighborWeighting weighting = NeighborWeighting.Uniform)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new KNearestNeighborsTrainer(new KNearestNeighborsTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            NumberOfNeighbors = numberOfNeighbors,
            Metric = metric,
            Weighting = weighting,
        });
    }

    /// <summary>A k-nearest-neighbours classifier configured by <paramref name="options"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">Columns, k, metric, weighting, batch size, device.</param>
    public static KNearestNeighborsTrainer KNearestNeighbors(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, KNearestNeighborsTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new KNearestNeighborsTrainer(options);
    }
}
