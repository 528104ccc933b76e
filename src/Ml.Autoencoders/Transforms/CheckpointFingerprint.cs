using System.Reflection;
using System.Text.Json;
using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Transforms;

/// <summary>What of <see cref="AutoencoderOptions"/> identifies a training run for its checkpoints (see <see cref="CheckpointRun"/>).</summary>
internal static class CheckpointFingerprint
{
    /// <summary>The options the fingerprint leaves out: those marked <see cref="DoesNotChangeWeightsAttribute"/>.</summary>
    internal static readonly PropertyInfo[] LeftOut = typeof(AutoencoderOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.IsDefined(typeof(DoesNotChangeWeightsAttribute), inherit: false)).ToArray();

    /// <summary>
    /// The options as canonical JSON, with every option marked <see cref="DoesNotChangeWeightsAttribute"/> set back to
    /// its default (options that are not serialised, such as progress and cancellation, are not in the JSON at all).
    /// </summary>
    internal static string Of(AutoencoderOptions options)
    {
        var o = options.Clone();
        var defaults = new AutoencoderOptions();
        foreach (var property in LeftOut) property.SetValue(o, property.GetValue(defaults));
        return JsonSerializer.Serialize(o, AutoencoderModelFile.Json);
    }

    /// <summary>
    /// A checkpoint's stored fingerprint in today's terms: checkpoints written before the body options were named
    /// "Body" stored them as "Convolution" (<see cref="AutoencoderModelFile.UpgradeBodyName(string)"/>).
    /// </summary>
    internal static CheckpointContents Upgrade(CheckpointContents checkpoint)
    {
        if (checkpoint.Header.Fingerprint is { } stored)
            checkpoint.Header.Fingerprint = AutoencoderModelFile.UpgradeBodyName(stored);
        return checkpoint;
    }
}
