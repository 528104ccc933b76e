using Microsoft.ML;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The small-data rule (<see cref="AutoencoderOptions.SmallDataRows"/>): below the threshold a fit with library-chosen
/// epochs holds out validation rows and stops early, and says so in its history; above it nothing changes.
/// </summary>
[TestClass]
public sealed class SmallDataRuleTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static AutoencoderOptions Tiny(int? smallDataRows = null) => new()
    {
        LatentDimension = 2,
        HiddenLayerSizes = new[] { 8 },
        BatchSize = 64,
        Seed = 5,
        SmallDataRows = smallDataRows ?? AutoencoderOptions.Defaults.SmallDataRows,
    };

    /// <summary>
    /// Today's defaults on 200 rows: a validation run with early stopping picks the epochs, then all rows train that many
    /// epochs; the history says so, and the model's options record the epochs trained.
    /// </summary>
    [TestMethod]
    public void BelowTheThresholdTheRulePicksTheEpochsOnValidationRowsAndIsReported()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(200, 8, 2));
        var model = Ml.Transforms.Autoencoder(Tiny()).Fit(data);
        var history = model.History;
        StringAssert.Contains(history.SmallDataChoice, "Small-data rule applied: 200 rows, below SmallDataRows = 10000");
        StringAssert.Contains(history.SmallDataChoice, "EarlyStoppingPatience = 20");
        StringAssert.Contains(history.SmallDataChoice, "(stopped early), the best at epoch");
        StringAssert.Contains(history.EpochsChoice, "Epochs chosen by the library: 1000");
        int epochs = history.Epochs.Count;
        Assert.IsTrue(epochs < 1000, $"the validation run should stop 1,000 epochs of 160 rows early; the final run trained {epochs}");
        StringAssert.Contains(history.SmallDataChoice, $"then all rows trained {epochs} epochs");
        Assert.IsTrue(history.Epochs.All(e => e.ValidationLoss is null && e.Rows == 200), "the final run trains on all 200 rows");
        Assert.AreEqual(epochs, model.Options.Epochs);
        Assert.AreEqual(0, model.Options.ValidationFraction);

        // Refitting with the model's own options (epochs now given) leaves the rule off and gives the same weights.
        var again = Ml.Transforms.Autoencoder(model.Options).Fit(data);
        Assert.IsNull(again.History.SmallDataChoice);
        CheckpointTests.AssertSameWeights(model, again);
        model.Model.Dispose();
        again.Model.Dispose();
    }

    /// <summary>At or above the threshold the rule stays off, with the same weights as a fit with the rule switched off.</summary>
    [TestMethod]
    public void AtOrAboveTheThresholdTheDefaultsTrainExactlyAsWithoutTheRule()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(120, 6, 2));
        var off = Tiny(0);
        var at = Tiny(120);
        off.Epochs = at.Epochs = null;
        // Keep the run short: 3,000 steps of 2 batches would be 1,000 epochs.
        off.BatchSize = at.BatchSize = 4;
        var withoutRule = Ml.Transforms.Autoencoder(off).Fit(data);
        var atThreshold = Ml.Transforms.Autoencoder(at).Fit(data);
        Assert.IsNull(withoutRule.History.SmallDataChoice, "SmallDataRows = 0 turns the rule off");
        StringAssert.Contains(atThreshold.History.SmallDataChoice, "not applied: 120 rows, not below SmallDataRows = 120");
        Assert.AreEqual(0, atThreshold.Options.ValidationFraction);
        Assert.AreEqual(0, atThreshold.Options.EarlyStoppingPatience);
        CheckpointTests.AssertSameWeights(withoutRule, atThreshold);
        withoutRule.Model.Dispose();
        atThreshold.Model.Dispose();
    }

    /// <summary>The decision at the default threshold (no training): 9,999 rows apply the rule, 10,000 and unknown counts do not.</summary>
    [TestMethod]
    public void TheDefaultThresholdSeparatesSmallFromLargeData()
    {
        var defaults = new AutoencoderOptions();
        var (small, why) = defaults.ApplySmallDataRule(9_999);
        Assert.AreEqual(0.2, small.ValidationFraction);
        Assert.AreEqual(20, small.EarlyStoppingPatience);
        StringAssert.Contains(why, "Small-data rule applied: 9999 rows");
        foreach (long? rows in new long?[] { 10_000, 60_000 })
        {
            var (large, reason) = defaults.ApplySmallDataRule(rows);
            Assert.AreSame(defaults, large, $"{rows} rows: the options are used as they are");
            StringAssert.Contains(reason, "not applied");
        }
        Assert.AreEqual(0, defaults.ValidationFraction, "the rule never changes the user's options object");
        Assert.AreEqual(0, defaults.EarlyStoppingPatience);
    }

    /// <summary>The user's own choices win: given epochs, a validation split or early stopping leave the rule silent; too few rows are said.</summary>
    [TestMethod]
    public void UserChoicesAndTinyDataLeaveTheRuleOff()
    {
        foreach (var set in new Action<AutoencoderOptions>[] { o => o.Epochs = 5, o => o.ValidationFraction = 0.1, o => o.EarlyStoppingPatience = 3, o => o.SmallDataRows = 0, o => o.CheckpointPath = "run.ckpt" })
        {
            var o = new AutoencoderOptions();
            set(o);
            var (same, why) = o.ApplySmallDataRule(500);
            Assert.AreSame(o, same);
            Assert.IsNull(why);
        }
        var (tiny, reason) = new AutoencoderOptions().ApplySmallDataRule(AutoencoderOptions.Defaults.SmallDataMinRows - 1);
        Assert.AreEqual(0, tiny.ValidationFraction);
        StringAssert.Contains(reason, "too few to hold out a validation set");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new AutoencoderOptions { SmallDataRows = -1 }.Validate());
    }
}
