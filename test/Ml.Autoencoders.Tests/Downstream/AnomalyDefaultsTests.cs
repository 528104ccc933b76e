using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The anomaly detector's defaults (issue 19): a code narrower than the input, a wide code refused with the option
/// named, epochs chosen from optimizer steps and rows and reported, an ensemble saved and loaded whole, and scores
/// that depend little on the seed.
/// </summary>
[TestClass]
public sealed class AnomalyDefaultsTests
{
    /// <summary>Normal rows near a 2-d manifold in <paramref name="d"/> features in [0, 1].</summary>
    private static float[][] Normal(int n, int d, Random random) => Enumerable.Range(0, n).Select(_ =>
    {
        double a = random.NextDouble(), b = random.NextDouble();
        return Enumerable.Range(0, d).Select(j => (float)(0.5 + 0.3 * Math.Sin(a * 3 + j) * b + 0.2 * Math.Cos(b * 2 + 0.5 * j) * a + 0.02 * Synthetic.Gaussian(random))).ToArray();
    }).ToArray();

    /// <summary>Anomalies: off the manifold, some values beyond the training range.</summary>
    private static float[][] Anomalies(int n, int d, Random random) => Enumerable.Range(0, n).Select(_ =>
        Enumerable.Range(0, d).Select(j => (float)(0.5 + 0.35 * Synthetic.Gaussian(random))).ToArray()).ToArray();

