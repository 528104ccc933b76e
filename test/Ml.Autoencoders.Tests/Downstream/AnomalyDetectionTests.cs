using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Tests.Conformance;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The autoencoder anomaly detector: planted outliers score highest, the contamination threshold flags the requested
/// fraction, the threshold moves PredictedLabel and never Score, Evaluate runs on the output, a VAE's negative ELBO,
/// per-feature errors, save/load, bad input, and the conformance kit.
/// </summary>
[TestClass]
public sealed class AnomalyDetectionTests
{
    /// <summary>A row with features and an anomaly label (Single: 1 = anomaly), as AnomalyDetection.Evaluate wants.</summary>
    public sealed class LabelledRow
    {
        /// <summary>The features.</summary>
        [VectorType(12)]
        public float[] Features { get; set; } = [];

        /// <summary>1 = anomaly, 0 = normal.</summary>
        public float Label { get; set; }
    }

    private static AutoencoderAnomalyOptions Small(double contamination = 0.1) => new()
    {
        Autoencoder = new Transforms.AutoencoderOptions { HiddenLayerSizes = [16], LatentDimension = 3, Epochs = 60, BatchSize = 32, Seed = 3 },
        Contamination = contamination,
    };

    /// <summary>
    /// Normal rows lie near a 3-d manifold; 10 planted outliers (random 0/1 values: in range, off the manifold)
    /// are mixed into 400 rows. The 10 highest training scores are exactly the outliers, and on
    /// new data they score above every normal row but a few (AUROC from Evaluate above 0.99).
    /// </summary>
    [TestMethod]
    public void PlantedOutliersScoreHighest()
    {
        var ml = new MLContext(seed: 1);
        var (train, outlierRows) = WithOutliers(400, 10, seed: 1);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(Small()).Fit(ml.Data.LoadFromEnumerable(train));
        var top = detector.TrainingScores.Select((s, i) => (s, i)).OrderByDescending(p => p.s).Take(10).Select(p => p.i).Order().ToArray();
        CollectionAssert.AreEqual(outlierRows, top, $"the ten highest training scores are the planted outliers; scores of the outliers {string.Join(", ", outlierRows.Select(i => detector.TrainingScores[i].ToString("G3")))}, highest {string.Join(", ", detector.TrainingScores.OrderDescending().Take(12).Select(s => s.ToString("G3")))}");

        var (test, _) = WithOutliers(300, 30, seed: 2);
        var metrics = ml.AnomalyDetection.Evaluate(detector.Transform(ml.Data.LoadFromEnumerable(test)));
        Assert.IsTrue(metrics.AreaUnderRocCurve > 0.99, $"AUROC {metrics.AreaUnderRocCurve}");
        Assert.IsTrue(metrics.DetectionRateAtFalsePositiveCount > 0.9, $"detection rate {metrics.DetectionRateAtFalsePositiveCount}");
    }

