using System.Reflection;
using System.Text.Json;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Every option of <see cref="AutoencoderOptions"/> reaches the core: changing it changes the training settings, the
/// objective or the network spec the estimator hands the core, or it is one of the options the adapter itself
/// consumes (listed below with where). A new option that is copied nowhere fails here instead of being silently ignored.
/// </summary>
[TestClass]
public sealed class OptionMappingTests
{
    /// <summary>Options the adapter consumes itself, with the place that reads them.</summary>
    private static readonly Dictionary<string, string> ConsumedByTheAdapter = new()
    {
        [nameof(AutoencoderOptions.InputColumnName)] = "schema checks and the row reader",
        [nameof(AutoencoderOptions.LatentColumnName)] = "output columns",
        [nameof(AutoencoderOptions.ReconstructionColumnName)] = "output columns",
        [nameof(AutoencoderOptions.ReconstructionErrorColumnName)] = "output columns",
        [nameof(AutoencoderOptions.LatentLogVarianceColumnName)] = "output columns",
        [nameof(AutoencoderOptions.SampledLatentCodeColumnName)] = "output columns",
        [nameof(AutoencoderOptions.Outputs)] = "output columns",
        [nameof(AutoencoderOptions.TransformBatchSize)] = "Transform's batches",
        [nameof(AutoencoderOptions.OutputActivation)] = "chosen from the training range before the spec is built (AutoencoderEstimator.Fit)",
        [nameof(AutoencoderOptions.ValidationFraction)] = "TrainingDataPreparation",
        [nameof(AutoencoderOptions.ValidationData)] = "TrainingDataPreparation",
        [nameof(AutoencoderOptions.SmallDataRows)] = "AutoencoderOptions.ForRows (the small-data rule)",
        [nameof(AutoencoderOptions.Caching)] = "TrainingDataPreparation",
        [nameof(AutoencoderOptions.MaxCacheBytes)] = "TrainingDataPreparation",
        [nameof(AutoencoderOptions.ShuffleBufferRows)] = "TrainingDataPreparation (streaming)",
        [nameof(AutoencoderOptions.Threads)] = "TorchThreads.Use around Fit",
        [nameof(AutoencoderOptions.PretrainEpochs)] = "greedy pretraining's settings (AutoencoderEstimator.Fit)",
        [nameof(AutoencoderOptions.PretrainLearningRate)] = "greedy pretraining's settings (AutoencoderEstimator.Fit)",
        [nameof(AutoencoderOptions.CheckpointPath)] = "CheckpointRun.Plan",
        [nameof(AutoencoderOptions.CheckpointEveryEpochs)] = "CheckpointRun.Plan",
        [nameof(AutoencoderOptions.ResumeFromCheckpoint)] = "CheckpointRun.Check",
    };

    /// <summary>Each option changes what the core receives, or is consumed by the adapter (and then it does not reach the mapped settings).</summary>
    [TestMethod]
    public void EveryOptionReachesTheCoreOrIsConsumedByTheAdapter()
    {
        string baseline = Mapped(new AutoencoderOptions());
        var unmapped = new List<string>();
        foreach (var property in typeof(AutoencoderOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var options = new AutoencoderOptions();
            property.SetValue(options, OptionValues.Changed(property, property.GetValue(options)));
            bool reachesTheCore = Mapped(options) != baseline;
            bool adapter = ConsumedByTheAdapter.ContainsKey(property.Name);
            if (!reachesTheCore && !adapter) unmapped.Add(property.Name);
        }
        Assert.IsEmpty(unmapped, "options that reach neither the core's settings, objective or network spec nor a listed adapter consumer: " + string.Join(", ", unmapped));
    }

    /// <summary>The test notices a dropped copy: the mapped settings of two option sets that differ only in the learning rate differ.</summary>
    [TestMethod]
    public void TheMappingShowsEachCopiedValue()
    {
        Assert.AreNotEqual(Mapped(new AutoencoderOptions()), Mapped(new AutoencoderOptions { LearningRate = 0.5 }));
        Assert.AreNotEqual(Mapped(new AutoencoderOptions()), Mapped(new AutoencoderOptions { KlWeight = 0.5 }));
        Assert.AreNotEqual(Mapped(new AutoencoderOptions()), Mapped(new AutoencoderOptions { LatentDimension = 3 }));
    }

    /// <summary>What the estimator hands the core for these options (settings, objective, network spec), as text.</summary>
    private static string Mapped(AutoencoderOptions o)
    {
        var s = o.Training(o.Epochs ?? AutoencoderOptions.Defaults.MinEpochs);
        var objective = o.Objective();
        object spec = o.Spec(o.Body is ConvolutionalOptions { ImageShape: { } image } ? image.Size : 12, Activation.Linear);
        string settings = string.Join(";", s.GetType().GetProperties().Where(p => p.PropertyType.IsPrimitive || p.PropertyType.IsEnum || p.PropertyType == typeof(string))
            .Select(p => $"{p.Name}={p.GetValue(s)}"));
        string objectiveText = $"{objective.Loss};{objective.KlWeight};{objective.KlWarmupEpochs};{objective.Corruption?.GetType().Name}:{(objective.Corruption is null ? "" : JsonSerializer.Serialize(objective.Corruption, objective.Corruption.GetType()))};" +
            string.Join(",", objective.Penalties.Select(p => p.GetType().Name + JsonSerializer.Serialize(p, p.GetType())));
        string specText = spec switch
        {
            Networks.Dense.DenseNetworkSpec d => d + string.Join(",", d.HiddenSizes) + string.Join(",", d.HiddenActivations),
            ConvNetworkSpec c => JsonSerializer.Serialize(c.Convolution) + c.Core,
            _ => throw new AssertFailedException("unknown spec"),
        };
        return settings + "|" + objectiveText + "|" + specText + "|" + (s.Progress is null) + (s.CancellationToken.CanBeCanceled);
    }
}
