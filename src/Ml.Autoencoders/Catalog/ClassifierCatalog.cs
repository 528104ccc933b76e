using Ml.Autoencoders;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Microsoft.ML;

/// <summary>The fine-tuning classifier on <c>mlContext.MulticlassClassification.Trainers</c>.</summary>
public static class ClassifierCatalog
{
    /// <summary>
    /// Fine-tunes a copy of <paramref name="autoencoder"/>'s encoder with a softmax head on the labelled rows
    /// (<see cref="AutoencoderClassifierTrainer"/>); outputs Score and PredictedLabel for <c>MulticlassClassification.Evaluate</c>.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="autoencoder">A fitted (pretrained) autoencoder, for example loaded with <c>AutoencoderTransformer.Load</c>.</param>
    /// <param name="labelColumnName">A key-typed label (after <c>MapValueToKey</c>).</param>
    /// <param name="epochs">Training epochs; null: chosen from the labelled rows (see <see cref="AutoencoderClassifierOptions.Epochs"/>).</param>
    /// <param name="freezeEncoderEpochs">Epochs at the start during which only the head trains.</param>
    /// <param name="encoderLearningRate">The encoder's learning rate; null = the head's.</param>
    /// <param name="seed">Seed of the head's initialisation, dropout and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderClassifierOptions.Seed"/>).</param>
    /// <example><code>
    /// var classifier = mlContext.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(mlContext.MulticlassClassification.Trainers.AutoencoderClassifier(pretrained, epochs: 30));
    /// </code></example>
    public static AutoencoderClassifierTrainer AutoencoderClassifier(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        AutoencoderTransformer autoencoder,
        string labelColumnName = DefaultColumnNames.Label,
        int? epochs = null,
        int freezeEncoderEpochs = 0,
        double? encoderLearningRate = null,
        int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderClassifierTrainer(new AutoencoderClassifierOptions
        {
            Autoencoder = autoencoder,
            LabelColumnName = labelColumnName,
            Epochs = epochs,
            FreezeEncoderEpochs = freezeEncoderEpochs,
            EncoderLearningRate = encoderLearningRate,
            Seed = seed,
        }, MlNetEnvironment.Of(catalog));
    }

    /// <summary>
    /// Fine-tunes the encoder of the autoencoder saved at <paramref name="autoencoderPath"/> (by
    /// <c>AutoencoderTransformer.Save</c>); as the overload taking a fitted autoencoder.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="autoencoderPath">A model file written by <c>AutoencoderTransformer.Save(path)</c>.</param>
    /// <param name="labelColumnName">A key-typed label (after <c>MapValueToKey</c>).</param>
    /// <param name="epochs">Training epochs; null: chosen from the labelled rows (see <see cref="AutoencoderClassifierOptions.Epochs"/>).</param>
    /// <param name="freezeEncoderEpochs">Epochs at the start during which only the head trains.</param>
    /// <param name="encoderLearningRate">The encoder's learning rate; null = the head's.</param>
    /// <param name="seed">Seed of the head's initialisation, dropout and shuffling; null (the default): the MLContext decides (see <see cref="AutoencoderClassifierOptions.Seed"/>).</param>
    /// <exception cref="Ml.Autoencoders.Persistence.AutoencoderModelFormatException">The file is damaged or not a model file.</exception>
    public static AutoencoderClassifierTrainer AutoencoderClassifier(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string autoencoderPath,
        string labelColumnName = DefaultColumnNames.Label,
        int? epochs = null,
        int freezeEncoderEpochs = 0,
        double? encoderLearningRate = null,
        int? seed = null) =>
        catalog.AutoencoderClassifier(AutoencoderTransformer.Load(autoencoderPath), labelColumnName, epochs, freezeEncoderEpochs, encoderLearningRate, seed);

    /// <summary>The fine-tuning classifier configured by <paramref name="options"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The autoencoder, columns, epochs, learning rates, freezing, dropout, validation and early stopping.</param>
    public static AutoencoderClassifierTrainer AutoencoderClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, AutoencoderClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AutoencoderClassifierTrainer(options, MlNetEnvironment.Of(catalog));
    }
}
