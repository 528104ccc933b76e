using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Training;

/// <summary>
/// What a training checkpoint (written under <c>AutoencoderOptions.CheckpointPath</c>) holds, read
/// without training: how far the run got and its history. Resume a run by passing the file as
/// <c>AutoencoderOptions.ResumeFromCheckpoint</c>.
/// </summary>
public sealed class AutoencoderCheckpoint
{
    private AutoencoderCheckpoint(CheckpointHeader header)
    {
        CompletedEpochs = header.CompletedEpochs;
        TotalEpochs = header.TotalEpochs;
        Architecture = header.Architecture!;
        TrainRows = header.TrainRows;
        History = TrainingJson.History(header.History!, header.BestEpoch, header.StoppedEarly, false);
    }

    /// <summary>Epochs completed when the checkpoint was written.</summary>
    public int CompletedEpochs { get; }

    /// <summary>Epochs the run was set to train.</summary>
    public int TotalEpochs { get; }

    /// <summary>True when the run has nothing left to do (all epochs done, or early stopping ended it).</summary>
    public bool IsComplete => CompletedEpochs >= TotalEpochs || History.StoppedEarly;

    /// <summary>The network, as <see cref="Models.AutoencoderModel.Architecture"/> describes it.</summary>
    public string Architecture { get; }

    /// <summary>Training rows per epoch.</summary>
    public long TrainRows { get; }

    /// <summary>The epochs completed so far.</summary>
    public TrainingHistory History { get; }

    /// <summary>Reads and checks a checkpoint file (magic, lengths, checksum, header).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="AutoencoderModelFormatException">The file is damaged, truncated or not a checkpoint.</exception>
    public static AutoencoderCheckpoint Read(string path) => new(CheckpointFile.Read(path).Header);
}

/// <summary>
/// A checkpoint cannot be resumed by this run (it was written with other options, another network or other data), or
/// <c>AutoencoderOptions.CheckpointPath</c> cannot be written (found before any training).
/// </summary>
public sealed class AutoencoderCheckpointException : InvalidOperationException
{
    internal AutoencoderCheckpointException(string message, string path, Exception? inner = null) : base(message, inner) => Path = path;

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }
}