    /// <summary>The contamination threshold flags round(fraction x n) training rows, for several fractions, at Fit and after it.</summary>
    [TestMethod]
    [DataRow(0.0)]
    [DataRow(0.05)]
    [DataRow(0.2)]
    public void ContaminationFlagsTheRequestedFraction(double fraction)
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = WithOutliers(300, 0, seed: 3);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(Small(fraction)).Fit(ml.Data.LoadFromEnumerable(train));
        int expected = (int)Math.Round(fraction * 300);
        Assert.AreEqual(expected, detector.TrainingScores.Count(s => s > detector.Threshold));
        var flagged = ml.Data.CreateEnumerable<Output>(detector.Transform(ml.Data.LoadFromEnumerable(train)), false).Count(o => o.PredictedLabel);
        Assert.AreEqual(expected, flagged, "Transform of the training rows flags the same rows");
        detector.SetThresholdByContamination(0.5);
        Assert.AreEqual(150, detector.TrainingScores.Count(s => s > detector.Threshold));
    }

    /// <summary>Raising the threshold after training turns anomalies into normal rows; Score stays bit for bit the same.</summary>
    [TestMethod]
    public void ThresholdMovesPredictedLabelNotScore()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = WithOutliers(300, 10, seed: 4);
        var data = ml.Data.LoadFromEnumerable(train);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(Small()).Fit(data);
        var before = ml.Data.CreateEnumerable<Output>(detector.Transform(data), false).ToArray();
        detector.Threshold = before.Select(o => o.Score).OrderByDescending(s => s).ElementAt(4);
        var after = ml.Data.CreateEnumerable<Output>(detector.Transform(data), false).ToArray();
        CollectionAssert.AreEqual(before.Select(o => o.Score).ToArray(), after.Select(o => o.Score).ToArray());
        Assert.AreEqual(30, before.Count(o => o.PredictedLabel));
        Assert.AreEqual(4, after.Count(o => o.PredictedLabel));
        CollectionAssert.AreEqual(detector.Score(Synthetic.Flatten(train.Select(r => r.Features).ToArray()), train.Length), after.Select(o => o.Score).ToArray(),
            "the array API scores as the column does");
    }

    /// <summary>
    /// A variational body scores by negative ELBO (positive, larger for outliers); the per-feature errors column sums to
    /// the reconstruction-error score x features; NegativeElbo without a VAE is refused.
    /// </summary>
    [TestMethod]
    public void VariationalScoreAndFeatureErrors()
    {
        var ml = new MLContext(seed: 1);
        var (train, outliers) = WithOutliers(300, 10, seed: 5);
        var data = ml.Data.LoadFromEnumerable(train);
        var vae = AutoencoderPresets.Variational(latentDimension: 3, hiddenLayerSizes: [8]);
        vae.Epochs = 60;
        vae.Loss = Objectives.ReconstructionLoss.MeanSquaredError; // BCE on non-binary rows is dominated by their own entropy
        vae.BatchSize = 32;
        var elbo = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = vae, ScoreKind = AnomalyScoreKind.NegativeElbo }).Fit(data);
        var scores = elbo.TrainingScores;
        Assert.IsTrue(scores.All(s => s > 0), "a negative ELBO is positive here");
        double outlierMean = outliers.Average(i => scores[i]), normalMean = scores.Where((_, i) => !outliers.Contains(i)).Average();
        Assert.IsTrue(outlierMean > 1.5 * normalMean, $"outliers {outlierMean} vs normal {normalMean}; loss {vae.Loss}");

        var options = Small();
        options.FeatureErrorsColumnName = "FeatureErrors";
        options.ScoreKind = AnomalyScoreKind.ReconstructionError; // the score whose features' errors add up to it
        var plain = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(data);
        var transformed = plain.Transform(data);
        var errors = transformed.GetColumn<float[]>("FeatureErrors").ToArray();
        var score = transformed.GetColumn<float>("Score").ToArray();
        for (int i = 0; i < 20; i++) Assert.AreEqual(score[i] * 12, errors[i].Sum(), 1e-4 * Math.Max(1, score[i] * 12), $"row {i}");

        Assert.ThrowsExactly<ArgumentException>(() => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { ScoreKind = AnomalyScoreKind.NegativeElbo }));
    }

    /// <summary>Own file and mlContext.Model.Save load back with the same scores, threshold and labels; damage is refused.</summary>
    [TestMethod]
    public void SaveAndLoadKeepScoresAndThreshold()
    {
        using var temp = new TempDirectory("anomaly-tests");
        var ml = new MLContext(seed: 1);
        var (train, _) = WithOutliers(200, 5, seed: 6);
        var data = ml.Data.LoadFromEnumerable(train);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(Small()).Fit(data);
        detector.Threshold *= 1.5f;
        var expected = ml.Data.CreateEnumerable<Output>(detector.Transform(data), false).ToArray();

        detector.Save(temp.File("detector.bin"));
        var loaded = AutoencoderAnomalyTransformer.Load(temp.File("detector.bin"));
        Assert.AreEqual(detector.Threshold, loaded.Threshold);
        CollectionAssert.AreEqual(detector.TrainingScores, loaded.TrainingScores);
        AssertSame(expected, ml.Data.CreateEnumerable<Output>(loaded.Transform(data), false).ToArray());

        ml.Model.Save(detector, data.Schema, temp.File("model.zip"));
        var other = new MLContext(seed: 2); // its own empty component catalog: Model.Load registers the loaders itself
        AssertSame(expected, ml.Data.CreateEnumerable<Output>(other.Model.Load(temp.File("model.zip"), out _).Transform(data), false).ToArray());

        var bytes = File.ReadAllBytes(temp.File("detector.bin"));
        bytes[bytes.Length / 2] ^= 8;
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderAnomalyTransformer.Load(new MemoryStream(bytes)));
    }

    /// <summary>
    /// Bad input is refused clearly: a missing feature column and a non-vector one name the column at Fit; Evaluate
    /// without a Label column, or with a Boolean one, raises ML.NET's error naming it; a bad contamination is refused.
    /// </summary>
    [TestMethod]
    public void BadInputIsRefusedClearly()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = WithOutliers(100, 0, seed: 7);
        var data = ml.Data.LoadFromEnumerable(train);
        var missing = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.AnomalyDetection.Trainers.Autoencoder(featureColumnName: "Pixels").Fit(data));
        Assert.AreEqual("Pixels", missing.ColumnName);
        var scalar = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.AnomalyDetection.Trainers.Autoencoder(featureColumnName: "Label").Fit(data));
        StringAssert.Contains(scalar.Message, "vector");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(contamination: 1.0));

        var detector = ml.AnomalyDetection.Trainers.Autoencoder(Small()).Fit(data);
        var noLabel = ml.Transforms.DropColumns("Label").Fit(data).Transform(data);
        var e1 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Evaluate(detector.Transform(noLabel)));
        StringAssert.Contains(e1.Message, "Label");
        var boolLabel = ml.Data.LoadFromEnumerable(train.Select(r => new BoolLabelRow { Features = r.Features, Label = r.Label > 0 }));
        var e2 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Evaluate(detector.Transform(boolLabel)));
        StringAssert.Contains(e2.Message, "Label");
    }

    /// <summary>The detector passes the conformance kit (schema, determinism, batches, bad input, save/load, PredictionEngine).</summary>
    [TestMethod]
    public void AnomalyDetectorPassesTheConformanceKit()
    {
        var ml = new MLContext(seed: 1);
        var rows = Synthetic.LowRank(300, 12, 3, seed: 5);
        EstimatorConformance.RunAll(ml, new ConformanceCase
        {
            Name = "anomaly detector",
            CreateEstimator = () => ml.AnomalyDetection.Trainers.Autoencoder(Small()),
            TrainData = ml.ToDataView(rows),
            ScoreRows = rows.Take(77).Select(r => new VectorRow { Features = r }).ToArray(),
            FeatureSize = 12,
            OutputColumns = ["Score"],
            InputColumnName = "Features",
            PredictionType = typeof(Output),
            SetBatchSize = (t, n) => ((AutoencoderAnomalyTransformer)t).Autoencoder.TransformBatchSize = n,
            OwnSaveLoad = t =>
            {
                using var stream = new MemoryStream();
                ((AutoencoderAnomalyTransformer)t).Save(stream);
                stream.Position = 0;
                return AutoencoderAnomalyTransformer.Load(stream);
            },
        });
    }

    /// <summary>The detector's output columns.</summary>
    public sealed class Output
    {
        /// <summary>Anomaly score.</summary>
        public float Score { get; set; }

        /// <summary>True = anomaly.</summary>
        public bool PredictedLabel { get; set; }
    }

    /// <summary>A row whose label is Boolean (what Evaluate refuses).</summary>
    public sealed class BoolLabelRow
    {
        /// <summary>The features.</summary>
        [VectorType(12)]
        public float[] Features { get; set; } = [];

        /// <summary>The label.</summary>
        public bool Label { get; set; }
    }

    private static void AssertSame(Output[] expected, Output[] actual)
    {
        CollectionAssert.AreEqual(expected.Select(o => o.Score).ToArray(), actual.Select(o => o.Score).ToArray());
        CollectionAssert.AreEqual(expected.Select(o => o.PredictedLabel).ToArray(), actual.Select(o => o.PredictedLabel).ToArray());
    }

    /// <summary>Low-rank rows in (0, 1) with <paramref name="outliers"/> of them (evenly spread) replaced by random 0/1 rows.</summary>
    private static (LabelledRow[] Rows, int[] Outliers) WithOutliers(int count, int outliers, int seed)
    {
        var rows = Synthetic.LowRank(count, 12, 3, seed: seed);
        var random = new Random(seed + 100);
        var planted = Enumerable.Range(0, outliers).Select(i => i * count / Math.Max(1, outliers) + count / (2 * Math.Max(1, outliers))).ToArray();
        var result = rows.Select(r => new LabelledRow { Features = r }).ToArray();
        foreach (int i in planted)
        {
            result[i].Features = rows[i].Select(_ => (float)random.Next(2)).ToArray();
            result[i].Label = 1;
        }
        return (result, planted);
    }
}
