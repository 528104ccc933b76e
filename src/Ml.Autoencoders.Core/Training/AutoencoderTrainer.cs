using System.Diagnostics;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Training;

/// <summary>
/// The one training loop, for every objective (the autoencoder's, greedy pretraining stages, the classifier's supervised
/// fine-tuning on labelled batches): batches, optimizer over the objective's parameter groups, learning-rate schedule,
/// validation, early stopping with best-weight restore, a NaN/infinity guard, progress and cancellation. Works on tensors only.
/// </summary>
internal static class AutoencoderTrainer
{
    public static TrainingHistory Train(
        ITrainingObjective objective,
        ITrainingData train,
        ITrainingData? validation,
        TrainingSettings settings,
        Device device)
    {
        if (settings.ShuffleGenerator is not null && (settings.Checkpoint is not null || settings.Resume is not null))
            throw new ArgumentException("A shared shuffle generator draws on from epoch to epoch, so a checkpoint could not resume its orders: use one or the other.", nameof(settings));
        var network = objective.Module;
        var records = new List<EpochRecord>();
        var terms = new TermSums(objective.TermNames);
        var groups = objective.ParameterGroups(settings.LearningRate);
        using var optimizer = CreateOptimizer(groups, settings);
        Dictionary<string, Tensor>? best = null; // the weights of the best epoch so far: restored by early stopping and on divergence
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = 0, epochsWithoutImprovement = 0, startEpoch = 0;
        bool stoppedEarly = false;
        var token = settings.CancellationToken;

        try
        {
            if (settings.Resume is { } resume)
            {
                var h = resume.Header;
                resume.CopyGroup(CheckpointFile.ModelGroup, network.state_dict(), "weights");
                resume.RestoreOptimizer(optimizer);
                objective.RandomState = h.RandomState!;
                records.AddRange(TrainingJson.History(h.History!, 0, false, false).Epochs);
                (bestLoss, bestEpoch, epochsWithoutImprovement, stoppedEarly) = (h.BestLoss, h.BestEpoch, h.EpochsWithoutImprovement, h.StoppedEarly);
                if (h.Tensors!.Any(t => t.Group == CheckpointFile.BestGroup)) best = resume.NewTensors(CheckpointFile.BestGroup, network.state_dict());
                startEpoch = stoppedEarly ? settings.Epochs : h.CompletedEpochs;
            }

            for (int epoch = startEpoch; epoch < settings.Epochs; epoch++)
            {
                token.ThrowIfCancellationRequested();
                settings.CheckStop?.Invoke();
                double lr = settings.LearningRateAt(epoch);
                for (int g = 0; g < groups.Count; g++) optimizer.Groups[g].LearningRate = settings.LearningRateAt(epoch, groups[g].LearningRate);

                var clock = Stopwatch.StartNew();
                network.train();
                objective.BeginEpoch(epoch);
                double lossSum = 0;
                terms.Reset();
                long rows = 0;
                int batchIndex = 0;
                foreach (var batch in train.Batches(settings.BatchSize, ShuffleFor(settings, epoch), device, token))
                {
                    TorchThreads.Poll();
                    using var scope = NewDisposeScope();
                    batch.AttachTo(scope);
                    token.ThrowIfCancellationRequested(); // at a batch boundary: the weights are those after the previous step
                    settings.CheckStop?.Invoke();
                    batchIndex++;
                    optimizer.ZeroGrad();
                    var loss = objective.Loss(batch, epoch, training: true, terms.Batch);
                    double value = loss.item<float>();
                    if (!double.IsFinite(value))
                        throw Diverged(network, records, best, bestEpoch, epoch + 1, batchIndex, value, lr, "the loss became " + value);
                    loss.backward();
                    optimizer.Step();
                    long n = batch.Rows;
                    lossSum += value * n;
                    terms.AddBatch(n);
                    rows += n;
                }
                if (rows == 0) throw new InvalidOperationException("The training data produced no rows in this epoch.");
                if (FirstNonFinite(network) is { } bad)
                    throw Diverged(network, records, best, bestEpoch, epoch + 1, batchIndex, double.NaN, lr, $"the weights of '{bad}' became non-finite");

                (double Loss, IReadOnlyDictionary<string, double> Terms)? validationResult = validation is null ? null : Evaluate(objective, validation, settings.BatchSize, device, token);
                clock.Stop();
                var record = new EpochRecord(epoch + 1, lossSum / rows, validationResult?.Loss, lr, clock.Elapsed, rows)
                {
                    Terms = terms.Means(rows),
                    ValidationTerms = validationResult?.Terms ?? EpochRecord.NoTerms,
                    PretrainingStage = settings.PretrainingStage,
                };
                records.Add(record);
                settings.Progress?.Report(record);

                double monitored = record.MonitoredLoss;
                if (!double.IsFinite(monitored))
                    throw Diverged(network, records, best, bestEpoch, epoch + 1, batchIndex, monitored, lr, "the validation loss became " + monitored);
                if (monitored < bestLoss - settings.EarlyStoppingMinDelta)
                {
                    bestLoss = monitored;
                    bestEpoch = epoch + 1;
                    epochsWithoutImprovement = 0;
                    best = Snapshot(network, best);
                }
                else if (settings.EarlyStoppingPatience > 0 && ++epochsWithoutImprovement >= settings.EarlyStoppingPatience)
                {
                    stoppedEarly = epoch + 1 < settings.Epochs;
                }

                if (settings.Checkpoint is { } plan && (stoppedEarly || (epoch + 1) % plan.EveryEpochs == 0 || epoch + 1 == settings.Epochs))
                {
                    var header = plan.NewHeader();
                    header.CompletedEpochs = epoch + 1;
                    header.TotalEpochs = settings.Epochs;
                    header.History = TrainingJson.Entries(new TrainingHistory(records, bestEpoch, stoppedEarly, false));
                    (header.BestLoss, header.BestEpoch, header.EpochsWithoutImprovement, header.StoppedEarly) = (bestLoss, bestEpoch, epochsWithoutImprovement, stoppedEarly);
                    header.OptimizerSteps = CheckpointFile.OptimizerSteps(optimizer);
                    header.RandomState = objective.RandomState;
                    CheckpointFile.Write(plan.Path, header, CheckpointFile.TrainerTensors(network, best, optimizer));
                }
                if (stoppedEarly) break;
            }

            bool restored = false;
            if ((settings.RestoreBestWeights ?? settings.EarlyStoppingPatience > 0) && best is not null && bestEpoch != records.Count)
            {
                network.load_state_dict(best);
                restored = true;
            }
            if (bestEpoch == 0) bestEpoch = records.Count;
            return new TrainingHistory(records, bestEpoch, stoppedEarly, restored);
        }
        finally
        {
            if (best is not null) foreach (var t in best.Values) t.Dispose();
        }
    }

