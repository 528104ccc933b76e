using System.Reflection;
using System.Text.Json.Serialization;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The checkpoint fingerprint is derived from the options' own declarations, not from a list: every serialised option
/// that is not marked "does not change the weights" is in it, so a new option guards resume by default.
/// </summary>
[TestClass]
public sealed class CheckpointFingerprintTests
{
    private static IEnumerable<PropertyInfo> Options => typeof(AutoencoderOptions)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    /// <summary>Changing any serialised option changes the fingerprint unless the option is marked; a marked one never does.</summary>
    [TestMethod]
    public void EveryOptionThatCanChangeTheWeightsIsInTheFingerprint()
    {
        string baseline = CheckpointFingerprint.Of(new AutoencoderOptions());
        var leftOut = CheckpointFingerprint.LeftOut.ToHashSet();
        var checkedNames = new List<string>();
        foreach (var property in Options)
        {
            if (property.IsDefined(typeof(JsonIgnoreAttribute))) continue; // not in any file: progress, cancellation, validation view
            var options = new AutoencoderOptions();
            property.SetValue(options, OptionValues.Changed(property, property.GetValue(options)));
            bool changed = CheckpointFingerprint.Of(options) != baseline;
            if (leftOut.Contains(property))
                Assert.IsFalse(changed, $"{property.Name} is marked as not changing the weights, yet it changes the fingerprint");
            else
                Assert.IsTrue(changed, $"{property.Name} can change the weights but the fingerprint ignores it: a checkpoint would resume under another value");
            checkedNames.Add(property.Name);
        }
        Assert.IsGreaterThan(40, checkedNames.Count, "the options were enumerated");
        CollectionAssert.Contains(checkedNames, nameof(AutoencoderOptions.LearningRate));
    }

    /// <summary>The marked options are the ones that cannot change a trajectory: names, device, threads, caching, checkpoints.</summary>
    [TestMethod]
    public void TheMarkedOptionsAreRunSettingsOnly()
    {
        var names = CheckpointFingerprint.LeftOut.Select(p => p.Name).ToHashSet();
        foreach (var name in new[] { nameof(AutoencoderOptions.Seed), nameof(AutoencoderOptions.Epochs), nameof(AutoencoderOptions.BatchSize), nameof(AutoencoderOptions.ShuffleBufferRows), nameof(AutoencoderOptions.ValidationFraction) })
            Assert.DoesNotContain(name, names, $"{name} changes the weights");
        Assert.Contains(nameof(AutoencoderOptions.Threads), names);
        Assert.Contains(nameof(AutoencoderOptions.CheckpointPath), names);
    }
}
