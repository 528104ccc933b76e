using Microsoft.ML;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders;

/// <summary>Entry points on <see cref="TransformsCatalog"/> (<c>mlContext.Transforms</c>).</summary>
public static class AutoencoderCatalog
{
    /// <summary>
    /// A dense autoencoder with default options (<see cref="AutoencoderOptions.Defaults"/>): appends the
    /// latent code, the reconstruction and the reconstruction error of <paramref name="inputColumnName"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="latentDimension">Width of the latent code.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <param name="latentColumnName">Name of the appended latent-code column.</param>
    /// <param name="epochs">Training epochs; null lets the library choose (see <see cref="AutoencoderOptions.Epochs"/>).</param>
    /// <param name="seed">Seed of initialisation and shuffling.</param>
    /// <example><code>
    /// var pipeline = mlContext.Transforms.NormalizeMinMax("Features")
    ///     .Append(mlContext.Transforms.Autoencoder(latentDimension: 16));
    /// </code></example>
    public static AutoencoderEstimator Autoencoder(
        this TransformsCatalog catalog,
        int latentDimension = AutoencoderOptions.Defaults.LatentDimension,
        string inputColumnName = AutoencoderColumnNames.Features,
        string latentColumnName = AutoencoderColumnNames.LatentCode,
        int? epochs = null,
        int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderEstimator(new AutoencoderOptions
        {
            LatentDimension = latentDimension,
            InputColumnName = inputColumnName,
            LatentColumnName = latentColumnName,
            Epochs = epochs,
            Seed = seed,
        });
    }

    /// <summary>A dense autoencoder configured by <paramref name="options"/>.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every knob: columns, network, objective, training.</param>
    public static AutoencoderEstimator Autoencoder(this TransformsCatalog catalog, AutoencoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderEstimator(options);
    }
}