    /// <summary>The default body's code is narrower than the input at every size; its output follows the training range (the autoencoder's rule).</summary>
    [TestMethod]
    public void DefaultCodeIsNarrowerThanTheInputForEveryInputSize()
    {
        foreach (int d in new[] { 2, 3, 5, 8, 13, 30, 60, 784, 5000 })
        {
            var body = AutoencoderAnomalyOptions.DefaultAutoencoder(d);
            Assert.IsTrue(body.LatentDimension < d && body.LatentDimension >= 1, $"{d} inputs: code {body.LatentDimension}");
            Assert.IsNull(body.OutputActivation, "the output is chosen from the training range at Fit");
        }
        Assert.AreEqual(7, AutoencoderAnomalyOptions.Defaults.LatentDimension(30));
        Assert.AreEqual(32, AutoencoderAnomalyOptions.Defaults.LatentDimension(784));

        var ml = new MLContext(seed: 0);
        var rows = Normal(64, 12, new Random(1));
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 2, EnsembleSize = 1 }).Fit(ml.ToDataView(rows));
        Assert.AreEqual(3, detector.Autoencoder.Model.LatentDimension, "12 inputs: a code of 12 / 4");
        Assert.AreEqual(Activation.Sigmoid, detector.Autoencoder.Options.OutputActivation, "training rows in [0, 1]: sigmoid");
    }

    /// <summary>A given body whose code is as wide as the input is refused naming LatentDimension and AllowWideCode; allowed when asked.</summary>
    [TestMethod]
    public void CodeAsWideAsTheInputIsRefusedNamingTheOptionUnlessAllowed()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.ToDataView(Normal(32, 6, new Random(2)));
        var wide = new AutoencoderOptions { HiddenLayerSizes = [8], LatentDimension = 6, Epochs = 1 };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = wide }).Fit(data));
        Assert.AreEqual(nameof(AutoencoderOptions.LatentDimension), e.ParamName);
        StringAssert.Contains(e.Message, nameof(AutoencoderAnomalyOptions.AllowWideCode));
        StringAssert.Contains(e.Message, "6 values");
        var allowed = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = wide, AllowWideCode = true }).Fit(data);
        Assert.AreEqual(6, allowed.Autoencoder.Model.LatentDimension);
    }

    /// <summary>Default epochs reach 500 optimizer steps (10 to 1000 epochs), the ensemble shrinks with rows, and the history says why.</summary>
    [TestMethod]
    public void DefaultEpochsComeFromOptimizerStepsAndRowsAndAreReported()
    {
        Assert.AreEqual(500, AutoencoderAnomalyOptions.Defaults.ChooseEpochs(100, 128).Epochs, "one step per epoch: 500 epochs");
        Assert.AreEqual(250, AutoencoderAnomalyOptions.Defaults.ChooseEpochs(200, 128).Epochs);
        Assert.AreEqual(11, AutoencoderAnomalyOptions.Defaults.ChooseEpochs(6000, 128).Epochs, "47 steps per epoch");
        Assert.AreEqual(10, AutoencoderAnomalyOptions.Defaults.ChooseEpochs(1_000_000, 128).Epochs, "never fewer than 10");
        Assert.AreEqual(10, AutoencoderAnomalyOptions.Defaults.EnsembleSize(100));
        Assert.AreEqual(1, AutoencoderAnomalyOptions.Defaults.EnsembleSize(6000));
        Assert.AreEqual(5, AutoencoderAnomalyOptions.Defaults.EnsembleSize(1000));
        Assert.AreEqual(1, AutoencoderAnomalyOptions.Defaults.EnsembleSize(1_000_000));

        var ml = new MLContext(seed: 0);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { EnsembleSize = 1 }).Fit(ml.ToDataView(Normal(300, 5, new Random(3))));
        var history = detector.Autoencoder.Model.History;
        Assert.AreEqual(167, history.Epochs.Count, "300 rows = 3 steps per epoch: 167 epochs reach 500 steps");
        StringAssert.Contains(history.EpochsChoice, "167");
        StringAssert.Contains(history.EpochsChoice, "300 training rows");
    }

    /// <summary>Two seeds of the default detector rank a generated one-class test set alike (AUROC within 0.01).</summary>
    [TestMethod]
    public void ScoresOfTwoSeedsAgreeOnAGeneratedOneClassProblem()
    {
        const int D = 10;
        var random = new Random(4);
        var train = Normal(100, D, random);
        var test = Normal(100, D, random).Concat(Anomalies(100, D, random)).ToArray();
        var isAnomaly = Enumerable.Range(0, test.Length).Select(i => i >= 100).ToArray();
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);
        double[] auroc = new double[2];
        var scores = new float[2][];
        for (int seed = 0; seed < 2; seed++)
        {
            var detector = ml.AnomalyDetection.Trainers.Autoencoder(seed: seed).Fit(trainView);
            Assert.AreEqual(10, detector.Members.Count, "100 rows: the largest default ensemble");
            scores[seed] = detector.Score(Synthetic.Flatten(test), test.Length);
            auroc[seed] = Synthetic.Auroc(scores[seed], isAnomaly);
        }
        Assert.IsTrue(auroc.Min() > 0.9, $"AUROC {auroc[0]:F4} / {auroc[1]:F4}");
        Assert.IsTrue(Math.Abs(auroc[0] - auroc[1]) <= 0.01, $"AUROC of seeds 0 and 1: {auroc[0]:F4} / {auroc[1]:F4}");
        double rho = Spearman(scores[0], scores[1]);
        Assert.IsTrue(rho > 0.97, $"rank correlation of the two seeds' scores {rho:F4}");
    }

    /// <summary>An ensemble is saved and loaded with every member and weight: the same scores; per-feature errors average like the score.</summary>
    [TestMethod]
    public void AnEnsembleSavesAndLoadsWithEveryMember()
    {
        var ml = new MLContext(seed: 0);
        var rows = Normal(40, 6, new Random(5));
        // The reconstruction-error score: its members are rescaled by their mean training scores (the code-distance score standardises instead).
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions
        {
            Epochs = 3, EnsembleSize = 3, FeatureErrorsColumnName = "Errors", ScoreKind = AnomalyScoreKind.ReconstructionError,
        }).Fit(ml.ToDataView(rows));
        Assert.AreEqual(3, detector.Members.Count);
        Assert.AreEqual(3, detector.MemberWeights.Count);
        Assert.AreEqual(1.0, detector.MemberWeights.Average(w => (double)w), 0.2, "weights rescale to the members' common mean");
        var flat = Synthetic.Flatten(rows);
        var before = detector.Score(flat, rows.Length);
        using var stream = new MemoryStream();
        detector.Save(stream);
        stream.Position = 0;
        var loaded = AutoencoderAnomalyTransformer.Load(stream);
        Assert.AreEqual(3, loaded.Members.Count);
        CollectionAssert.AreEqual(before, loaded.Score(flat, rows.Length));
        // per-feature errors average like the score: their mean over the features is the score
        var errors = loaded.Transform(ml.ToDataView(rows)).GetColumn<float[]>("Errors").First();
        Assert.AreEqual(before[0], errors.Average(), 1e-5 * Math.Max(1, before[0]));
    }

    private static double Spearman(float[] a, float[] b)
    {
        static double[] Ranks(float[] v)
        {
            var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            var r = new double[v.Length];
            for (int k = 0; k < order.Length; k++) r[order[k]] = k;
            return r;
        }
        var ra = Ranks(a);
        var rb = Ranks(b);
        double ma = ra.Average(), mb = rb.Average(), num = 0, da = 0, db = 0;
        for (int i = 0; i < ra.Length; i++)
        {
            num += (ra[i] - ma) * (rb[i] - mb);
            da += (ra[i] - ma) * (ra[i] - ma);
            db += (rb[i] - mb) * (rb[i] - mb);
        }
        return num / Math.Sqrt(da * db);
    }
}
