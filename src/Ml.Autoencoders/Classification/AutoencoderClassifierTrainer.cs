using Ml.Autoencoders.Models;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using System.Diagnostics;
using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Classification;

/// <summary>
/// Supervised fine-tuning of a pretrained autoencoder's encoder as an ML.NET multiclass classifier: a copy of the
/// encoder gets a dropout + linear softmax head and trains with cross-entropy on the labelled rows (Adam; the encoder
/// can have its own learning rate, be frozen for the first epochs or for good; optional validation split with early
/// stopping that restores the best weights). Create it with
/// <c>mlContext.MulticlassClassification.Trainers.AutoencoderClassifier(...)</c>; the output (Score, PredictedLabel)
/// goes to <c>mlContext.MulticlassClassification.Evaluate</c>.
/// </summary>
public sealed class AutoencoderClassifierTrainer : IEstimator<AutoencoderClassifierTransformer>
{
    private readonly AutoencoderClassifierOptions options;

    internal AutoencoderClassifierTrainer(AutoencoderClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options.Clone();
    }

    private string FeatureColumn => options.FeatureColumnName ?? options.Autoencoder!.InputColumnName;

    /// <summary>Reads the labelled rows, copies the encoder, and trains the classifier.</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing, of the wrong type, or not the autoencoder's input size.</exception>
    /// <exception cref="AutoencoderDataException">A feature is NaN or infinite (names the row), or there are no labelled rows.</exception>
    /// <exception cref="AutoencoderClassifierDivergedException">The loss or the weights became NaN or infinite (names the epoch; holds the best epoch's model when there is one).</exception>
    public AutoencoderClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var pretrained = options.Autoencoder!;
        VectorColumn.Check(input.Schema, FeatureColumn, pretrained.InputSize);
        var data = LabelledRows.Read(input, FeatureColumn, options.LabelColumnName, "the fine-tuning classifier", options.CancellationToken);
        if (data.Count == 0)
            throw new AutoencoderDataException(options.LabelColumnName, null, $"Column '{options.LabelColumnName}' has no labelled rows ({data.SkippedRows} rows with a missing label).");
        using var threads = TorchThreads.Use(options.Threads);
        var autoencoder = Copy(pretrained, options.ReinitializeEncoder, options.Seed);
        EncoderClassifierNetwork? network = null;
        try
        {
            var device = autoencoder.Model.TorchDevice;
            lock (SeededNetworks.Lock)
            {
                random.manual_seed(options.Seed);
                network = new EncoderClassifierNetwork(autoencoder.Model.Network, data.ClassCount, options.HeadDropout);
                network.to(device);
            }
            var history = Train(network, data, device);
            network.eval();
            return new AutoencoderClassifierTransformer(autoencoder, network, FeatureColumn, options.ScoreColumnName, options.PredictedLabelColumnName,
                Pipeline.KeyValueNames.From(data.LabelColumn, data.ClassCount), history);
        }
        catch (AutoencoderClassifierDivergedException e) when (e.BestEpoch > 0 && network is not null)
        {
            // Train put the best epoch's weights back: hand them over instead of dropping them.
            network.eval();
            var history = new TrainingHistory(e.CompletedEpochs, e.BestEpoch, stoppedEarly: false, restoredBest: true);
            e.BestModel = new AutoencoderClassifierTransformer(autoencoder, network, FeatureColumn, options.ScoreColumnName, options.PredictedLabelColumnName,
                Pipeline.KeyValueNames.From(data.LabelColumn, data.ClassCount), history);
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

    private TrainingHistory Train(EncoderClassifierNetwork network, LabelledRows data, Device device)
    {
        int d = data.Features, n = data.Count;
        var random = new Random(options.Seed);
        var order = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray();
        int validationRows = (int)Math.Round(options.ValidationFraction * n);
        var validation = order.Take(validationRows).ToArray();
        var training = order.Skip(validationRows).ToArray();
        if (training.Length == 0) throw new AutoencoderDataException(options.LabelColumnName, null, "No labelled rows are left for training after the validation split.");

        var encoderParameters = EncoderClassifierNetwork.EncoderParameters(network.Autoencoder, device);
        var headParameters = network.Head.parameters().ToList();
        double encoderRate = options.EncoderLearningRate ?? options.LearningRate;
        // TorchSharp's Adam, computed with Scalars kept alive through each call (see TrainingOptimizer).
        using var optimizer = TrainingOptimizer.Create(OptimizerKind.Adam, new (IEnumerable<TorchSharp.Modules.Parameter>, double)[]
        {
            (encoderParameters, encoderRate),
            (headParameters, options.LearningRate),
        });

        var records = new List<EpochRecord>();
        // The best epoch by the monitored loss (validation, else training): restored by early stopping (validation
        // only) and handed over on divergence.
        double best = double.PositiveInfinity;
        int bestEpoch = 0, sinceBest = 0;
        Dictionary<string, Tensor>? bestState = null;
        bool stoppedEarly = false;
        // No batch holds more rows than there are (a BatchSize above the row count is one batch of all rows).
        int batchRows = Math.Min(options.BatchSize, n);
        var batch = new float[(long)batchRows * d];
        var labels = new long[batchRows];
        try
        {
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                var clock = Stopwatch.StartNew();
                bool frozen = options.FreezeEncoder || epoch <= options.FreezeEncoderEpochs;
                foreach (var p in encoderParameters) p.requires_grad = !frozen;
                network.train();
                if (frozen) network.Autoencoder.eval();
                var shuffled = training.OrderBy(_ => random.Next()).ToArray();
                double lossSum = 0;
                int batchIndex = 0;
                for (int start = 0; start < shuffled.Length; start += options.BatchSize)
                {
                    TorchThreads.Poll();
                    options.CancellationToken.ThrowIfCancellationRequested();
                    int rows = Math.Min(options.BatchSize, shuffled.Length - start);
                    batchIndex++;
                    using var scope = NewDisposeScope();
                    var (x, y) = Batch(data, shuffled.AsSpan(start, rows), batch, labels, device);
                    var loss = nn.functional.cross_entropy(network.forward(x), y);
                    double value = loss.item<float>();
                    if (!double.IsFinite(value))
                        throw Diverged(network, records, bestState, bestEpoch, epoch, batchIndex, value, "the loss became " + value);
                    optimizer.ZeroGrad();
                    loss.backward();
                    optimizer.Step();
                    lossSum += value * rows;
                }
                if (AutoencoderTrainer.FirstNonFinite(network) is { } bad)
                    throw Diverged(network, records, bestState, bestEpoch, epoch, batchIndex, double.NaN, $"the weights of '{bad}' became non-finite");
                double? validationLoss = validation.Length > 0 ? Evaluate(network, data, validation, batch, labels, device) : null;
                var record = new EpochRecord(epoch, lossSum / shuffled.Length, validationLoss, options.LearningRate, clock.Elapsed, shuffled.Length);
                records.Add(record);
                options.Progress?.Report(record);
                if (validationLoss is { } invalid && !double.IsFinite(invalid))
                    throw Diverged(network, records, bestState, bestEpoch, epoch, batchIndex, invalid, "the validation loss became " + invalid);
                double monitored = record.MonitoredLoss;
                if (monitored < best)
                {
                    best = monitored;
                    bestEpoch = epoch;
                    sinceBest = 0;
                    DisposeState(bestState);
                    bestState = Snapshot(network);
                }
                else if (validationLoss is not null && options.EarlyStoppingPatience > 0 && ++sinceBest >= options.EarlyStoppingPatience)
                {
                    stoppedEarly = true;
                    break;
                }
            }
            // Without validation the history reports the last epoch as the best (nothing is restored), as before.
            bool restore = validation.Length > 0 && bestState is not null && bestEpoch != records.Count;
            if (restore) Restore(network, bestState!);
            return new TrainingHistory(records, validation.Length > 0 && bestEpoch > 0 ? bestEpoch : records.Count, stoppedEarly, restore);
        }
        finally
        {
            foreach (var p in encoderParameters) p.requires_grad = true;
            DisposeState(bestState);
        }
    }

