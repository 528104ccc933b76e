using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The anomaly detector at the edges of its threshold settings: every contamination in [0, 1) (also those that flag
/// every row), out-of-range values refused before any work with the threshold left alone, thresholds outside float's
/// range refused before training (never saved as infinity), and the array API checking its rows as Transform does.
/// </summary>
[TestClass]
public sealed class AnomalyThresholdEdgeTests
{
    private static AutoencoderAnomalyOptions Tiny(double contamination = 0.1, double? threshold = null) => new()
    {
        Autoencoder = new AutoencoderOptions { HiddenLayerSizes = [6], LatentDimension = 2, Epochs = 1, BatchSize = 16, Seed = 2 },
        Contamination = contamination,
        Threshold = threshold,
    };

    private static AutoencoderAnomalyTransformer Fit(MLContext ml, float[][] rows, AutoencoderAnomalyOptions options) =>
        ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(ml.ToDataView(rows));

    private static int FlaggedByTransform(MLContext ml, AutoencoderAnomalyTransformer detector, float[][] rows) =>
        detector.Transform(ml.ToDataView(rows)).GetColumn<bool>("PredictedLabel").Count(flag => flag);

    /// <summary>
    /// round(c x n) = n used to index past the sorted scores (IndexOutOfRangeException, the trained autoencoder lost):
    /// 0.95 of 10 rows at Fit and 0.996 of 100 rows afterwards now flag every training row, by the training scores and
    /// by Transform; 0 flags none.
    /// </summary>
    [TestMethod]
    public void ContaminationsThatFlagEveryRowPutTheThresholdBelowTheLowestScore()
    {
        var ml = new MLContext(seed: 1);
        var ten = Synthetic.LowRank(10, 12, 3, seed: 11);
        var small = Fit(ml, ten, Tiny(contamination: 0.95));
        Assert.IsTrue(small.Threshold < small.TrainingScores.Min(), $"threshold {small.Threshold}, lowest score {small.TrainingScores.Min()}");
        Assert.AreEqual(10, small.TrainingScores.Count(s => s > small.Threshold));
        Assert.AreEqual(10, FlaggedByTransform(ml, small, ten));

        var hundred = Synthetic.LowRank(100, 12, 3, seed: 12);
        var detector = Fit(ml, hundred, Tiny());
        detector.SetThresholdByContamination(0.996);
        Assert.AreEqual(100, detector.TrainingScores.Count(s => s > detector.Threshold));
        Assert.AreEqual(100, FlaggedByTransform(ml, detector, hundred));
        detector.SetThresholdByContamination(0.994); // rounds to 99
        Assert.AreEqual(99, detector.TrainingScores.Count(s => s > detector.Threshold));
        detector.SetThresholdByContamination(0);
        Assert.AreEqual(0, detector.TrainingScores.Count(s => s > detector.Threshold));
        Assert.AreEqual(0, FlaggedByTransform(ml, detector, hundred));
        Assert.AreEqual(0, FlaggedByTransform(ml, Fit(ml, hundred, Tiny(contamination: 0)), hundred), "contamination 0 at Fit flags nothing");
    }

    /// <summary>A fraction outside [0, 1) (or NaN) is refused naming the parameter, and the threshold stays what it was.</summary>
    [TestMethod]
    public void InvalidContaminationIsRefusedAndLeavesTheThreshold()
    {
        var ml = new MLContext(seed: 1);
        var detector = Fit(ml, Synthetic.LowRank(50, 12, 3, seed: 13), Tiny(contamination: 0.2));
        float before = detector.Threshold;
        foreach (double bad in new[] { 1.0, -0.01, 1.5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => detector.SetThresholdByContamination(bad), $"fraction {bad}");
            Assert.AreEqual("fraction", e.ParamName);
            StringAssert.Contains(e.Message, "[0, 1)");
            Assert.AreEqual(before, detector.Threshold, $"threshold unchanged after fraction {bad}");
        }
    }

    /// <summary>
    /// Threshold = 1e39 used to become +infinity as a float: it flagged nothing and was saved into a file Load refused.
    /// A threshold outside float's range or not finite is refused when the detector is created (before any training),
    /// naming the option; the transformer's setter refuses infinity and NaN; Save refuses a non-finite threshold; the
    /// largest float round-trips through a file.
    /// </summary>
    [TestMethod]
    public void ThresholdsOutsideFloatRangeAreRefusedBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        foreach (double bad in new[] { 1e39, -1e39, double.MaxValue, double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(Tiny(threshold: bad)), $"threshold {bad}");
            Assert.AreEqual(nameof(AutoencoderAnomalyOptions.Threshold), e.ParamName);
            StringAssert.Contains(e.Message, "Threshold");
        }

        var rows = Synthetic.LowRank(40, 12, 3, seed: 14);
        var detector = Fit(ml, rows, Tiny(threshold: float.MaxValue));
        Assert.AreEqual(float.MaxValue, detector.Threshold);
        using var temp = new TempDirectory("anomaly-threshold");
        detector.Save(temp.File("max.bin"));
        Assert.AreEqual(float.MaxValue, AutoencoderAnomalyTransformer.Load(temp.File("max.bin")).Threshold);

        var setter = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => detector.Threshold = float.PositiveInfinity);
        Assert.AreEqual(nameof(AutoencoderAnomalyTransformer.Threshold), setter.ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => detector.Threshold = float.NaN);
        Assert.AreEqual(float.MaxValue, detector.Threshold);

        // A transformer holding a non-finite threshold (only reachable from inside the library) is never written.
        var plainScore = Tiny();
        plainScore.ScoreKind = AnomalyScoreKind.ReconstructionError; // a transformer built by hand, without code-distance parts
        var infinite = new AutoencoderAnomalyTransformer([detector.Autoencoder], [1f], plainScore, detector.TrainingScores, float.PositiveInfinity);
        var refused = Assert.ThrowsExactly<InvalidOperationException>(() => infinite.Save(new MemoryStream()));
        StringAssert.Contains(refused.Message, "threshold");
        File.WriteAllBytes(temp.File("kept.bin"), [1, 2, 3]);
        Assert.ThrowsExactly<InvalidOperationException>(() => infinite.Save(temp.File("kept.bin")));
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, File.ReadAllBytes(temp.File("kept.bin")), "the earlier file is left as it was");
    }

    /// <summary>
    /// Score(rows, count) used to return NaN for a NaN row (which then counted as normal): the array API now refuses a
    /// NaN or infinity the way Transform does (AutoencoderDataException naming the row, the index and the value).
    /// </summary>
    [TestMethod]
    public void ScoreRefusesNonFiniteRowsLikeTransform()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(30, 12, 3, seed: 15);
        var detector = Fit(ml, rows, Tiny());
        var flat = Synthetic.Flatten(rows.Take(3).ToArray());
        Assert.AreEqual(3, detector.Score(flat, 3).Length, "finite rows score");
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            flat[12 + 5] = bad;
            var e = Assert.ThrowsExactly<AutoencoderDataException>(() => detector.Score(flat, 3), $"value {bad}");
            Assert.AreEqual(1L, e.Row);
            Assert.AreEqual("Features", e.ColumnName);
            StringAssert.Contains(e.Message, "Row 1");
            StringAssert.Contains(e.Message, "index 5");
            StringAssert.Contains(e.Message, bad.ToString());
        }

        // Transform reports the same kind of error for the same row.
        rows[1][5] = float.NaN;
        var viaTransform = Assert.ThrowsExactly<AutoencoderDataException>(() => FlaggedByTransform(ml, detector, rows));
        Assert.AreEqual(1L, viaTransform.Row);
    }
}
