namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Marks an option of <see cref="AutoencoderOptions"/> that cannot change the trained weights (a column name, the
/// device, threads, caching limits, checkpoint paths): the checkpoint fingerprint (<see cref="CheckpointFingerprint"/>)
/// leaves it out, so a run may resume with another value. Every other serialised option is part of the fingerprint:
/// a new option is guarded by default, and leaving one out takes this attribute on its declaration.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DoesNotChangeWeightsAttribute : Attribute;