    /// <summary>Puts the best weights so far back (when there are any) and builds the divergence error.</summary>
    private AutoencoderClassifierDivergedException Diverged(EncoderClassifierNetwork network, List<EpochRecord> records, Dictionary<string, Tensor>? bestState, int bestEpoch, int epoch, int batch, double loss, string what)
    {
        if (bestState is not null) Restore(network, bestState);
        return new AutoencoderClassifierDivergedException(epoch, batch, loss, options.LearningRate, what, bestState is null ? 0 : bestEpoch)
        {
            CompletedEpochs = records.ToArray(),
        };
    }

    private static (Tensor X, Tensor Y) Batch(LabelledRows data, ReadOnlySpan<int> rows, float[] batch, long[] labels, Device device)
    {
        int d = data.Features;
        for (int r = 0; r < rows.Length; r++)
        {
            data.Rows.AsSpan(rows[r] * d, d).CopyTo(batch.AsSpan(r * d, d));
            labels[r] = data.Labels[rows[r]];
        }
        var x = Runtime.TensorSpans.FromSpan(batch.AsSpan(0, rows.Length * d), rows.Length, d);
        var y = tensor(labels.AsSpan(0, rows.Length).ToArray(), ScalarType.Int64);
        return device.type == TorchSharp.DeviceType.CPU ? (x, y) : (x.to(device), y.to(device));
    }

    /// <summary>Mean cross-entropy of rows in evaluation mode.</summary>
    private double Evaluate(EncoderClassifierNetwork network, LabelledRows data, int[] rows, float[] batch, long[] labels, Device device)
    {
        network.eval();
        using var noGrad = no_grad();
        double sum = 0;
        for (int start = 0; start < rows.Length; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, rows.Length - start);
            using var scope = NewDisposeScope();
            var (x, y) = Batch(data, rows.AsSpan(start, count), batch, labels, device);
            sum += nn.functional.cross_entropy(network.forward(x), y).item<float>() * count;
        }
        return sum / rows.Length;
    }

    private static Dictionary<string, Tensor> Snapshot(EncoderClassifierNetwork network)
    {
        using var noGrad = no_grad();
        return network.state_dict().ToDictionary(p => p.Key, p => p.Value.clone().DetachFromDisposeScope());
    }

    private static void Restore(EncoderClassifierNetwork network, Dictionary<string, Tensor> state)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in network.state_dict()) value.copy_(state[name]);
    }

    private static void DisposeState(Dictionary<string, Tensor>? state)
    {
        if (state is null) return;
        foreach (var t in state.Values) t.Dispose();
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
