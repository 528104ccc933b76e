using System.Diagnostics;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Objectives;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Training;

/// <summary>
/// The one training loop: batches, optimizer, learning-rate schedule, validation, early stopping with
/// best-weight restore, a NaN/infinity guard, progress and cancellation. Works on tensors only.
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
        var network = objective.Module;
        var records = new List<EpochRecord>();
        var terms = new TermSums(objective.TermNames);
        var shuffle = settings.Shuffle ? new Random(settings.Seed) : null;
        using var optimizer = CreateOptimizer(network, settings);
        Dictionary<string, Tensor>? best = null;
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = 0, epochsWithoutImprovement = 0;
        bool stoppedEarly = false;
        var token = settings.CancellationToken;

        try
        {
            for (int epoch = 0; epoch < settings.Epochs; epoch++)
            {
                token.ThrowIfCancellationRequested();
                double lr = settings.LearningRateAt(epoch);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;

                var clock = Stopwatch.StartNew();
                network.train();
                double lossSum = 0;
                terms.Reset();
                long rows = 0;
                int batchIndex = 0;
                foreach (var batch in train.Batches(settings.BatchSize, shuffle, device, token))
                {
                    using var scope = NewDisposeScope();
                    scope.Attach(batch);
                    batchIndex++;
                    optimizer.zero_grad();
                    var loss = objective.Loss(batch, epoch, training: true, terms.Batch);
                    double value = loss.item<float>();
                    if (!double.IsFinite(value))
                        throw new TrainingDivergedException(epoch + 1, batchIndex, value, lr);
                    loss.backward();
                    optimizer.step();
                    long n = batch.shape[0];
                    lossSum += value * n;
                    terms.AddBatch(n);
                    rows += n;
                }
                if (rows == 0) throw new InvalidOperationException("The training data produced no rows in this epoch.");

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
                    throw new TrainingDivergedException(epoch + 1, batchIndex, monitored, lr);
                if (monitored < bestLoss - settings.EarlyStoppingMinDelta)
                {
                    bestLoss = monitored;
                    bestEpoch = epoch + 1;
                    epochsWithoutImprovement = 0;
                    if (settings.EarlyStoppingPatience > 0) best = Snapshot(network, best);
                }
                else if (settings.EarlyStoppingPatience > 0 && ++epochsWithoutImprovement >= settings.EarlyStoppingPatience)
                {
                    stoppedEarly = epoch + 1 < settings.Epochs;
                    break;
                }
            }

            bool restored = false;
            if (best is not null && bestEpoch != records.Count)
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
            scope.Attach(batch);
            var loss = objective.Loss(batch, int.MaxValue, training: false, terms.Batch);
            long n = batch.shape[0];
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

    private static optim.Optimizer CreateOptimizer(nn.Module<Tensor, Tensor> network, TrainingSettings s) => s.Optimizer switch
    {
        OptimizerKind.Adam => optim.Adam(network.parameters(), s.LearningRate, weight_decay: s.WeightDecay),
        OptimizerKind.AdamW => optim.AdamW(network.parameters(), s.LearningRate, weight_decay: s.WeightDecay),
        OptimizerKind.Sgd => optim.SGD(network.parameters(), s.LearningRate, momentum: s.Momentum, weight_decay: s.WeightDecay),
        _ => throw new ArgumentOutOfRangeException(nameof(s.Optimizer), s.Optimizer, "Unknown optimizer."),
    };

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