    /// <summary>
    /// The shuffle order of an epoch depends on the seed and the epoch alone (not on the epochs before it), so a run
    /// resumed from a checkpoint sees the same orders as one that never stopped.
    /// </summary>
    internal static Random? ShuffleFor(TrainingSettings settings, int epoch)
    {
        if (!settings.Shuffle) return null;
        if (settings.ShuffleGenerator is { } shared) return shared; // the caller chose one stream for every epoch (no resume)
        ulong z = unchecked((ulong)(uint)settings.Seed * 0x9E3779B97F4A7C15UL + (ulong)epoch * 0xD1B54A32D192ED03UL + 0x2545F4914F6CDD1DUL);
        z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9UL;
        z ^= z >> 29;
        return new Random(unchecked((int)z));
    }

    /// <summary>Puts the best weights so far back (when there are any) and builds the divergence error.</summary>
    private static TrainingDivergence Diverged(nn.Module network, List<EpochRecord> records, Dictionary<string, Tensor>? best, int bestEpoch, int epoch, int batch, double loss, double lr, string what)
    {
        if (best is not null) network.load_state_dict(best);
        return new TrainingDivergence(epoch, batch, loss, lr, what, best is null ? 0 : bestEpoch, records.ToArray());
    }

    /// <summary>The name of the first parameter holding NaN or infinity, or null.</summary>
    internal static string? FirstNonFinite(nn.Module network)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, p) in network.named_parameters())
            if (!p.isfinite().all().item<bool>()) return name;
        return null;
    }

    /// <summary>Mean loss (and terms) per row over all batches, in evaluation mode without gradients.</summary>
    public static (double Loss, IReadOnlyDictionary<string, double> Terms) Evaluate(ITrainingObjective objective, ITrainingData data, int batchSize, Device device, CancellationToken token)
    {
        var network = objective.Module;
        network.eval();
        objective.BeginEvaluation();
        using var noGrad = no_grad();
        var terms = new TermSums(objective.TermNames);
        double sum = 0;
        long rows = 0;
        foreach (var batch in data.Batches(batchSize, null, device, token))
        {
            using var scope = NewDisposeScope();
            batch.AttachTo(scope);
            var loss = objective.Loss(batch, int.MaxValue, training: false, terms.Batch);
            long n = batch.Rows;
            sum += loss.item<float>() * n;
            terms.AddBatch(n);
            rows += n;
        }
        network.train();
        return rows == 0 ? (double.NaN, EpochRecord.NoTerms) : (sum / rows, terms.Means(rows));
    }

    /// <summary>
    /// Row-weighted sums of the objective's terms: the objective adds one tensor per term to <see cref="Batch"/>,
    /// <see cref="AddBatch"/> reads them (and clears the list for the next batch). Costs nothing for a one-term loss.
    /// </summary>
    private sealed class TermSums(IReadOnlyList<string> names)
    {
        private readonly double[] sums = new double[names.Count];

        public List<Tensor>? Batch { get; } = names.Count > 0 ? new List<Tensor>(names.Count) : null;

        public void Reset() => Array.Clear(sums);

        public void AddBatch(long rows)
        {
            if (Batch is null) return;
            for (int t = 0; t < sums.Length; t++) sums[t] += Batch[t].item<float>() * rows;
            Batch.Clear();
        }

        public IReadOnlyDictionary<string, double> Means(long rows) =>
            names.Count == 0 ? EpochRecord.NoTerms : names.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => sums[x.i] / rows);
    }

    /// <summary>
    /// Adam, AdamW or SGD as TorchSharp computes them, with Scalars kept alive through each call (see <see cref="TrainingOptimizer"/>),
    /// over the objective's parameter groups (the epoch loop sets each group's scheduled rate).
    /// </summary>
    private static TrainingOptimizer CreateOptimizer(IReadOnlyList<(IEnumerable<TorchSharp.Modules.Parameter> Parameters, double LearningRate)> groups, TrainingSettings s) =>
        TrainingOptimizer.Create(s.Optimizer, groups, s.WeightDecay, s.Optimizer == OptimizerKind.Sgd ? s.Momentum : 0);

    private static Dictionary<string, Tensor> Snapshot(nn.Module<Tensor, Tensor> network, Dictionary<string, Tensor>? previous)
    {
        if (previous is not null) foreach (var t in previous.Values) t.Dispose();
        var copy = new Dictionary<string, Tensor>();
        using var scope = NewDisposeScope(); // detach() makes a handle per tensor: dispose them with the scope
        using (no_grad())
            foreach (var (name, value) in network.state_dict())
                copy[name] = value.detach().clone().DetachFromDisposeScope();
        return copy;
    }
}
