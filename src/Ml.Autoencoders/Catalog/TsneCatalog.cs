using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Pipeline;

namespace Microsoft.ML;

/// <summary>The t-SNE entry points on <see cref="TransformsCatalog"/> (<c>mlContext.Transforms</c>).</summary>
public static class TsneCatalog
{
    /// <summary>
    /// t-SNE of <paramref name="inputColumnName"/> into <paramref name="dimensions"/> dimensions (<see cref="TsneEstimator"/>),
    /// named like ML.NET's <c>ProjectToPrincipalComponents</c>. Fit embeds the training rows; Transform of other rows
    /// places them against the fixed training embedding.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The appended coordinates column.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <param name="dimensions">1, 2 or 3.</param>
    /// <param name="perplexity">Effective number of neighbours.</param>
    /// <param name="iterations">Optimisation iterations (early exaggeration included).</param>
    /// <param name="seed">Seed of the random initialisation (PCA initialisation, the default, is deterministic); null (the default): the MLContext decides (see <see cref="TsneOptions.Seed"/>).</param>
    /// <example><code>
    /// var embedding = mlContext.Transforms.ProjectToTsne("Tsne", "LatentCode").Fit(codes).Transform(codes);
    /// </code></example>
    public static TsneEstimator ProjectToTsne(
        this TransformsCatalog catalog,
        string outputColumnName = TsneOptions.Defaults.OutputColumnName,
        string inputColumnName = TsneOptions.Defaults.InputColumnName,
        int dimensions = TsneOptions.Defaults.Dimensions,
        double perplexity = TsneOptions.Defaults.Perplexity,
        int iterations = TsneOptions.Defaults.Iterations,
        int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TsneEstimator(new TsneOptions
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            Dimensions = dimensions,
            Perplexity = perplexity,
            Iterations = iterations,
            Seed = seed,
        }, MlNetEnvironment.Of(catalog));
    }

    /// <summary>t-SNE configured by <paramref name="options"/>.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every knob: columns, dimensions, perplexity, exaggeration, learning rate, iterations, method, progress.</param>
    public static TsneEstimator ProjectToTsne(this TransformsCatalog catalog, TsneOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TsneEstimator(options, MlNetEnvironment.Of(catalog));
    }
}
