using Ml.Autoencoders;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Microsoft.ML;

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
    /// <param name="seed">Seed of initialisation and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
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
        int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderEstimator(new AutoencoderOptions
        {
            LatentDimension = latentDimension,
            InputColumnName = inputColumnName,
            LatentColumnName = latentColumnName,
            Epochs = epochs,
            Seed = seed,
        }, MlNetEnvironment.Of(catalog));
    }

    /// <summary>A dense autoencoder configured by <paramref name="options"/>.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Every knob: columns, network, objective, training.</param>
    public static AutoencoderEstimator Autoencoder(this TransformsCatalog catalog, AutoencoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderEstimator(options, MlNetEnvironment.Of(catalog));
    }

    /// <summary>A denoising autoencoder (<see cref="AutoencoderPresets.Denoising"/>): Gaussian noise of <paramref name="noiseFactor"/> clipped to [0, 1] in training.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="noiseFactor">Standard deviation of the added noise.</param>
    /// <param name="latentDimension">Width of the latent code.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/> in [0, 1].</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation, shuffling and noise; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    public static AutoencoderEstimator DenoisingAutoencoder(this TransformsCatalog catalog, double noiseFactor = 0.6,
        int latentDimension = AutoencoderOptions.Defaults.LatentDimension, string inputColumnName = AutoencoderColumnNames.Features, int? epochs = null, int? seed = null) =>
        Preset(catalog, AutoencoderPresets.Denoising(noiseFactor), latentDimension, inputColumnName, epochs, seed);

    /// <summary>A sparse autoencoder (<see cref="AutoencoderPresets.Sparse"/>): KL sparsity towards a 5% activation rate by default.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="latentDimension">Width of the (sigmoid) code.</param>
    /// <param name="sparsityWeight">Weight of the sparsity penalty.</param>
    /// <param name="targetActivation">Target mean activation ρ of each code unit.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    public static AutoencoderEstimator SparseAutoencoder(this TransformsCatalog catalog, int latentDimension = 64, double sparsityWeight = 0.1,
        double targetActivation = 0.05, string inputColumnName = AutoencoderColumnNames.Features, int? epochs = null, int? seed = null) =>
        Preset(catalog, AutoencoderPresets.Sparse(latentDimension, Ml.Autoencoders.Objectives.SparsityKind.KlDivergence, sparsityWeight, targetActivation), latentDimension, inputColumnName, epochs, seed);

    /// <summary>A contractive autoencoder (<see cref="AutoencoderPresets.Contractive"/>).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="latentDimension">Width of the latent code.</param>
    /// <param name="contractiveWeight">Weight of the Jacobian penalty.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/>.</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    public static AutoencoderEstimator ContractiveAutoencoder(this TransformsCatalog catalog, int latentDimension = AutoencoderOptions.Defaults.LatentDimension,
        double contractiveWeight = 1e-4, string inputColumnName = AutoencoderColumnNames.Features, int? epochs = null, int? seed = null) =>
        Preset(catalog, AutoencoderPresets.Contractive(latentDimension, contractiveWeight), latentDimension, inputColumnName, epochs, seed);

    /// <summary>A variational autoencoder (<see cref="AutoencoderPresets.Variational"/>); a β-VAE when <paramref name="klWeight"/> is not 1.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="latentDimension">Latent units (2 for a plottable latent space).</param>
    /// <param name="klWeight">β, the weight of the KL term.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/> in [0, 1].</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation, shuffling and sampling; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    public static AutoencoderEstimator VariationalAutoencoder(this TransformsCatalog catalog, int latentDimension = 2, double klWeight = 1,
        string inputColumnName = AutoencoderColumnNames.Features, int? epochs = null, int? seed = null) =>
        Preset(catalog, AutoencoderPresets.Variational(latentDimension, klWeight), latentDimension, inputColumnName, epochs, seed);

    /// <summary>A stacked autoencoder (<see cref="AutoencoderPresets.Stacked"/>), with greedy layer-wise pretraining when <paramref name="pretrainEpochs"/> &gt; 0.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="hiddenLayerSizes">Hidden widths of the encoder, input side first (100 by default).</param>
    /// <param name="latentDimension">Width of the code.</param>
    /// <param name="pretrainEpochs">Epochs per greedy pretraining stage; 0 trains end to end only.</param>
    /// <param name="tiedWeights">Decoder weights are the transposed encoder weights.</param>
    /// <param name="inputColumnName">A known-size vector of <see cref="float"/> in [0, 1].</param>
    /// <param name="epochs">End-to-end training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    public static AutoencoderEstimator StackedAutoencoder(this TransformsCatalog catalog, int[]? hiddenLayerSizes = null, int latentDimension = 30,
        int pretrainEpochs = 0, bool tiedWeights = false, string inputColumnName = AutoencoderColumnNames.Features, int? epochs = null, int? seed = null) =>
        Preset(catalog, AutoencoderPresets.Stacked(hiddenLayerSizes, latentDimension, pretrainEpochs, tiedWeights), latentDimension, inputColumnName, epochs, seed);

    /// <summary>
    /// A convolutional autoencoder (<see cref="AutoencoderPresets.Convolutional"/>) on images of <paramref name="imageShape"/>:
    /// 3x3 stride-2 convolutions with <paramref name="channels"/> (16, 8 by default) and a mirrored decoder; the code
    /// column is the last feature map. Put it after <c>LoadImages</c>, <c>ResizeImages</c> and <c>ExtractPixels</c>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="imageShape">Channels, height and width of each image.</param>
    /// <param name="inputColumnName">The pixel vector (channels x height x width values).</param>
    /// <param name="channels">Channels of each encoder layer.</param>
    /// <param name="pixelOrder">Planar (ExtractPixels' default) or interleaved (<c>interleavePixelColors: true</c>).</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    /// <example><code>
    /// var pipeline = mlContext.Transforms.LoadImages("Image", folder, "Path")
    ///     .Append(mlContext.Transforms.ResizeImages("Image", 28, 28))
    ///     .Append(mlContext.Transforms.ExtractPixels("Features", "Image", ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
    ///     .Append(mlContext.Transforms.ConvolutionalAutoencoder(new ImageShape(1, 28, 28)));
    /// </code></example>
    public static AutoencoderEstimator ConvolutionalAutoencoder(this TransformsCatalog catalog, ImageShape imageShape, string inputColumnName = AutoencoderColumnNames.Features,
        int[]? channels = null, PixelOrder pixelOrder = PixelOrder.Planar, int? epochs = null, int? seed = null)
    {
        var options = AutoencoderPresets.Convolutional(imageShape, channels, pixelOrder: pixelOrder);
        return Preset(catalog, options, options.LatentDimension, inputColumnName, epochs, seed);
    }

    /// <summary>
    /// The convolutional denoising autoencoder (<see cref="AutoencoderPresets.ConvolutionalDenoising"/>): trained on images with
    /// Gaussian noise of <paramref name="noiseFactor"/> clipped to [0, 1] to give back the clean image.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="imageShape">Channels, height and width of each image.</param>
    /// <param name="noiseFactor">Standard deviation of the added noise.</param>
    /// <param name="inputColumnName">The pixel vector in [0, 1] (ExtractPixels with <c>scaleImage: 1f / 255</c>).</param>
    /// <param name="pixelOrder">Planar (ExtractPixels' default) or interleaved.</param>
    /// <param name="epochs">Training epochs; null lets the library choose.</param>
    /// <param name="seed">Seed of initialisation, shuffling and noise; null (the default): the MLContext decides (see <see cref="AutoencoderOptions.Seed"/>).</param>
    /// <param name="classic">True: the Keras tutorial's recipe exactly (see the preset); false: the better default.</param>
    public static AutoencoderEstimator ConvolutionalDenoisingAutoencoder(this TransformsCatalog catalog, ImageShape imageShape, double noiseFactor = 0.6,
        string inputColumnName = AutoencoderColumnNames.Features, PixelOrder pixelOrder = PixelOrder.Planar, int? epochs = null, int? seed = null, bool classic = false)
    {
        var options = AutoencoderPresets.ConvolutionalDenoising(imageShape, noiseFactor, pixelOrder, classic);
        return Preset(catalog, options, options.LatentDimension, inputColumnName, epochs, seed);
    }

    private static AutoencoderEstimator Preset(TransformsCatalog catalog, AutoencoderOptions options, int latentDimension, string inputColumnName, int? epochs, int? seed)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        options.LatentDimension = latentDimension;
        options.InputColumnName = inputColumnName;
        options.Epochs = epochs;
        options.Seed = seed;
        return new AutoencoderEstimator(options, MlNetEnvironment.Of(catalog));
    }
}
