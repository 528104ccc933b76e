using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ml.Autoencoders.Training;

/// <summary>
/// What identifies one training run for its checkpoints: the options that decide the trajectory, the network, how the
/// rows are served and a summary of the data. A checkpoint is resumed only by a run that matches it in all of these.
/// </summary>
internal sealed class CheckpointRun
{
    private readonly Lazy<string> fingerprint; // only runs that write or resume checkpoints serialise their options
    private readonly string architecture, dataMode;
    private readonly long trainRows;
    private readonly float min, max;
    private readonly int epochs;

    /// <param name="fingerprint">The options that decide the trajectory, as canonical JSON (computed only when needed).</param>
    /// <param name="architecture">The network's description.</param>
    /// <param name="inMemory">Whether the rows are served from memory (else streamed): it changes the shuffle order.</param>
    /// <param name="trainRows">Training rows.</param>
    /// <param name="min">Smallest training value.</param>
    /// <param name="max">Largest training value.</param>
    /// <param name="epochs">Epochs of the run.</param>
    public CheckpointRun(Func<string> fingerprint, string architecture, bool inMemory, long trainRows, float min, float max, int epochs)
    {
        this.fingerprint = new Lazy<string>(fingerprint);
        this.architecture = architecture;
        dataMode = inMemory ? "memory" : "stream";
        this.trainRows = trainRows;
        (this.min, this.max) = (min, max);
        this.epochs = epochs;
    }

    public CheckpointPlan Plan(string path, int everyEpochs, IReadOnlyList<TrainingHistory>? pretraining) => new()
    {
        Path = path,
        EveryEpochs = everyEpochs,
        NewHeader = () => new CheckpointHeader
        {
            Library = typeof(CheckpointRun).Assembly.GetName().Version?.ToString() ?? "unknown",
            Fingerprint = fingerprint.Value,
            Architecture = architecture,
            DataMode = dataMode,
            TrainRows = trainRows,
            Min = min,
            Max = max,
            Pretraining = pretraining?.Select(h => new TrainingJson.StageEntry(TrainingJson.Entries(h), h.BestEpoch, h.StoppedEarly, h.RestoredBestWeights)).ToArray(),
        },
    };

    /// <summary>
    /// Checks, before any training, that a checkpoint can be written at <paramref name="path"/>
    /// (the CheckpointPath option): its directory exists (it is not created) and a file can be
    /// created there (a probe file beside the target, removed at once). Otherwise the first checkpoint would fail only
    /// after an epoch of work.
    /// </summary>
    /// <exception cref="AutoencoderCheckpointException">Names the option, the path and the reason.</exception>
    public static void CheckWritable(string path)
    {
        string full;
        try
        {
            full = System.IO.Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw Unwritable(path, "it is not a valid path: " + e.Message, e);
        }
        if (Directory.Exists(full)) throw Unwritable(path, "it is a directory");
        string? directory = System.IO.Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
            throw Unwritable(path, File.Exists(directory) ? $"'{directory}' is a file, not a directory" : $"the directory '{directory}' does not exist");
        string probe = full + ".probe-" + Guid.NewGuid().ToString("N");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unwritable(path, $"no file can be created in '{directory}': {e.Message.Replace(probe, full, StringComparison.Ordinal)}", e);
        }
        finally
        {
            try
            {
                if (File.Exists(probe)) File.Delete(probe);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: DeleteOnClose normally removed it already.
            }
        }
    }

    private static AutoencoderCheckpointException Unwritable(string path, string reason, Exception? inner = null) =>
        new($"CheckpointPath '{path}' cannot be written: {reason}. (Checked before training, so no epoch is lost.)", path, inner);

    /// <summary>Returns <paramref name="checkpoint"/> when this run may continue from it; otherwise says what differs.</summary>
    public CheckpointContents Check(CheckpointContents checkpoint, string path)
    {
        var h = checkpoint.Header;
        var problems = new List<string>();
        if (h.Fingerprint != fingerprint.Value) problems.Add("training options differ (" + string.Join(", ", DifferingOptions(h.Fingerprint!, fingerprint.Value)) + ")");
        if (h.Architecture != architecture) problems.Add($"the network differs (checkpoint: {h.Architecture}; now: {architecture})");
        if (h.TotalEpochs != epochs) problems.Add($"it was written for {h.TotalEpochs} epochs; this run has {epochs}");
        if (h.TrainRows != trainRows || h.Min != min || h.Max != max)
            problems.Add($"the data differ (checkpoint: {h.TrainRows} training rows in [{h.Min}, {h.Max}]; now: {trainRows} in [{min}, {max}])");
        if (h.DataMode != dataMode) problems.Add($"the rows were served from {h.DataMode}; now from {dataMode} (see Caching), which changes the shuffle order");
        if (problems.Count > 0)
            throw new AutoencoderCheckpointException($"Cannot resume from '{path}': {string.Join("; ", problems)}.", path);
        return checkpoint;
    }

    private static IEnumerable<string> DifferingOptions(string a, string b)
    {
        JsonObject? x = null, y = null;
        try
        {
            x = JsonNode.Parse(a) as JsonObject;
            y = JsonNode.Parse(b) as JsonObject;
        }
        catch (JsonException)
        {
        }
        if (x is null || y is null) return new[] { "unreadable" };
        var names = x.Select(p => p.Key).Union(y.Select(p => p.Key)).ToList();
        var differing = names.Where(n => !JsonNode.DeepEquals(x[n], y[n]))
            .Select(n => $"{n}: {x[n]?.ToJsonString() ?? "none"} -> {y[n]?.ToJsonString() ?? "none"}").ToList();
        return differing.Count > 0 ? differing : new[] { "the order of fields" };
    }
}
