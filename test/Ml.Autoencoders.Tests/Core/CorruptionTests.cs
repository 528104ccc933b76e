using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Input corruption (the denoising autoencoder): applied to the network's input in training only, never to the
/// target, validation or Transform; and each corruption's noise has the documented statistics.
/// </summary>
[TestClass]
public sealed class CorruptionTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>
    /// The training loss compares the network's output on the corrupted input with the clean input; the evaluation
    /// loss uses the clean input throughout. Checked against a manual forward pass on one batch.
    /// </summary>
    [TestMethod]
    public void ObjectiveFeedsTheCorruptedInputAndComparesWithTheCleanOne()
    {
        var spec = new DenseNetworkSpec(6, new[] { 5 }, new[] { Activation.Tanh }, 2, Activation.Linear, Activation.Sigmoid);
        using var network = TestNetworks.Create(spec, 3, CPU);
        var corruption = new RecordingCorruption();
        using var objective = new AutoencoderObjective(network, new ObjectiveSettings { Corruption = corruption }, 1, CPU);
        using var scope = NewDisposeScope();
        var batch = rand(new long[] { 9, 6 }, generator: new Generator(5));
        var batchCopy = batch.clone();

        float training = objective.Loss(batch, 0, training: true, null).item<float>();
        float evaluation = objective.Loss(batch, 0, training: false, null).item<float>();

        using (no_grad())
        {
            float expectedTraining = nn.functional.mse_loss(network.forward(zeros_like(batch)), batch).item<float>();
            float expectedEvaluation = nn.functional.mse_loss(network.forward(batch), batch).item<float>();
            float againstCorrupted = nn.functional.mse_loss(network.forward(zeros_like(batch)), zeros_like(batch)).item<float>();
            Assert.AreEqual(expectedTraining, training, 1e-6f, "training loss = MSE(net(corrupted), clean)");
            Assert.AreEqual(expectedEvaluation, evaluation, 1e-6f, "evaluation loss = MSE(net(clean), clean)");
            Assert.IsTrue(Math.Abs(expectedTraining - againstCorrupted) > 1e-3, "the check must tell the clean target from the corrupted one");
            Assert.IsTrue(Math.Abs(expectedTraining - expectedEvaluation) > 1e-3, "the check must tell the corrupted input from the clean one");
        }
        Assert.AreEqual(1, corruption.Calls.Count, "one call in training, none in evaluation");
        CollectionAssert.AreEqual(new long[] { 9, 6 }, corruption.Calls[0]);
        Assert.IsTrue(Same(batch, batchCopy), "the batch itself is left clean");
    }

    /// <summary>
    /// Fit corrupts every training batch (and nothing else: not the validation rows, not Transform or the model's
    /// methods). A corruption that erases the input leaves the network nothing to encode, so the training loss can
    /// only fall to the clean data's variance (the best constant output); an uncorrupted fit goes far below it.
    /// </summary>
    [TestMethod]
    public void FitCorruptsEveryTrainingBatchAndNothingElse()
    {
        var rows = Synthetic.LowRank(300, 10, 3, seed: 4);
        var data = Ml.ToDataView(rows);
        AutoencoderOptions Options(InputCorruption? corruption) => new()
        {
            LatentDimension = 3,
            HiddenLayerSizes = new[] { 12 },
            Epochs = 25,
            BatchSize = 32,
            LearningRate = 1e-2,
            ValidationFraction = 0.2,
            Seed = 2,
            Corruption = corruption,
        };
        var corruption = new RecordingCorruption();
        var erased = Ml.Transforms.Autoencoder(Options(corruption)).Fit(data);
        var clean = Ml.Transforms.Autoencoder(Options(null)).Fit(data);

        long trainRows = erased.History.Epochs[0].Rows;
        Assert.IsTrue(trainRows is > 200 and < 280, $"validation rows are held out: {trainRows} training rows");
        int batchesPerEpoch = (int)((trainRows + 31) / 32);
        Assert.AreEqual(25 * batchesPerEpoch, corruption.Calls.Count, "one call per training batch, none for validation");
        Assert.IsTrue(corruption.Calls.All(s => s.Length == 2 && s[1] == 10), "each call gets a [rows, features] batch");
        Assert.AreEqual(25 * trainRows, corruption.Calls.Sum(s => s[0]), "every training row is corrupted once per epoch");

        // The best constant output is the column means: its error is the mean per-feature variance.
        double variance = Enumerable.Range(0, 10).Average(j =>
        {
            double mean = rows.Average(r => (double)r[j]);
            return rows.Average(r => (r[j] - mean) * (r[j] - mean));
        });
        double erasedLoss = erased.History.Epochs[^1].TrainLoss;
        double cleanLoss = clean.History.Epochs[^1].TrainLoss;
        Assert.IsTrue(erasedLoss > 0.85 * variance && erasedLoss < 1.3 * variance, $"erased input: loss {erasedLoss} vs data variance {variance}");
        Assert.IsTrue(cleanLoss < 0.3 * variance, $"clean input: loss {cleanLoss} vs data variance {variance}");

        int before = corruption.Calls.Count;
        var outputs = EstimatorConformance.ReadOutputs(erased.Transform(data), new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError });
        erased.Model.Reconstruct(rows);
        erased.Model.Encode(rows);
        erased.Model.ReconstructionError(rows[0]);
        Assert.AreEqual(before, corruption.Calls.Count, "Transform and the model's methods never corrupt");
        Assert.AreEqual(rows.Length, outputs[AutoencoderColumnNames.ReconstructionError].Count);
        erased.Model.Dispose();
        clean.Model.Dispose();
    }

    /// <summary>
    /// A denoising autoencoder's Transform reconstructs the clean input: the reconstruction column equals the network's
    /// forward pass on the clean rows, and the error column is the mean squared error between the clean row and it.
    /// </summary>
    [TestMethod]
    public void TransformOfADenoisingAutoencoderUsesTheCleanInput()
    {
        var rows = Synthetic.LowRank(200, 8, 2, seed: 6);
        var options = AutoencoderPresets.Denoising(noiseFactor: 0.8);
        options.LatentDimension = 2;
        options.HiddenLayerSizes = new[] { 6 };
        options.Epochs = 3;
        options.BatchSize = 32;
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows));
        var columns = new[] { AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError };
        var first = EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(rows)), columns);
        var second = EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(rows)), columns);
        EstimatorConformance.AssertSameOutputs(first, second, "Transform is deterministic");

        float[] forward;
        using (NewDisposeScope())
        using (no_grad())
            forward = model.Model.Network.forward(tensor(Synthetic.Flatten(rows), new long[] { rows.Length, 8 })).data<float>().ToArray();
        var viaModel = model.Model.Reconstruct(rows);
        for (int i = 0; i < rows.Length; i++)
        {
            var reconstruction = first[AutoencoderColumnNames.Reconstruction][i];
            double mse = 0;
            for (int j = 0; j < 8; j++)
            {
                Assert.AreEqual(forward[i * 8 + j], reconstruction[j], 1e-6f, $"row {i} feature {j}: forward pass on the clean row");
                Assert.AreEqual(viaModel[i][j], reconstruction[j], 1e-6f, $"row {i} feature {j}: Model.Reconstruct");
                mse += (rows[i][j] - reconstruction[j]) * (rows[i][j] - reconstruction[j]);
            }
            Assert.AreEqual(mse / 8, first[AutoencoderColumnNames.ReconstructionError][i][0], 1e-6 + 1e-5 * mse / 8, $"row {i}: error against the clean row");
        }
        model.Model.Dispose();
    }

    /// <summary>Gaussian noise of factor f has mean 0 and standard deviation f, and the clean tensor is left as it was.</summary>
    [TestMethod]
    public void GaussianNoiseHasTheStandardDeviationOfItsFactor()
    {
        using var scope = NewDisposeScope();
        var clean = rand(new long[] { 4000, 10 }, generator: new Generator(1));
        var copy = clean.clone();
        var noisy = new GaussianNoise { Factor = 0.3 }.Apply(clean, new Generator(7));
        var noise = (noisy - clean).data<float>().ToArray();
        Assert.IsTrue(Same(clean, copy), "the input is not modified");
        var (mean, std) = MeanStd(noise);
        Assert.AreEqual(0, mean, 4 * 0.3 / Math.Sqrt(noise.Length), "noise mean");
        Assert.AreEqual(0.3, std, 0.3 * 0.03, "noise standard deviation = factor");
        Assert.IsTrue(noise.Min() < -0.9 && noise.Max() > 0.9, "no clipping without ClipMin/ClipMax");
    }

    /// <summary>
    /// Clipping to [0, 1] bounds every value and piles the tails onto the bounds in the expected proportion: for clean
    /// 0.5 and factor 0.6, P(0.5 + 0.6 z &lt; 0) = Φ(−0.5/0.6) ≈ 0.2023 on each side. A one-sided clip bounds one side only.
    /// </summary>
    [TestMethod]
    public void GaussianNoiseIsClippedToItsRange()
    {
        using var scope = NewDisposeScope();
        var clean = full(new long[] { 5000, 8 }, 0.5f);
        var clipped = new GaussianNoise { Factor = 0.6, ClipMin = 0, ClipMax = 1 }.Apply(clean, new Generator(3)).data<float>().ToArray();
        Assert.IsTrue(clipped.All(v => v >= 0 && v <= 1), "every value within [ClipMin, ClipMax]");
        double atLow = clipped.Count(v => v == 0) / (double)clipped.Length;
        double atHigh = clipped.Count(v => v == 1) / (double)clipped.Length;
        Assert.AreEqual(0.2023, atLow, 0.015, "fraction clipped to 0");
        Assert.AreEqual(0.2023, atHigh, 0.015, "fraction clipped to 1");

        var lowOnly = new GaussianNoise { Factor = 0.6, ClipMin = 0.25 }.Apply(clean, new Generator(3)).data<float>().ToArray();
        Assert.AreEqual(0.25f, lowOnly.Min(), "clipped below at ClipMin");
        Assert.IsTrue(lowOnly.Max() > 1.5f, "not clipped above without ClipMax");
    }

    /// <summary>Per-feature standard deviations scale each feature's noise (heteroscedastic noise); a zero leaves the feature clean.</summary>
    [TestMethod]
    public void GaussianNoiseScalesEachFeatureByItsStandardDeviation()
    {
        using var scope = NewDisposeScope();
        var sigmas = new float[] { 0, 0.5f, 1, 2, 4 };
        var clean = rand(new long[] { 6000, 5 }, generator: new Generator(2));
        var noise = (new GaussianNoise { Factor = 0.5, StandardDeviations = sigmas }.Apply(clean, new Generator(11)) - clean).data<float>().ToArray();
        for (int j = 0; j < sigmas.Length; j++)
        {
            var column = Enumerable.Range(0, 6000).Select(i => noise[i * 5 + j]).ToArray();
            var (mean, std) = MeanStd(column);
            double expected = 0.5 * sigmas[j];
            if (expected == 0)
            {
                Assert.IsTrue(column.All(v => v == 0), $"feature {j} has standard deviation 0: unchanged");
                continue;
            }
            Assert.AreEqual(expected, std, expected * 0.04, $"feature {j}: factor x its standard deviation");
            Assert.AreEqual(0, mean, 4 * expected / Math.Sqrt(6000), $"feature {j}: mean 0");
        }
    }

    /// <summary>Masking noise sets about Rate of the values to MaskValue and leaves the others exactly as they were.</summary>
    [TestMethod]
    public void MaskingNoiseMasksItsRate()
    {
        using var scope = NewDisposeScope();
        var clean = rand(new long[] { 3000, 10 }, generator: new Generator(4)).add_(1);
        var copy = clean.clone();
        var masked = new MaskingNoise { Rate = 0.3, MaskValue = -7 }.Apply(clean, new Generator(5)).data<float>().ToArray();
        var original = clean.data<float>().ToArray();
        Assert.IsTrue(Same(clean, copy), "the input is not modified");
        int hits = 0;
        for (int i = 0; i < masked.Length; i++)
        {
            if (masked[i] == -7) hits++;
            else Assert.AreEqual(original[i], masked[i], $"value {i} is either masked or unchanged");
        }
        Assert.AreEqual(0.3, hits / (double)masked.Length, 0.015, "fraction masked");
        Assert.IsTrue(Same(new MaskingNoise { Rate = 0 }.Apply(clean, new Generator(5)), clean), "rate 0 changes nothing");
        Assert.IsTrue(new MaskingNoise { Rate = 1, MaskValue = 2 }.Apply(clean, new Generator(5)).eq(2).all().item<bool>(), "rate 1 masks everything");
    }

    /// <summary>Salt-and-pepper noise sets about Rate/2 of the values to Low and Rate/2 to High, and leaves the others exactly as they were.</summary>
    [TestMethod]
    public void SaltAndPepperNoiseSplitsItsRateBetweenLowAndHigh()
    {
        using var scope = NewDisposeScope();
        var clean = rand(new long[] { 3000, 10 }, generator: new Generator(6)).add_(1);
        var copy = clean.clone();
        var noisy = new SaltAndPepperNoise { Rate = 0.2, Low = -3, High = 5 }.Apply(clean, new Generator(8)).data<float>().ToArray();
        var original = clean.data<float>().ToArray();
        Assert.IsTrue(Same(clean, copy), "the input is not modified");
        int low = 0, high = 0;
        for (int i = 0; i < noisy.Length; i++)
        {
            if (noisy[i] == -3) low++;
            else if (noisy[i] == 5) high++;
            else Assert.AreEqual(original[i], noisy[i], $"value {i} is pepper, salt or unchanged");
        }
        Assert.AreEqual(0.1, low / (double)noisy.Length, 0.01, "fraction set to Low");
        Assert.AreEqual(0.1, high / (double)noisy.Length, 0.01, "fraction set to High");
    }

    /// <summary>Each corruption draws from the generator only: the same seed gives the same noise, another seed other noise.</summary>
    [TestMethod]
    public void SameSeedGivesTheSameNoise()
    {
        using var scope = NewDisposeScope();
        var clean = rand(new long[] { 50, 7 }, generator: new Generator(9));
        var corruptions = new InputCorruption[]
        {
            new GaussianNoise { Factor = 0.4, StandardDeviations = new float[] { 1, 2, 3, 1, 2, 3, 1 }, ClipMin = 0, ClipMax = 1 },
            new MaskingNoise { Rate = 0.3 },
            new SaltAndPepperNoise { Rate = 0.3 },
        };
        foreach (var corruption in corruptions)
        {
            var a = corruption.Apply(clean, new Generator(21));
            var b = corruption.Clone().Apply(clean, new Generator(21));
            var c = corruption.Apply(clean, new Generator(22));
            Assert.IsTrue(Same(a, b), $"{corruption.GetType().Name}: same seed, same noise");
            Assert.IsFalse(Same(a, c), $"{corruption.GetType().Name}: another seed, other noise");
            Assert.IsFalse(Same(a, clean), $"{corruption.GetType().Name}: corrupts something");
        }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static (double Mean, double Std) MeanStd(IReadOnlyCollection<float> values)
    {
        double mean = values.Average(v => (double)v);
        return (mean, Math.Sqrt(values.Average(v => (v - mean) * (v - mean))));
    }

    /// <summary>
    /// Records the shape of every batch it is asked to corrupt and erases it (all zeros). Clones share the record, since
    /// the options and the objective each keep their own copy.
    /// </summary>
    internal sealed class RecordingCorruption : InputCorruption
    {
        private readonly List<long[]> calls;

        public RecordingCorruption() : this(new List<long[]>()) { }

        private RecordingCorruption(List<long[]> calls) => this.calls = calls;

        public IReadOnlyList<long[]> Calls
        {
            get { lock (calls) return calls.ToList(); }
        }

        public override void Validate(int featureCount) { }

        internal override Tensor Apply(Tensor clean, Generator generator)
        {
            lock (calls) calls.Add(clean.shape);
            return zeros_like(clean);
        }

        public override InputCorruption Clone() => new RecordingCorruption(calls);
    }
}
