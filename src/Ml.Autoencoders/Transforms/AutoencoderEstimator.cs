using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Trains a dense autoencoder on a float vector column. <see cref="Fit"/> returns an
/// <see cref="AutoencoderTransformer"/> that appends the latent code, the reconstruction and the
/// reconstruction error. Create it with <c>mlContext.Transforms.Autoencoder(...)</c>.
/// </summary>
public sealed class AutoencoderEstimator : IEstimator<AutoencoderTransformer>
{
    private readonly AutoencoderOptions options;
    private readonly MlNetEnvironment? context;
    private readonly string seedSource;

    /// <summary>
    /// Creates the estimator without an <c>MLContext</c>; the options are copied and checked now. A null
    /// <see cref="AutoencoderOptions.Seed"/> trains with 0; nothing goes to a context's log or observes its cancellation
    /// (<c>mlContext.Transforms.Autoencoder(options)</c> does both).
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public AutoencoderEstimator(AutoencoderOptions options) : this(options, null)
    {
    }

    /// <summary>The estimator of a catalog: <paramref name="context"/> decides a null seed, receives the log and can cancel Fit.</summary>
    internal AutoencoderEstimator(AutoencoderOptions options, MlNetEnvironment? context)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options.CheckForThisMachine();
        this.options = options.Clone();
        this.context = context;
        (this.options.Seed, seedSource) = context?.ResolveSeed(options.Seed, "Autoencoder")
            ?? (options.FitSeed, options.Seed is null ? "no MLContext: 0" : "set in the options");
    }

    /// <summary>What leads this estimator's log lines when it trains as part of another stage ("member 2 of 5"); null alone.</summary>
    internal string? LogStage { get; init; }

    /// <summary>A copy of the options this estimator trains with.</summary>
    public AutoencoderOptions Options => options.Clone();

    /// <summary>Checks the input column and returns the schema after <c>Transform</c>, without training.</summary>
    /// <exception cref="AutoencoderSchemaException">The input column is missing, not a known-size float vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        bool tokens = options.Body?.TokenSlots is not null;
        if (tokens) VectorColumn.CheckTokens(inputSchema, options.InputColumnName);
        else VectorColumn.Check(inputSchema, options.InputColumnName);
        var input = inputSchema.Where(c => c.Name == options.InputColumnName).Last();
        return SchemaShapeColumns.Append(inputSchema, AutoencoderTransformer.OutputColumns(options.Outputs, options)
            .Select(c => tokens && c.Kind == AutoencoderOutputs.Reconstruction ? SchemaShapeColumns.KeyVector(c.Name, input.Annotations)
                : c.IsVector ? SchemaShapeColumns.Vector(c.Name) : SchemaShapeColumns.Scalar(c.Name)));
    }

    /// <summary>
    /// Trains on <paramref name="input"/>: one checked pass reads the rows (cached in one native buffer
    /// when they fit, see <see cref="AutoencoderOptions.Caching"/>), then the training loop runs.
    /// </summary>
    /// <exception cref="AutoencoderSchemaException">The input column is missing or of the wrong type.</exception>
    /// <exception cref="AutoencoderDataException">No rows, or a row with NaN/infinity (named).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The dense layers would have more than <see cref="AutoencoderOptions.Defaults.MaxParameters"/> weights for this input size, or a batch or shuffle buffer of this many rows cannot be held (names the option).</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    /// <exception cref="OperationCanceledException">The options' cancellation token was cancelled.</exception>
    /// <exception cref="AutoencoderCheckpointException"><see cref="AutoencoderOptions.CheckpointPath"/> cannot be written (checked before training).</exception>
    public AutoencoderTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var fit = FitContext.Start(context, "Autoencoder", LogStage);
        fit.ThrowIfCanceled("the autoencoder's training");
        fit.Trace($"seed {options.Seed} ({seedSource})");
        var (effective, smallDataChoice) = options.ApplySmallDataRule(options.SmallDataRuleMayApply ? CountRows(input, options.SmallDataRows) : null);
        if (ReferenceEquals(effective, options)) return FitWith(input, options, fit, smallDataChoice);

        // The small-data rule: a validation run finds the epoch count, then all rows train for that many epochs (the
        // held-out fifth is too much to lose on a few hundred rows, and the final run's schedule anneals fully).
        fit.Trace(smallDataChoice!);
        var probe = FitWith(input, effective, fit.Stage("small-data rule's validation run"), null);
        var probeHistory = probe.History;
        probe.Model.Dispose();
        var final = options.Clone();
        final.Epochs = probeHistory.BestEpoch;
        var model = FitWith(input, final, fit, smallDataChoice +
            $" The validation run trained {probeHistory.Epochs.Count} epochs{(probeHistory.StoppedEarly ? " (stopped early)" : "")}, the best at epoch " +
            $"{probeHistory.BestEpoch} (validation loss {probeHistory.Epochs[probeHistory.BestEpoch - 1].ValidationLoss:G4}); then all rows trained " +
            $"{probeHistory.BestEpoch} epochs, the learning-rate schedule over those.");
        model.History.EpochsChoice = probeHistory.EpochsChoice;
        return model;
    }

    /// <summary>
    /// The rows of <paramref name="input"/>, counted up to <paramref name="limit"/> when the view does not know its
    /// count (a cursor with no active column: cheap, and never more than <paramref name="limit"/> rows).
    /// </summary>
    private static long CountRows(IDataView input, int limit)
    {
        if (input.GetRowCount() is { } known) return known;
        long n = 0;
        using var cursor = input.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (n < limit && cursor.MoveNext()) n++;
        return n;
    }

    /// <summary>Trains with <paramref name="options"/> (the estimator's options after the small-data rule).</summary>
    private static AutoencoderTransformer FitWith(IDataView input, AutoencoderOptions options, FitContext fit, string? smallDataChoice)
    {
        if (options.Body is { TokenSlots: not null } tokenBody)
        {
            // A token body takes its vocabulary from the key column's type; the fitted options record it.
            var (_, keys) = VectorColumn.CheckTokens(input.Schema, options.InputColumnName, null);
            options = options.Clone();
            options.Body = tokenBody.WithTokenVocabulary(keys);
        }
        var (_, size) = options.Body?.Image is { } image
            ? VectorColumn.CheckImage(input.Schema, options.InputColumnName, image.Shape, image.Order)
            : options.Body?.TokenSlots is { } slots ? (0, slots)
            : VectorColumn.Check(input.Schema, options.InputColumnName, options.Body?.RowSize);
        // The network's size with the real input size, before reading any data.
        options.CheckParameterCount(options.Spec(size, Activation.Linear));
        if (options.CheckpointPath is { } checkpointTarget) CheckpointRun.CheckWritable(checkpointTarget);
        TorchRuntime.EnsureLoaded();
        using var threads = TorchThreads.Use(options.Threads);
        var device = TorchRuntime.Resolve(options.Device);

        options.Corruption?.Validate(size);
        using var data = TrainingDataPreparation.Prepare(input, options.ValidationData, size, options, device);
        var outputActivation = options.OutputActivation
            ?? (data.Min >= 0 && data.Max <= 1 ? Activation.Sigmoid : Activation.Linear);
        if (options.Loss == ReconstructionLoss.BinaryCrossEntropy && (data.Min < 0 || data.Max > 1))
            throw new AutoencoderDataException(options.InputColumnName, null,
                $"BinaryCrossEntropy needs inputs in [0, 1]; column '{options.InputColumnName}' ranges over [{data.Min}, {data.Max}]. Scale it (NormalizeMinMax) or use MeanSquaredError.");
        if (options.Corruption?.RangeProblem(data.Min, data.Max) is { } problem)
            throw new AutoencoderDataException(options.InputColumnName, null, $"Column '{options.InputColumnName}': {problem}");

        AutoencoderNetwork network = SeededNetworks.Create(options.Spec(size, outputActivation), options.FitSeed, device);
        IReadOnlyList<TrainingHistory>? pretraining = null;
        var fitted = options.Clone();
        fitted.OutputActivation = outputActivation;
        fitted.ValidationData = null;
        fitted.Progress = null;
        fitted.CancellationToken = default;
        fitted.ResumeFromCheckpoint = null;
        try
        {
            var (epochs, epochsChoice) = options.ChooseEpochs(data.TrainRows, network.parameters().Sum(p => p.numel()));
            fitted.Epochs = epochs;
            fit.Trace($"{epochs} epochs: {epochsChoice}");
            var settings = fit.Apply(options.Training(epochs), "the autoencoder's training");
            var objectiveSettings = options.Objective();
            var fingerprintOf = options.Clone(); // only runs that write or resume checkpoints serialise their options
            var run = new CheckpointRun(() => CheckpointFingerprint.Of(fingerprintOf), network.Description, data.Train is InMemoryTrainingData, data.TrainRows, data.Min, data.Max, epochs);
            var resume = options.ResumeFromCheckpoint is { } resumePath ? run.Check(CheckpointFingerprint.Upgrade(CheckpointFile.Read(resumePath)), resumePath) : null;
            if (resume is not null)
                pretraining = (resume.Header.Pretraining ?? Array.Empty<TrainingJson.StageEntry>())
                    .Select(st => TrainingJson.History(st.Epochs ?? Array.Empty<TrainingJson.EpochEntry>(), st.BestEpoch, st.StoppedEarly, st.RestoredBestWeights)).ToArray();
            else if (options.PretrainEpochs > 0)
                pretraining = (network as ILayerwisePretraining ?? throw new NotSupportedException($"Greedy layer-wise pretraining needs a body that can be peeled into layer pairs; {network.Description} cannot. Set PretrainEpochs = 0."))
                    .PretrainLayerwise(data.Train, data.Validation, objectiveSettings, settings with { Epochs = options.PretrainEpochs, LearningRate = options.PretrainLearningRate ?? options.LearningRate, MinLearningRate = Math.Min(options.MinLearningRate, options.PretrainLearningRate ?? options.LearningRate) },
                    (stageSpec, seed) => SeededNetworks.Create(stageSpec, seed, device), device);
            if (options.CheckpointPath is { } checkpointPath)
                settings = settings with { Checkpoint = run.Plan(Path.GetFullPath(checkpointPath), options.CheckpointEveryEpochs, pretraining) };
            using var objective = new AutoencoderObjective(network, objectiveSettings, options.FitSeed, device);
            var history = AutoencoderTrainer.Train(objective, data.Train, data.Validation, settings with { Resume = resume }, device);
            history.EpochsChoice = epochsChoice;
            history.SmallDataChoice = smallDataChoice;
            var model = new AutoencoderModel(network, device, history, pretraining) { Seed = options.FitSeed, TrainingRange = (data.Min, data.Max) };
            return new AutoencoderTransformer(model, fitted, size);
        }
        catch (TrainingDivergence d) when (d.BestEpoch > 0)
        {
            // The trainer put the best epoch's weights back: hand them over instead of dropping them.
            var history = new TrainingHistory(d.CompletedEpochs, d.BestEpoch, stoppedEarly: false, restoredBest: true);
            throw new TrainingDivergedException(d)
            {
                BestModel = new AutoencoderTransformer(new AutoencoderModel(network, device, history, pretraining) { Seed = options.FitSeed, TrainingRange = (data.Min, data.Max) }, fitted, size),
            };
        }
        catch (TrainingDivergence d)
        {
            network.Dispose();
            throw new TrainingDivergedException(d);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}
