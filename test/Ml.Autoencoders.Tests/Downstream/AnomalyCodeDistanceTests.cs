using Microsoft.ML;
using Ml.Autoencoders.Anomaly;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The detector's default score (issue 19): the reconstruction error plus the code's distance to the training codes,
/// each standardised on the training rows. Checked against the definition computed by hand, on rows the network
/// reconstructs well but whose codes lie where no training row's does, through save and load, and with the reference
/// codes sampled beyond <see cref="AutoencoderAnomalyOptions.Defaults.MaxReferenceRows"/>.
/// </summary>
[TestClass]
public sealed class AnomalyCodeDistanceTests
{
    private const int Features = 10;

    /// <summary>Rows on a plane in <see cref="Features"/> features (values stay in [0.1, 0.9]): plane coordinates (u, v) in [-1, 1].</summary>
    private static float[] OnPlane(double u, double v, Random random) =>
        Enumerable.Range(0, Features).Select(j => (float)(0.5 + 0.2 * (Math.Sin(j + 1) * u + Math.Cos(2 * j + 1) * v) + 0.005 * Synthetic.Gaussian(random))).ToArray();

    /// <summary>Training rows in two clusters of the plane, around (-0.7, -0.7) and (0.7, 0.7).</summary>
    private static float[][] Clusters(int n, Random random) => Enumerable.Range(0, n).Select(i =>
    {
        double c = i % 2 == 0 ? -0.7 : 0.7;
        return OnPlane(c + 0.15 * Synthetic.Gaussian(random), c + 0.15 * Synthetic.Gaussian(random), random);
    }).ToArray();

    /// <summary>Rows on the same plane where no training row lies: around (-0.7, 0.7) and (0.7, -0.7).</summary>
    private static float[][] EmptyCorners(int n, Random random) => Enumerable.Range(0, n).Select(i =>
    {
        double c = i % 2 == 0 ? -0.7 : 0.7;
        return OnPlane(c + 0.15 * Synthetic.Gaussian(random), -c + 0.15 * Synthetic.Gaussian(random), random);
    }).ToArray();

    /// <summary>Rows filling the plane's square [-1, 1]² except a hole: max(|u|, |v|) above 0.5.</summary>
    private static float[][] Frame(int n, Random random)
    {
        var rows = new List<float[]>();
        while (rows.Count < n)
        {
            double u = 2 * random.NextDouble() - 1, v = 2 * random.NextDouble() - 1;
            if (Math.Max(Math.Abs(u), Math.Abs(v)) > 0.5) rows.Add(OnPlane(u, v, random));
        }
        return rows.ToArray();
    }

    /// <summary>Rows in the frame's hole: (u, v) within 0.15 of the centre.</summary>
    private static float[][] Hole(int n, Random random) => Enumerable.Range(0, n).Select(_ => OnPlane(0.15 * (2 * random.NextDouble() - 1), 0.15 * (2 * random.NextDouble() - 1), random)).ToArray();

    /// <summary>
    /// A row the network reconstructs about as well as a training row (it lies on the plane the training rows span,
    /// inside the frame they fill) but in a region with no training row: the reconstruction error barely ranks it above new
    /// normal rows; the default score does.
    /// </summary>
    [TestMethod]
    public void RowsReconstructedWellButFarFromEveryTrainingCodeScoreHigh()
    {
        var ml = new MLContext(seed: 0);
        var random = new Random(3);
        var train = ml.ToDataView(Frame(600, random));
        var normal = Frame(100, random);
        var unusual = Hole(100, random);
        var rows = Synthetic.Flatten([.. normal, .. unusual]);
        var labels = Enumerable.Range(0, 200).Select(i => i >= 100).ToArray();
        var options = new AutoencoderAnomalyOptions { Epochs = 60, EnsembleSize = 1, Seed = 1 };
        var combined = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
        options.ScoreKind = AnomalyScoreKind.ReconstructionError;
        var error = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
        try
        {
            double aurocCombined = Synthetic.Auroc(combined.Score(rows, 200), labels), aurocError = Synthetic.Auroc(error.Score(rows, 200), labels);
            Console.WriteLine($"rows in the hole vs new frame rows: AUROC {aurocCombined:F3} (default score), {aurocError:F3} (reconstruction error alone)");
            Assert.IsTrue(aurocCombined > 0.95, $"the default score ranks rows in the empty corners above new normal rows: AUROC {aurocCombined:F3} (the error alone {aurocError:F3})");
            Assert.IsTrue(aurocCombined > aurocError + 0.05, $"the code distance adds what the error misses: AUROC {aurocCombined:F3} vs {aurocError:F3}");
        }
        finally
        {
            combined.Release();
            error.Release();
        }
    }

