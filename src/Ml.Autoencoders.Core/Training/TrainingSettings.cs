using Ml.Autoencoders.Runtime;

namespace Ml.Autoencoders.Training;

/// <summary>Everything the trainer loop needs, already validated by the options that built it.</summary>
internal sealed record TrainingSettings
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    public bool Shuffle { get; init; } = true;
    public int Seed { get; init; }
    /// <summary>Stamped on every epoch record (and progress report) of a greedy pretraining stage; null end to end.</summary>
    public int? PretrainingStage { get; init; }
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    public double LearningRate { get; init; } = 1e-3;
    public double MinLearningRate { get; init; }
    public double WeightDecay { get; init; }
    public double Momentum { get; init; } = 0.9;
    public LearningRateSchedule Schedule { get; init; }
    public int StepSize { get; init; } = 10;
    public double StepFactor { get; init; } = 0.1;
    public int EarlyStoppingPatience { get; init; }
    public double EarlyStoppingMinDelta { get; init; }
    /// <summary>Whether the best epoch's weights are put back at the end; null: when early stopping is on.</summary>
    public bool? RestoreBestWeights { get; init; }
    /// <summary>
    /// One generator every epoch's shuffle draws on from, in the order the epochs run; null (the default): each epoch's
    /// order comes from the seed and the epoch alone, so a resumed run sees the orders of one that never stopped.
    /// Refused with checkpoints, which could not resume its draws.
    /// </summary>
    public Random? ShuffleGenerator { get; init; }
    public ComputeDevice Device { get; init; }
    public IProgress<EpochRecord>? Progress { get; init; }
    public CancellationToken CancellationToken { get; init; }
    /// <summary>
    /// Called with every check of <see cref="CancellationToken"/> (before each epoch and each batch): a stop signal that
    /// is no token (the adapter's: ML.NET's <c>CancelExecution</c>) throws <see cref="OperationCanceledException"/> from it.
    /// </summary>
    public Action? CheckStop { get; init; }
    /// <summary>Where and how often to write checkpoints; null: none (greedy pretraining stages never write).</summary>
    public CheckpointPlan? Checkpoint { get; init; }
    /// <summary>A checked checkpoint to continue from; null: start afresh.</summary>
    public CheckpointContents? Resume { get; init; }

    /// <summary>Learning rate for a zero-based epoch.</summary>
    public double LearningRateAt(int epoch) => LearningRateAt(epoch, LearningRate);

    /// <summary>
    /// The rate of a parameter group that starts at <paramref name="initial"/> (the run's <see cref="LearningRate"/>, or a
    /// group's own) in a zero-based epoch: the schedule applies to every group alike, towards the same minimum.
    /// </summary>
    public double LearningRateAt(int epoch, double initial) => Schedule switch
    {
        LearningRateSchedule.Constant => initial,
        // Like PyTorch's CosineAnnealingLR with T_max = Epochs: the last epoch still learns (the minimum is reached after it).
        LearningRateSchedule.Cosine => MinLearningRate + (initial - MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * epoch / Epochs)),
        LearningRateSchedule.Step => initial * Math.Pow(StepFactor, epoch / StepSize),
        _ => throw new ArgumentOutOfRangeException(nameof(Schedule), Schedule, "Unknown learning-rate schedule."),
    };
}

/// <summary>Where a run writes its checkpoints, and the header fields that describe the run (the trainer adds its progress).</summary>
internal sealed class CheckpointPlan
{
    public required string Path { get; init; }
    public int EveryEpochs { get; init; } = 1;
    public required Func<CheckpointHeader> NewHeader { get; init; }
}
