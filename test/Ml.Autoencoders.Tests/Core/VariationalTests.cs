using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The variational autoencoder: the KL term and its warm-up, the reparameterised sample, β = 0 against a plain
/// autoencoder, and what the model and Transform give (prior samples, interpolation, posterior, sampled codes).
/// </summary>
[TestClass]
public sealed class VariationalTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>KL(N(μ, σ²) ‖ N(0, 1)) summed over units and averaged over rows, on hand-computed numbers.</summary>
    [TestMethod]
    public void KlDivergenceEqualsTheClosedForm()
    {
        using var scope = NewDisposeScope();
        // Per unit ½(μ² + σ² − 1 − ln σ²): (0, σ² 1) → 0; (0, σ² 4) → ½(3 − ln 4) = 0.806853; (1, σ² ½) → ½(½ + ln 2) = 0.596574;
        // (−1, σ² 1) → ½. Sum 1.903426 over 2 rows: 0.951713.
        var mean = tensor(new float[] { 0, 0, 1, -1 }, new long[] { 2, 2 });
        var logVariance = tensor(new float[] { 0, MathF.Log(4), -MathF.Log(2), 0 }, new long[] { 2, 2 });
        Assert.AreEqual(0.951713f, KlDivergence.FromStandardNormal(mean, logVariance).item<float>(), 1e-5f);
        // One unit N(2, 1): ½·4 = 2. The standard normal itself: 0.
        Assert.AreEqual(2f, KlDivergence.FromStandardNormal(tensor(new float[] { 2 }, new long[] { 1, 1 }), zeros(1, 1)).item<float>(), 1e-6f);
        Assert.AreEqual(0f, KlDivergence.FromStandardNormal(zeros(5, 3), zeros(5, 3)).item<float>(), 1e-7f);
    }

    /// <summary>The KL weight rises linearly from 0 over the warm-up epochs, then stays at β; no warm-up means β from the start.</summary>
    [TestMethod]
    public void KlWeightWarmsUpLinearly()
    {
        double[] expected = { 0, 0.5, 1, 1.5, 2, 2, 2 };
        for (int epoch = 0; epoch < expected.Length; epoch++)
            Assert.AreEqual(expected[epoch], KlDivergence.WeightAt(2, 4, epoch), 1e-12, $"β 2, warm-up 4, epoch {epoch}");
        Assert.AreEqual(2, KlDivergence.WeightAt(2, 4, int.MaxValue), "evaluation uses the full weight");
        Assert.AreEqual(0.7, KlDivergence.WeightAt(0.7, 0, 0), "no warm-up: β from the first epoch");
        Assert.AreEqual(0, KlDivergence.WeightAt(0, 3, 5));
        Assert.AreEqual(1.0 / 3, KlDivergence.WeightAt(1, 3, 1), 1e-12);
    }

    /// <summary>
    /// One training and one evaluation loss of a Gaussian head, recomputed by hand with the objective's generators:
    /// z = μ + exp(½ log σ²)·ε, reconstruction summed over features and averaged over rows, plus the epoch's KL weight
    /// times the closed-form KL. σ = 2 is forced, so a variance used in place of a standard deviation shows.
    /// </summary>
    [TestMethod]
    public void GaussianHeadLossIsReparameterisedReconstructionPlusWeightedKl()
    {
        var spec = new DenseNetworkSpec(6, new[] { 5 }, new[] { Activation.Tanh }, 2, Activation.Linear, Activation.Sigmoid, LatentHead.Gaussian);
        using var network = TestNetworks.Create(spec, 3, CPU);
        SetLogVariance(network, MathF.Log(4));
        const int seed = 5;
        using var objective = new AutoencoderObjective(network, new ObjectiveSettings { KlWeight = 0.8, KlWarmupEpochs = 4 }, seed, CPU);
        using var scope = NewDisposeScope();
        var batch = rand(new long[] { 9, 6 }, generator: new Generator(1));

        var trainTerms = new List<Tensor>();
        float train = objective.Loss(batch, 1, training: true, trainTerms).item<float>();
        objective.BeginEvaluation();
        var evalTerms = new List<Tensor>();
        float evaluation = objective.Loss(batch, int.MaxValue, training: false, evalTerms).item<float>();

        using var noGrad = no_grad();
        var (mu, logVariance) = network.EncodeDistribution(batch);
        (float Reconstruction, float Kl) Expected(ulong generatorSeed)
        {
            var epsilon = empty_like(mu).normal_(0, 1, new Generator(generatorSeed));
            var z = mu + logVariance.mul(0.5).exp() * epsilon;
            float reconstruction = (network.Decode(z) - batch).square().sum().item<float>() / 9;
            float kl = (mu.square() + logVariance.exp() - 1 - logVariance).sum().item<float>() * 0.5f / 9;
            return (reconstruction, kl);
        }
        var (trainReconstruction, kl) = Expected(seed);
        var (evalReconstruction, _) = Expected((ulong)seed ^ 0x5DEECE66DUL);
        float atMean = (network.Decode(mu) - batch).square().sum().item<float>() / 9;

        Assert.AreEqual(trainReconstruction, trainTerms[0].item<float>(), 1e-5f * trainReconstruction, "training reconstruction, summed per row");
        Assert.AreEqual(kl, trainTerms[1].item<float>(), 1e-5f * kl, "KL term");
        Assert.AreEqual(trainReconstruction + 0.2f * kl, train, 1e-5f * train, "epoch 1 of a 4-epoch warm-up: weight 0.8 x 1/4");
        Assert.AreEqual(evalReconstruction, evalTerms[0].item<float>(), 1e-5f * evalReconstruction, "evaluation reconstruction, sampled with the evaluation generator");
        Assert.AreEqual(evalReconstruction + 0.8f * kl, evaluation, 1e-5f * evaluation, "evaluation uses the full KL weight");
        Assert.IsTrue(Math.Abs(trainReconstruction - atMean) > 0.05f * atMean, "the sample must differ from the mean for the check to mean anything");
    }

    /// <summary>
    /// Over a whole fit with a KL warm-up and a penalty, every epoch's training loss is reconstruction + β(epoch)·KL +
    /// weight·penalty, and every validation loss uses the full β.
    /// </summary>
    [TestMethod]
    public void TrainingLossFollowsTheKlWarmup()
    {
        var options = AutoencoderPresets.Variational(latentDimension: 2, klWeight: 2, hiddenLayerSizes: new[] { 8 });
        options.KlWarmupEpochs = 3;
        options.Penalties.Add(new ContractivePenalty { Weight = 0.05 });
        options.Epochs = 5;
        options.BatchSize = 32;
        options.ValidationFraction = 0.25;
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Synthetic.LowRank(160, 8, 2)));
        foreach (var e in model.History.Epochs)
        {
            CollectionAssert.AreEquivalent(new[] { "reconstruction", "kl", "contractive" }, e.Terms.Keys.ToArray());
            double beta = 2 * Math.Min(1, (e.Epoch - 1) / 3.0);
            double train = e.Terms["reconstruction"] + beta * e.Terms["kl"] + 0.05 * e.Terms["contractive"];
            Assert.AreEqual(train, e.TrainLoss, 1e-5 * train, $"epoch {e.Epoch}: training loss with β {beta}");
            double validation = e.ValidationTerms["reconstruction"] + 2 * e.ValidationTerms["kl"] + 0.05 * e.ValidationTerms["contractive"];
            Assert.AreEqual(validation, e.ValidationLoss!.Value, 1e-5 * validation, $"epoch {e.Epoch}: validation loss with the full β");
            Assert.IsTrue(e.Terms["kl"] > 1e-3, "the KL term is non-trivial");
        }
        model.Model.Dispose();
    }

    /// <summary>
    /// With β = 0 and a posterior variance frozen at e⁻³⁰ the variational objective is a plain autoencoder's (up to a
    /// constant factor, which Adam ignores). Both start from the same weights (the plain code layer is the posterior-mean
    /// layer) and see the same batches, so they reach the same test reconstruction error within a few percent. The same
    /// start with σ frozen at 1, or with β = 1 and a learned variance, does far worse: the comparison tells a sampled
    /// code (or a KL term) from none.
    /// </summary>
    [TestMethod]
    public void BetaZeroWithVanishingVarianceReconstructsLikeAPlainAutoencoder()
    {
        var rows = Synthetic.LowRank(320, 16, 3, seed: 9);
        var train = rows[..256];
        var test = rows[256..];
        double plain = TestError(false, 0, null, train, test);
        double vanishing = TestError(true, 0, -30, train, test);
        double unitVariance = TestError(true, 0, 0, train, test);
        double elbo = TestError(true, 1, null, train, test);
        Assert.IsTrue(vanishing < 1.25 * plain && plain < 1.25 * vanishing, $"β 0, σ² e^-30: {vanishing}; plain autoencoder: {plain}");
        Assert.IsTrue(unitVariance > 3 * plain, $"controls: β 0 with σ 1 must do worse ({unitVariance} vs {plain})");
        Assert.IsTrue(elbo > 3 * plain, $"controls: β 1 must do worse ({elbo} vs {plain})");
    }

    private const int Seed = 4;

    /// <summary>
    /// Trains from the initial weights of one seeded variational network: as it is (with the log-variance layer frozen at
    /// a constant when asked), or as a plain autoencoder whose code layer starts as the posterior-mean layer.
    /// </summary>
    private static double TestError(bool variational, double beta, float? frozenLogVariance, float[][] train, float[][] test)
    {
        var spec = new DenseNetworkSpec(16, new[] { 24 }, new[] { Activation.LeakyReLU }, 4, Activation.Linear, Activation.Sigmoid, LatentHead.Gaussian);
        using var vae = TestNetworks.Create(spec, Seed, CPU);
        using var plain = variational ? null : new DenseAutoencoderNetwork(spec with { Head = LatentHead.Deterministic });
        if (plain is not null)
        {
            var source = vae.state_dict();
            using var noGrad = no_grad();
            foreach (var (name, value) in plain.state_dict())
                value.copy_(source[name.Replace("encoder.linear1.", "mean.", StringComparison.Ordinal)]);
        }
        var network = plain ?? vae;
        if (frozenLogVariance is { } lv) SetLogVariance(network, lv, freeze: true);
        using var data = new InMemoryTrainingData(tensor(Synthetic.Flatten(train), new long[] { train.Length, 16 }));
        var settings = new ObjectiveSettings { Loss = ReconstructionLoss.MeanSquaredError, KlWeight = beta };
        using (var objective = new AutoencoderObjective(network, settings, Seed, CPU))
            AutoencoderTrainer.Train(objective, data, null, new TrainingSettings { Epochs = 20, BatchSize = 32, Seed = Seed, LearningRate = 1e-2, Schedule = LearningRateSchedule.Cosine }, CPU);
        if (frozenLogVariance is { } frozen)
            foreach (var (name, parameter) in network.named_parameters().Where(p => p.name.StartsWith("log_variance.", StringComparison.Ordinal)))
                Assert.IsTrue(parameter.eq(name.EndsWith("bias", StringComparison.Ordinal) ? frozen : 0).all().item<bool>(), $"'{name}' stayed frozen");
        network.eval();
        using var scope = NewDisposeScope();
        using var inference = no_grad();
        var x = tensor(Synthetic.Flatten(test), new long[] { test.Length, 16 });
        return (network.forward(x) - x).square().mean().item<float>();
    }

    /// <summary>Sets the log-variance layer to weight 0 and a constant bias (every row's posterior gets that variance); optionally freezes it.</summary>
    private static void SetLogVariance(DenseAutoencoderNetwork network, float logVariance, bool freeze = false)
    {
        using var noGrad = no_grad();
        int found = 0;
        foreach (var (name, parameter) in network.named_parameters().Where(p => p.name.StartsWith("log_variance.", StringComparison.Ordinal)))
        {
            parameter.fill_(name.EndsWith("bias", StringComparison.Ordinal) ? logVariance : 0);
            if (freeze) parameter.requires_grad = false;
            found++;
        }
        Assert.AreEqual(2, found, "the log-variance layer's weight and bias");
    }

    private static AutoencoderTransformer FitVae(float[][] rows, AutoencoderOutputs outputs = AutoencoderOutputs.AllVariational, int seed = 3)
    {
        var options = AutoencoderPresets.Variational(latentDimension: 2, hiddenLayerSizes: new[] { 16 });
        options.Epochs = 8;
        options.BatchSize = 32;
        options.Seed = seed;
        options.Outputs = outputs;
        return Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows));
    }

    /// <summary>
    /// Rows drawn from the prior and decoded are finite and inside the sigmoid's range, vary from row to row, and
    /// depend on the seed alone; they are the decoded standard-normal codes of <c>RowNoise</c>.
    /// </summary>
    [TestMethod]
    public void PriorSamplesAreFiniteInRangeAndSeeded()
    {
        var model = FitVae(Synthetic.LowRank(200, 10, 2, seed: 2)).Model;
        var samples = model.Sample(300, seed: 4);
        Assert.AreEqual(300, samples.Length);
        Assert.IsTrue(samples.All(s => s.Length == 10 && s.All(v => float.IsFinite(v) && v >= 0 && v <= 1)), "finite, in [0, 1]");
        double spread = Enumerable.Range(0, 10).Average(j =>
        {
            double mean = samples.Average(s => (double)s[j]);
            return Math.Sqrt(samples.Average(s => (s[j] - mean) * (s[j] - mean)));
        });
        Assert.IsTrue(spread > 1e-3, $"samples differ from one another (mean spread {spread})");
        var again = model.Sample(300, seed: 4);
        var other = model.Sample(300, seed: 5);
        for (int i = 0; i < 300; i++) CollectionAssert.AreEqual(samples[i], again[i], $"same seed, sample {i}");
        Assert.IsFalse(samples.Zip(other).All(p => p.First.SequenceEqual(p.Second)), "another seed, other samples");

        var codes = Enumerable.Range(0, 300).Select(r => Enumerable.Range(0, 2).Select(j => RowNoise.Normal(4, r, j)).ToArray()).ToArray();
        var decoded = model.Decode(codes);
        for (int i = 0; i < 300; i++) CollectionAssert.AreEqual(decoded[i], samples[i], new EstimatorConformance.ToleranceComparer(1e-6f), $"sample {i} decodes a prior code");
        var flat = codes.SelectMany(c => c).ToArray();
        double codeMean = flat.Average(v => (double)v), codeStd = Math.Sqrt(flat.Average(v => (v - codeMean) * (v - codeMean)));
        Assert.AreEqual(0, codeMean, 0.15, "prior codes have mean 0");
        Assert.AreEqual(1, codeStd, 0.1, "prior codes have standard deviation 1");
        Assert.IsEmpty(model.Sample(0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Sample(-1));
        model.Dispose();
    }

    /// <summary>Interpolation's ends are the reconstructions of its two rows (decoded posterior means), its middle decodes the mean code.</summary>
    [TestMethod]
    public void InterpolationEndsAreTheReconstructionsOfBothRows()
    {
        var rows = Synthetic.LowRank(200, 10, 2, seed: 2);
        var model = FitVae(rows).Model;
        var (a, b) = (rows[3], rows[150]);
        var path = model.Interpolate(a, b, 5);
        Assert.AreEqual(5, path.Length);
        var tolerance = new EstimatorConformance.ToleranceComparer(1e-6f);
        CollectionAssert.AreEqual(model.Reconstruct(a), path[0], tolerance, "first step");
        CollectionAssert.AreEqual(model.Reconstruct(b), path[^1], tolerance, "last step");
        var (ca, cb) = (model.Encode(a), model.Encode(b));
        CollectionAssert.AreEqual(model.Decode(ca.Zip(cb, (x, y) => 0.5f * x + 0.5f * y).ToArray()), path[2], tolerance, "middle step");
        Assert.IsFalse(path[0].SequenceEqual(path[^1]), "two different rows");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Interpolate(a, b, 1));
        model.Dispose();
    }

    /// <summary>EncodeDistribution gives the latent-code column (the posterior mean) and the log-variance column, and Encode is the mean.</summary>
    [TestMethod]
    public void EncodeDistributionMatchesTheColumns()
    {
        var rows = Synthetic.LowRank(150, 10, 2, seed: 2);
        var model = FitVae(rows);
        var columns = EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(rows)), new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.LatentLogVariance });
        var (mean, logVariance) = model.Model.EncodeDistribution(rows);
        var encoded = model.Model.Encode(rows);
        var tolerance = new EstimatorConformance.ToleranceComparer(1e-6f);
        for (int i = 0; i < rows.Length; i++)
        {
            CollectionAssert.AreEqual(mean[i], columns[AutoencoderColumnNames.LatentCode][i], tolerance, $"row {i}: mean");
            CollectionAssert.AreEqual(logVariance[i], columns[AutoencoderColumnNames.LatentLogVariance][i], tolerance, $"row {i}: log-variance");
            CollectionAssert.AreEqual(mean[i], encoded[i], tolerance, $"row {i}: Encode is the mean");
        }
        Assert.IsFalse(mean.Zip(logVariance).All(p => p.First.SequenceEqual(p.Second)), "mean and log-variance are different outputs");
        Assert.ThrowsExactly<InvalidOperationException>(() => FitPlain(rows).Model.EncodeDistribution(rows));
        model.Model.Dispose();
    }

    private static AutoencoderTransformer FitPlain(float[][] rows) =>
        Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = new[] { 4 }, Epochs = 1 }).Fit(Ml.ToDataView(rows));

    /// <summary>
    /// The sampled-code column is μ + σ·ε with ε keyed on the row's position: reading it twice, or with any batch
    /// size, gives the same values; over many copies of one row its mean is μ and its spread σ per unit (σ forced to
    /// ½ and 2, so σ² or a shared ε would show).
    /// </summary>
    [TestMethod]
    public void SampledCodesAreDeterministicAndDistributedAsThePosterior()
    {
        var rows = Synthetic.LowRank(150, 10, 2, seed: 2);
        var model = FitVae(rows);
        float[] logVariances = { MathF.Log(0.25f), MathF.Log(4) };
        using (no_grad())
            foreach (var (name, parameter) in model.Model.Network.named_parameters().Where(p => p.name.StartsWith("log_variance.", StringComparison.Ordinal)))
            {
                if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.copy_(tensor(logVariances));
                else parameter.zero_();
            }

        const int copies = 4000;
        var same = Enumerable.Repeat(rows[7], copies).ToArray();
        var names = new[] { AutoencoderColumnNames.SampledLatentCode, AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.LatentLogVariance };
        var first = EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(same)), names);
        var second = EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(same)), names);
        EstimatorConformance.AssertSameOutputs(first, second, "two reads");
        foreach (int batch in new[] { 1, 7, 333 })
        {
            model.TransformBatchSize = batch;
            EstimatorConformance.AssertSameOutputs(first, EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(same)), names), $"batch size {batch}", 1e-6f);
        }
        model.TransformBatchSize = 1024;

        var mu = model.Model.Encode(rows[7]);
        var sampled = first[AutoencoderColumnNames.SampledLatentCode];
        CollectionAssert.AreEqual(logVariances, first[AutoencoderColumnNames.LatentLogVariance][0], new EstimatorConformance.ToleranceComparer(1e-6f));
        for (int j = 0; j < 2; j++)
        {
            double sigma = Math.Exp(0.5 * logVariances[j]);
            var unit = sampled.Select(z => (double)z[j]).ToArray();
            double mean = unit.Average(), std = Math.Sqrt(unit.Average(v => (v - mean) * (v - mean)));
            Assert.AreEqual(mu[j], mean, 4 * sigma / Math.Sqrt(copies), $"unit {j}: mean of the samples is μ");
            Assert.AreEqual(sigma, std, 0.05 * sigma, $"unit {j}: spread of the samples is σ = exp(½ log σ²)");
            double withinOneSigma = unit.Count(v => Math.Abs(v - mu[j]) < sigma) / (double)copies;
            Assert.AreEqual(0.6827, withinOneSigma, 0.03, $"unit {j}: Gaussian samples");
        }
        double correlation = Correlation(sampled.Select(z => (double)z[0]).ToArray(), sampled.Select(z => (double)z[1]).ToArray());
        Assert.AreEqual(0, correlation, 0.06, "independent noise per unit");
        model.Model.Dispose();
    }

    /// <summary>
    /// The sampled code's standard-normal noise ε = (z − μ)/σ is keyed on the model's seed and the row's position, not on
    /// the row's values: other rows at the same positions get the same ε, a model trained with another seed other ε.
    /// </summary>
    [TestMethod]
    public void SampledCodeNoiseIsKeyedOnTheSeedAndThePosition()
    {
        var rows = Synthetic.LowRank(150, 10, 2, seed: 2);
        var others = Synthetic.LowRank(150, 10, 2, seed: 12);
        var model = FitVae(rows);
        var reseeded = FitVae(rows, seed: 4);
        var a = Noise(model, rows);
        var b = Noise(model, others);
        var c = Noise(reseeded, rows);
        for (int i = 0; i < a.Length; i++) Assert.AreEqual(a[i], b[i], 1e-3, $"value {i}: same position, same ε whatever the row");
        Assert.AreEqual(0, Correlation(a, c), 0.25, "another seed, independent ε");
        foreach (var e in new[] { a, c })
        {
            double mean = e.Average(), std = Math.Sqrt(e.Average(v => (v - mean) * (v - mean)));
            Assert.AreEqual(0, mean, 0.25, "ε has mean 0");
            Assert.AreEqual(1, std, 0.15, "ε has standard deviation 1");
        }
        model.Model.Dispose();
        reseeded.Model.Dispose();
    }

    /// <summary>(z − μ)/σ of every row and unit, from the sampled-code, latent-code and log-variance columns.</summary>
    private static double[] Noise(AutoencoderTransformer model, float[][] rows)
    {
        var names = new[] { AutoencoderColumnNames.SampledLatentCode, AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.LatentLogVariance };
        var columns = EstimatorConformance.ReadOutputs(model.Transform(Ml.ToDataView(rows)), names);
        return Enumerable.Range(0, rows.Length).SelectMany(i => Enumerable.Range(0, 2).Select(j =>
            (columns[names[0]][i][j] - (double)columns[names[1]][i][j]) / Math.Exp(0.5 * columns[names[2]][i][j]))).ToArray();
    }

    private static double Correlation(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average();
        double cov = a.Zip(b, (x, y) => (x - ma) * (y - mb)).Sum();
        return cov / Math.Sqrt(a.Sum(x => (x - ma) * (x - ma)) * b.Sum(y => (y - mb) * (y - mb)));
    }

    /// <summary>
    /// Repeated fits (with validation, early stopping, a contractive penalty and input corruption) of a variational
    /// autoencoder, its Transform with every column, prior samples, interpolation and a save/load leave no native tensor alive.
    /// </summary>
    [TestMethod]
    public void VariationalFitAndTransformLeaveNoLiveTensors()
    {
        var rows = Synthetic.LowRank(120, 8, 2, seed: 3);
        var data = Ml.ToDataView(rows);
        var options = AutoencoderPresets.Variational(latentDimension: 2, hiddenLayerSizes: new[] { 6, 4 });
        options.Outputs = AutoencoderOutputs.AllVariational;
        options.Penalties.Add(new ContractivePenalty { Weight = 0.01 });
        options.Corruption = new GaussianNoise { Factor = 0.2, ClipMin = 0, ClipMax = 1 };
        options.Epochs = 3;
        options.BatchSize = 32;
        options.ValidationFraction = 0.2;
        options.EarlyStoppingPatience = 1;
        var names = new[]
        {
            AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError,
            AutoencoderColumnNames.LatentLogVariance, AutoencoderColumnNames.SampledLatentCode,
        };
        LiveTensors.AssertNoGrowth(() =>
        {
            var model = Ml.Transforms.Autoencoder(options).Fit(data);
            model.TransformBatchSize = 50;
            EstimatorConformance.ReadOutputs(model.Transform(data), names);
            model.Model.Sample(10);
            model.Model.Interpolate(rows[0], rows[1], 4);
            model.Model.EncodeDistribution(rows);
            using (var stream = new MemoryStream())
            {
                model.Save(stream);
                stream.Position = 0;
                AutoencoderTransformer.Load(stream).Model.Dispose();
            }
            model.Model.Dispose();
        }, 3, "variational fit, transform, sample, save and load");
    }
}