    /// <summary>
    /// Score = (error - mean) / deviation + (distance - mean) / deviation, the distance the mean Euclidean distance to the
    /// 10 nearest training codes and the statistics those of the training rows (population deviation), averaged over
    /// members: computed here by brute force from each member's codes and reconstructions.
    /// </summary>
    [TestMethod]
    public void ScoreIsTheStandardisedErrorPlusTheMeanDistanceToTheNearestTrainingCodes()
    {
        var ml = new MLContext(seed: 0);
        var random = new Random(4);
        var trainRows = Clusters(150, random);
        var queries = Synthetic.Flatten([.. Clusters(5, random), .. EmptyCorners(5, random)]);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 5, EnsembleSize = 2, Seed = 2 }).Fit(ml.ToDataView(trainRows));
        try
        {
            Assert.AreEqual(AnomalyScoreKind.ReconstructionAndCodeDistance, detector.ScoreKind, "the default score");
            Assert.AreEqual(10, detector.Model.CodeNeighbors);
            CollectionAssert.AreEqual(new[] { 1f, 1f }, detector.MemberWeights.ToArray(), "standardised members need no rescaling");
            var expected = new double[10];
            var expectedTraining = new double[trainRows.Length];
            foreach (var member in detector.Members)
            {
                var model = member.Model;
                int k = model.LatentDimension;
                var trainCodes = model.Encode(Synthetic.Flatten(trainRows), trainRows.Length);
                double[] Errors(float[] flat, int n)
                {
                    var reconstruction = model.Reconstruct(flat, n);
                    return Enumerable.Range(0, n).Select(r => Enumerable.Range(0, Features).Sum(j => Math.Pow(flat[r * Features + j] - reconstruction[r * Features + j], 2)) / Features).ToArray();
                }
                double[] Distances(float[] codes, int n) => Enumerable.Range(0, n).Select(r =>
                    Enumerable.Range(0, trainRows.Length).Select(t => Math.Sqrt(Enumerable.Range(0, k).Sum(c => Math.Pow(codes[r * k + c] - trainCodes[t * k + c], 2))))
                        .Order().Take(10).Average()).ToArray();
                var trainErrors = Errors(Synthetic.Flatten(trainRows), trainRows.Length);
                var trainDistances = Distances(trainCodes, trainRows.Length);
                double Z(double v, double[] of) => (v - of.Average()) / Math.Sqrt(of.Sum(x => (x - of.Average()) * (x - of.Average())) / of.Length);
                var errors = Errors(queries, 10);
                var distances = Distances(model.Encode(queries, 10), 10);
                for (int r = 0; r < 10; r++) expected[r] += (Z(errors[r], trainErrors) + Z(distances[r], trainDistances)) / detector.Members.Count;
                for (int r = 0; r < trainRows.Length; r++) expectedTraining[r] += (Z(trainErrors[r], trainErrors) + Z(trainDistances[r], trainDistances)) / detector.Members.Count;
            }
            var actual = detector.Score(queries, 10);
            for (int r = 0; r < 10; r++) Assert.AreEqual(expected[r], actual[r], 1e-3 * Math.Max(1, Math.Abs(expected[r])), $"row {r}");
            var training = detector.TrainingScores;
            for (int r = 0; r < training.Length; r++) Assert.AreEqual(expectedTraining[r], training[r], 1e-3 * Math.Max(1, Math.Abs(expectedTraining[r])), $"training row {r}");
            CollectionAssert.AreEqual(training, detector.Score(Synthetic.Flatten(trainRows), trainRows.Length), "scoring the training rows again gives their training scores");
        }
        finally
        {
            detector.Release();
        }
    }

    /// <summary>Both save routes keep the reference codes and statistics: identical scores, threshold and neighbours after loading.</summary>
    [TestMethod]
    public void SavedDetectorsScoreExactlyAsBefore()
    {
        using var temp = new TempDirectory("anomaly-code-distance");
        var ml = new MLContext(seed: 0);
        var random = new Random(5);
        var data = ml.ToDataView(Clusters(120, random));
        var rows = Synthetic.Flatten(EmptyCorners(20, random));
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 3, EnsembleSize = 2, CodeNeighbors = 4, Seed = 3 }).Fit(data);
        var before = detector.Score(rows, 20);
        detector.Save(temp.File("detector.bin"));
        var own = AutoencoderAnomalyTransformer.Load(temp.File("detector.bin"));
        ml.Model.Save(detector, data.Schema, temp.File("pipeline.zip"));
        var viaMlNet = (AutoencoderAnomalyTransformer)new MLContext().Model.Load(temp.File("pipeline.zip"), out _);
        try
        {
            foreach (var loaded in new[] { own, viaMlNet })
            {
                Assert.AreEqual(AnomalyScoreKind.ReconstructionAndCodeDistance, loaded.ScoreKind);
                Assert.AreEqual(4, loaded.Model.CodeNeighbors);
                Assert.AreEqual(detector.Threshold, loaded.Threshold);
                CollectionAssert.AreEqual(before, loaded.Score(rows, 20));
                CollectionAssert.AreEqual(detector.TrainingScores, loaded.TrainingScores);
            }
        }
        finally
        {
            detector.Release();
            own.Release();
            viaMlNet.Release();
        }
    }

    /// <summary>Beyond MaxReferenceRows training rows a member keeps a seeded sample of codes; scoring the training rows again still gives their training scores.</summary>
    [TestMethod]
    public void LargeTrainingSetsKeepASampleOfCodes()
    {
        var ml = new MLContext(seed: 0);
        int n = AutoencoderAnomalyOptions.Defaults.MaxReferenceRows + 37;
        var rows = Synthetic.LowRank(n, 4, 2, seed: 6);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 1, EnsembleSize = 1, Seed = 4 }).Fit(ml.ToDataView(rows));
        try
        {
            Assert.AreEqual(AutoencoderAnomalyOptions.Defaults.MaxReferenceRows, detector.Model.CodeParts![0].Rows);
            var training = detector.TrainingScores;
            Assert.AreEqual(n, training.Length);
            CollectionAssert.AreEqual(training, detector.Score(Synthetic.Flatten(rows), n));
        }
        finally
        {
            detector.Release();
        }
    }

    /// <summary>CodeNeighbors below 1 is refused naming the option, before any training.</summary>
    [TestMethod]
    public void CodeNeighborsBelowOneIsRefused()
    {
        var ml = new MLContext(seed: 0);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { CodeNeighbors = 0 }));
        Assert.AreEqual(nameof(AutoencoderAnomalyOptions.CodeNeighbors), e.ParamName);
    }
}
