using System.Text.Json;
using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Transforms;

/// <summary>What of <see cref="AutoencoderOptions"/> identifies a training run for its checkpoints (see <see cref="CheckpointRun"/>).</summary>
internal static class CheckpointFingerprint
{
    /// <summary>
    /// The options as canonical JSON, without those that cannot change the weights (column names, outputs, device,
    /// threads, caching limits, checkpoint paths, progress, cancellation).
    /// </summary>
    internal static string Of(AutoencoderOptions options)
    {
        var o = options.Clone();
        var defaults = new AutoencoderOptions();
        o.InputColumnName = defaults.InputColumnName;
        o.LatentColumnName = defaults.LatentColumnName;
        o.ReconstructionColumnName = defaults.ReconstructionColumnName;
        o.ReconstructionErrorColumnName = defaults.ReconstructionErrorColumnName;
        o.LatentLogVarianceColumnName = defaults.LatentLogVarianceColumnName;
        o.SampledLatentCodeColumnName = defaults.SampledLatentCodeColumnName;
        o.Outputs = defaults.Outputs;
        o.Device = defaults.Device;
        o.Threads = 0;
        o.Caching = defaults.Caching;
        o.MaxCacheBytes = defaults.MaxCacheBytes;
        o.TransformBatchSize = defaults.TransformBatchSize;
        o.CheckpointPath = null;
        o.CheckpointEveryEpochs = 1;
        o.ResumeFromCheckpoint = null;
        return JsonSerializer.Serialize(o, AutoencoderModelFile.Json);
    }
}
