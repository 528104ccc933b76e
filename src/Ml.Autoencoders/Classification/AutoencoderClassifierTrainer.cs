using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Classification;

/// <summary>
/// Supervised fine-tuning of a pretrained autoencoder's encoder as an ML.NET multiclass classifier: a copy of the
/// encoder gets a dropout + linear softmax head and trains with cross-entropy on the labelled rows, keeping the
/// autoencoder's own objective as an auxiliary loss (<see cref="AutoencoderClassifierOptions.ReconstructionWeight"/>),
/// through the library's one training loop (Adam; the encoder can have its own learning rate, be frozen for the first epochs or for good; a
/// learning-rate schedule; optional validation split with early stopping that restores the best weights; a NaN guard). Create it with
/// <c>mlContext.MulticlassClassification.Trainers.AutoencoderClassifier(...)</c>; the output (Score, PredictedLabel)
/// goes to <c>mlContext.MulticlassClassification.Evaluate</c>.
/// </summary>
public sealed class AutoencoderClassifierTrainer : IEstimator<AutoencoderClassifierTransformer>
{
    private readonly AutoencoderClassifierOptions options;
    private readonly MlNetEnvironment? context;
    private readonly int seed;
    private readonly string seedSource;

    /// <summary>The trainer of a catalog: <paramref name="context"/> decides a null seed, receives the log and can cancel Fit.</summary>
    internal AutoencoderClassifierTrainer(AutoencoderClassifierOptions options, MlNetEnvironment? context)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options.Clone();
        this.context = context;
        (seed, seedSource) = context?.ResolveSeed(options.Seed, "AutoencoderClassifier")
            ?? (options.Seed ?? 0, options.Seed is null ? "no MLContext: 0" : "set in the options");
        this.options.Seed = seed;
    }

    private const string Training = "the fine-tuning classifier's training";

    private string FeatureColumn => options.FeatureColumnName ?? options.Autoencoder!.InputColumnName;

    /// <summary>Reads the labelled rows, copies the encoder, and trains the classifier.</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing, of the wrong type, or not the autoencoder's input size.</exception>
    /// <exception cref="AutoencoderDataException">A feature is NaN or infinite (names the row), or there are no labelled rows.</exception>
    /// <exception cref="AutoencoderClassifierDivergedException">The loss or the weights became NaN or infinite (names the epoch; holds the best epoch's model when there is one).</exception>
    public AutoencoderClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var fit = FitContext.Start(context, "AutoencoderClassifier");
        fit.ThrowIfCanceled(Training);
        fit.Trace($"seed {seed} ({seedSource})");
        var pretrained = options.Autoencoder!;
        VectorColumn.Check(input.Schema, FeatureColumn, pretrained.InputSize);
        var data = LabelledRows.Read(input, FeatureColumn, options.LabelColumnName, "the fine-tuning classifier", options.CancellationToken);
        if (data.Count == 0)
            throw new AutoencoderDataException(options.LabelColumnName, null, $"Column '{options.LabelColumnName}' has no labelled rows ({data.SkippedRows} rows with a missing label).");
        using var threads = TorchThreads.Use(options.Threads);
        var autoencoder = Copy(pretrained, options.ReinitializeEncoder, seed);
        EncoderClassifierNetwork? network = null;
        try
        {
            var device = autoencoder.Model.TorchDevice;
            lock (SeededNetworks.Lock)
            {
                random.manual_seed(seed);
                network = new EncoderClassifierNetwork(autoencoder.Model.Network, data.ClassCount, options.HeadDropout);
                network.to(device);
            }
            var history = Train(network, autoencoder, data, device, fit);
            network.eval();
            return new AutoencoderClassifierTransformer(autoencoder, network, FeatureColumn, options.ScoreColumnName, options.PredictedLabelColumnName,
                Pipeline.KeyValueNames.From(data.LabelColumn, data.ClassCount), history) { Seed = seed };
        }
        catch (AutoencoderClassifierDivergedException e) when (e.BestEpoch > 0 && network is not null)
        {
            // Train put the best epoch's weights back: hand them over instead of dropping them.
            network.eval();
            var history = new TrainingHistory(e.CompletedEpochs, e.BestEpoch, stoppedEarly: false, restoredBest: true);
            e.BestModel = new AutoencoderClassifierTransformer(autoencoder, network, FeatureColumn, options.ScoreColumnName, options.PredictedLabelColumnName,
                Pipeline.KeyValueNames.From(data.LabelColumn, data.ClassCount), history) { Seed = seed };
            throw;
        }
        catch
        {
            autoencoder.Model.Dispose();
            throw;
        }
    }

    /// <summary>An independent copy of the autoencoder (through its own model file), or a freshly initialised one of the same architecture.</summary>
    private static AutoencoderTransformer Copy(AutoencoderTransformer source, bool reinitialize, int seed)
    {
        using var buffer = new MemoryStream();
        source.Save(buffer);
        buffer.Position = 0;
        var copy = AutoencoderModelFile.Load(buffer, source.Model.Device);
        if (!reinitialize) return copy;
        var device = copy.Model.TorchDevice;
        var fresh = SeededNetworks.Create(copy.Model.Network.BodySpec, seed, device);
        var result = new AutoencoderTransformer(new AutoencoderModel(fresh, device, copy.History) { Seed = seed, TrainingRange = copy.Model.TrainingRange }, copy.OptionsView.Clone(), copy.InputSize);
        copy.Model.Dispose();
        return result;
    }

    /// <summary>
    /// Fine-tunes through the one training loop (<see cref="AutoencoderTrainer"/>): cross-entropy on labelled batches (plus
    /// the auxiliary reconstruction when its weight is above 0), Adam over the encoder, head (and decoder) groups, the
    /// loop's NaN guard, progress and cancellation, for the epochs given or chosen. The seeded generator that splits
    /// the rows goes on drawing every epoch's shuffle; early stopping and best-weight restore watch the validation loss.
    /// </summary>
    private TrainingHistory Train(EncoderClassifierNetwork network, AutoencoderTransformer autoencoder, LabelledRows data, Device device, FitContext fit)
    {
        var random = new Random(seed);
        var (train, validation) = LabelledTrainingData.Split(data.Rows, data.Labels, data.Features, options.ValidationFraction, random);
        if (train.Count == 0) throw new AutoencoderDataException(options.LabelColumnName, null, "No labelled rows are left for training after the validation split.");

        var (epochs, epochsChoice) = options.ChooseEpochs(train.Count);
        var encoderParameters = EncoderClassifierNetwork.EncoderParameters(network.Autoencoder, device);
        using var reconstruction = options.ReconstructionWeight > 0 && !options.FreezeEncoder
            ? new AutoencoderObjective(network.Autoencoder, autoencoder.OptionsView.Objective(), seed, device)
            : null;
        var auxiliary = reconstruction is null ? null : Auxiliary(reconstruction, network.Autoencoder, encoderParameters, train, device);
        var objective = new ClassificationObjective(network, network.Autoencoder, encoderParameters,
            network.Head.parameters().ToList(), options.EncoderLearningRate, options.FreezeEncoderEpochs, options.FreezeEncoder, auxiliary);
        var settings = new TrainingSettings
        {
            Epochs = epochs,
            BatchSize = options.BatchSize,
            Seed = seed,
            ShuffleGenerator = random,
            Optimizer = OptimizerKind.Adam,
            LearningRate = options.LearningRate,
            Schedule = options.LearningRateSchedule,
            MinLearningRate = options.MinLearningRate,
            StepSize = options.StepSize,
            StepFactor = options.StepFactor,
            // Without validation rows (none asked for, or too few to round to one) nothing stops early or is restored.
            EarlyStoppingPatience = validation is null ? 0 : options.EarlyStoppingPatience,
            RestoreBestWeights = validation is not null,
            Progress = options.Progress,
            CancellationToken = options.CancellationToken,
        };
        try
        {
            var history = AutoencoderTrainer.Train(objective, train, validation, fit.Apply(settings, Training), device);
            // Without validation the history reports the last epoch as the best (nothing is restored), as it always has.
            if (validation is null) history = new TrainingHistory(history.Epochs, history.Epochs.Count, history.StoppedEarly, history.RestoredBestWeights);
            history.EpochsChoice = epochsChoice;
            history.FineTuningChoice = Describe(auxiliary, epochs);
            return history;
        }
        catch (TrainingDivergence e)
        {
            // The loop put the best epoch's weights back; the user gets the classifier's own error, worded for fine-tuning.
            throw new AutoencoderClassifierDivergedException(e);
        }
        finally
        {
            objective.ThawEncoder();
        }
    }

    /// <summary>
    /// The autoencoder's own objective as an auxiliary term: scaled by its value on the training rows before fine-tuning
    /// (evaluation mode, clean input), and training the parameters the encoder does not use (the decoder).
    /// </summary>
    private AuxiliaryObjective Auxiliary(AutoencoderObjective reconstruction, Networks.AutoencoderNetwork autoencoder, IReadOnlyList<TorchSharp.Modules.Parameter> encoderParameters,
        LabelledTrainingData train, Device device)
    {
        double start = AutoencoderTrainer.Evaluate(reconstruction, train, options.BatchSize, device, options.CancellationToken).Loss;
        // A loss of 0 (rows the autoencoder reproduces exactly) leaves nothing to scale by: the weight then applies as it is.
        double scale = start > 0 && double.IsFinite(start) ? start : 1;
        var encoderSet = new HashSet<TorchSharp.Modules.Parameter>(encoderParameters, ReferenceEqualityComparer.Instance);
        var decoder = autoencoder.parameters().Where(p => !encoderSet.Contains(p)).ToList();
        return new AuxiliaryObjective(reconstruction, decoder, options.ReconstructionWeight, scale);
    }

    /// <summary>What fine-tuning used, for <see cref="TrainingHistory.FineTuningChoice"/>.</summary>
    private string Describe(AuxiliaryObjective? auxiliary, int epochs)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        string encoder = options.FreezeEncoder ? "encoder frozen for good"
            : string.Create(culture, $"encoder learning rate {options.EncoderLearningRate ?? options.LearningRate} (head {options.LearningRate}), frozen for the first {Math.Min(options.FreezeEncoderEpochs, epochs)} epochs");
        string reconstruction = auxiliary is null
            ? (options.FreezeEncoder && options.ReconstructionWeight > 0 ? "no auxiliary reconstruction (the encoder is frozen)" : "no auxiliary reconstruction (ReconstructionWeight 0)")
            : string.Create(culture, $"auxiliary reconstruction weight {auxiliary.Weight} over its value before fine-tuning, {auxiliary.Scale:G6}, on {auxiliary.Parameters.Count} decoder tensors");
        return $"{(options.ReinitializeEncoder ? "encoder from random weights" : "pretrained encoder")}; {encoder}; {reconstruction}";
    }

    /// <summary>Checks the columns before any work and adds Score (float vector) and PredictedLabel (key).</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing or of the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        VectorColumn.Check(inputSchema, FeatureColumn);
        var keyValues = LabelledRows.CheckLabel(inputSchema, options.LabelColumnName);
        return SchemaShapeColumns.Append(inputSchema,
            [SchemaShapeColumns.Vector(options.ScoreColumnName), SchemaShapeColumns.Key(options.PredictedLabelColumnName, keyValues)]);
    }
}
