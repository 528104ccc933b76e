using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>The training loop: it learns, it is reproducible, it stops and restores as documented.</summary>
[TestClass]
public sealed class TrainingTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static AutoencoderOptions Small(int epochs = 5) => new()
    {
        LatentDimension = 3,
        HiddenLayerSizes = new[] { 16 },
        Epochs = epochs,
        BatchSize = 32,
        LearningRate = 5e-3,
        Seed = 3,
    };

    /// <summary>
    /// The automatic epoch count: unchanged for Fashion-MNIST sizes with the default network (60,000 x 784: 20 epochs;
    /// 2,000 x 784: 188), but 10 rows x 200,000 features no longer get 1,000 epochs of a 100-million-weight network: the
    /// work budget caps them, and the reason says so.
    /// </summary>
    [TestMethod]
    public void AutomaticEpochsAreBoundedByTheWorkBudget()
    {
        var defaults = new AutoencoderOptions();
        long Weights(int features) => AutoencoderOptions.ParameterCount(TestNetworks.DenseSpec(defaults, features, Activation.Sigmoid));
        foreach (var (rows, expected) in new[] { (60_000L, 20), (2_000L, 188) })
        {
            var (epochs, reason) = defaults.ChooseEpochs(rows, Weights(784));
            Assert.AreEqual(expected, epochs, $"{rows} x 784");
            Assert.AreEqual(defaults.ResolveEpochs(rows), epochs, "the budget leaves this size alone");
            StringAssert.Contains(reason, $"chosen by the library: {expected} (");
        }

        long wide = Weights(200_000);
        Assert.AreEqual(AutoencoderOptions.Defaults.MaxEpochs, defaults.ResolveEpochs(10), "without the budget: 1,000 epochs");
        var (capped, why) = defaults.ChooseEpochs(10, wide);
        Assert.AreEqual((int)Math.Floor(AutoencoderOptions.Defaults.MaxStepWeights / wide), capped);
        Assert.IsTrue(capped is >= AutoencoderOptions.Defaults.MinEpochs and < 100, $"{capped} epochs");
        Assert.IsTrue(capped * (double)wide <= AutoencoderOptions.Defaults.MaxStepWeights);
        Assert.AreEqual(capped, defaults.ResolveEpochs(10, wide));
        StringAssert.Contains(why, $"{capped}, capped by the work budget from 1000");
        StringAssert.Contains(why, $"{wide} weights");

        // Never below MinEpochs, however large the network.
        Assert.AreEqual(AutoencoderOptions.Defaults.MinEpochs, defaults.ResolveEpochs(10, long.MaxValue / 4));
        // Epochs given: no reason, no cap.
        Assert.AreEqual((7, (string?)null), new AutoencoderOptions { Epochs = 7 }.ChooseEpochs(10, wide));
    }

    /// <summary>A fit with automatic epochs records the choice in its history; one with Epochs set records none.</summary>
    [TestMethod]
    public void HistoryRecordsTheAutomaticEpochChoice()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(20, 6, 2));
        var automatic = Small();
        automatic.Epochs = null;
        automatic.HiddenLayerSizes = [];
        automatic.BatchSize = 64; // one step per epoch: 1,000 tiny epochs
        var model = Ml.Transforms.Autoencoder(automatic).Fit(data);
        Assert.AreEqual(1000, model.History.Epochs.Count);
        StringAssert.Contains(model.History.EpochsChoice, "Epochs chosen by the library: 1000");
        Assert.IsNull(Ml.Transforms.Autoencoder(Small(epochs: 1)).Fit(data).History.EpochsChoice);
    }

    /// <summary>The training loss at the last epoch is well below the first epoch's.</summary>
    [TestMethod]
    public void LossDecreasesOnSyntheticData()
    {
        var model = Ml.Transforms.Autoencoder(Small(epochs: 15)).Fit(Ml.ToDataView(Synthetic.LowRank(400, 20, 3)));
        var epochs = model.History.Epochs;
        Assert.AreEqual(15, epochs.Count);
        Assert.IsTrue(epochs[^1].TrainLoss < 0.5 * epochs[0].TrainLoss, $"loss went from {epochs[0].TrainLoss} to {epochs[^1].TrainLoss}");
    }

    /// <summary>One optimizer step on one batch changes every trainable parameter tensor, for every latent head and weight tying.</summary>
    [TestMethod]
    [DataRow(LatentHead.Deterministic, false, 12, DisplayName = "plain: 6 linear layers, weight and bias each")]
    [DataRow(LatentHead.Deterministic, true, 9, DisplayName = "tied: 3 encoder layers + 3 decoder biases")]
    [DataRow(LatentHead.Gaussian, false, 14, DisplayName = "variational: 2 hidden + mean + log-variance + 3 decoder layers")]
    public void OneOptimizerStepChangesEveryTrainableWeight(LatentHead head, bool tied, int parameterTensors)
    {
        var spec = new DenseNetworkSpec(10, new[] { 8, 6 }, new[] { Activation.LeakyReLU, Activation.Tanh }, 3, Activation.Linear, Activation.Sigmoid, head, tied);
        using var network = TestNetworks.Create(spec, 11, CPU);
        var before = network.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        Assert.AreEqual(parameterTensors, before.Count, string.Join(", ", before.Keys));
        using var data = new InMemoryTrainingData(rand(16, 10));
        using var objective = new AutoencoderObjective(network, new ObjectiveSettings { Penalties = new AutoencoderPenalty[] { new ContractivePenalty() } }, 1, CPU);
        AutoencoderTrainer.Train(objective, data, null, new TrainingSettings { Epochs = 1, BatchSize = 16, Seed = 1 }, CPU);
        foreach (var (name, parameter) in network.named_parameters())
            Assert.IsTrue((before[name] - parameter.detach()).abs().max().item<float>() > 0, $"parameter '{name}' did not change");
        foreach (var t in before.Values) t.Dispose();
    }

    /// <summary>Same seed and data give bit-identical weights; another seed gives other weights.</summary>
    [TestMethod]
    public void SameSeedGivesIdenticalWeights()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(200, 12, 2));
        var a = Ml.Transforms.Autoencoder(Small()).Fit(data);
        var b = Ml.Transforms.Autoencoder(Small()).Fit(data);
        var other = Small();
        other.Seed = 99;
        var c = Ml.Transforms.Autoencoder(other).Fit(data);
        var wa = Weights(a); var wb = Weights(b); var wc = Weights(c);
        CollectionAssert.AreEqual(wa, wb, "same seed, same data");
        CollectionAssert.AreNotEqual(wa, wc, "another seed");
    }

    private static float[] Weights(AutoencoderTransformer t) =>
        t.Model.Network.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    /// <summary>
    /// Validation rows far from the training rows get worse as training proceeds, so the best epoch is an
    /// early one: training stops after the patience and the model gives the best epoch's validation loss.
    /// </summary>
    [TestMethod]
    public void EarlyStoppingRestoresTheBestEpoch()
    {
        var random = new Random(2);
        var train = Enumerable.Range(0, 256).Select(_ => Enumerable.Range(0, 8).Select(_ => 0.9f + 0.01f * (float)random.NextDouble()).ToArray()).ToArray();
        var validation = Enumerable.Range(0, 64).Select(_ => Enumerable.Repeat(0.1f, 8).ToArray()).ToArray();
        var options = Small(epochs: 30);
        options.OutputActivation = Activation.Linear;
        options.LearningRate = 1e-3;
        options.ValidationData = Ml.ToDataView(validation);
        options.EarlyStoppingPatience = 3;
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(train));

        var h = model.History;
        Assert.IsTrue(h.StoppedEarly, "validation loss rises, so training must stop early");
        Assert.AreEqual(h.BestEpoch + 3, h.Epochs.Count, "stops after 'patience' epochs without improvement");
        Assert.IsTrue(h.RestoredBestWeights);
        double best = h.Epochs[h.BestEpoch - 1].ValidationLoss!.Value;
        double last = h.Epochs[^1].ValidationLoss!.Value;
        Assert.IsTrue(last > best * 1.01, $"the test needs a real difference: best {best}, last {last}");
        double now = Ml.ToDataView(validation) is var v ? model.Transform(v).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x) : 0;
        Assert.AreEqual(best, now, best * 1e-4, "the restored weights must reproduce the best epoch's validation loss");
    }

    /// <summary>A learning rate far too large makes the loss infinite; training stops with a clear error.</summary>
    [TestMethod]
    public void NaNLossStopsTrainingWithAClearError()
    {
        var rows = Synthetic.LowRank(128, 10, 2, squash: false).Select(r => r.Select(x => x * 1e4f).ToArray()).ToArray();
        var options = Small(epochs: 50);
        options.Optimizer = OptimizerKind.Sgd;
        options.LearningRate = 1e3;
        options.Momentum = 0.9;
        options.HiddenActivation = Activation.Linear;
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows)));
        Assert.IsFalse(double.IsFinite(e.Loss));
        StringAssert.Contains(e.Message, "diverged");
        StringAssert.Contains(e.Message, "learning rate");
    }

    /// <summary>A linear autoencoder (no activations) on low-rank data reaches PCA's reconstruction error within 2%.</summary>
    [TestMethod]
    public void LinearAutoencoderMatchesPca()
    {
        var rows = Synthetic.LowRank(512, 16, 5, seed: 8, noise: 0.3, squash: false);
        var options = new AutoencoderOptions
        {
            LatentDimension = 3,
            HiddenLayerSizes = Array.Empty<int>(),
            CodeActivation = Activation.Linear,
            OutputActivation = Activation.Linear,
            Epochs = 200,
            BatchSize = 64,
            LearningRate = 1e-2,
            LearningRateSchedule = LearningRateSchedule.Cosine,
            Seed = 1,
        };
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows));
        double pca = PcaBaseline.Fit(Synthetic.Flatten(rows), 16, 3).ReconstructionMse(Synthetic.Flatten(rows));
        double ae = model.Transform(Ml.ToDataView(rows)).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
        Assert.IsTrue(ae <= pca * 1.02, $"linear autoencoder MSE {ae} vs PCA-3 {pca}");
        Assert.IsTrue(ae >= pca * 0.98, $"a rank-3 linear map cannot beat PCA-3 by much: {ae} vs {pca}");
    }

    /// <summary>Cancelling the token stops training with OperationCanceledException.</summary>
    [TestMethod]
    public void CancellationStopsTraining()
    {
        using var source = new CancellationTokenSource();
        var options = Small(epochs: 1000);
        options.CancellationToken = source.Token;
        options.Progress = new CallbackProgress(r => { if (r.Epoch == 2) source.Cancel(); });
        Assert.ThrowsExactly<OperationCanceledException>(() => Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Synthetic.LowRank(64, 6, 2))));
    }

    /// <summary>Streaming (no cache) and caching see the same rows and the same validation split.</summary>
    [TestMethod]
    public void StreamingTrainsLikeCaching()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(300, 10, 2));
        var streamed = Small(epochs: 4);
        streamed.Caching = DataCaching.Stream;
        streamed.ShuffleBufferRows = 64;
        streamed.ValidationFraction = 0.2;
        var cached = Small(epochs: 4);
        cached.ValidationFraction = 0.2;
        var a = Ml.Transforms.Autoencoder(streamed).Fit(data);
        var b = Ml.Transforms.Autoencoder(cached).Fit(data);
        Assert.AreEqual(a.History.Epochs[0].Rows, b.History.Epochs[0].Rows, "same training rows");
        Assert.IsTrue(a.History.Epochs[^1].TrainLoss < a.History.Epochs[0].TrainLoss, "streaming learns");
        Assert.AreEqual(b.History.Epochs[^1].ValidationLoss!.Value, a.History.Epochs[^1].ValidationLoss!.Value, 0.3 * b.History.Epochs[^1].ValidationLoss!.Value);
    }

    /// <summary>
    /// Known row count (rows written straight into a native buffer) and unknown row count (managed blocks,
    /// then one copy) cache the same rows with the same validation split: identical weights.
    /// </summary>
    [TestMethod]
    public void CachingWithAndWithoutAKnownRowCountGivesTheSameModel()
    {
        var rows = Synthetic.LowRank(300, 10, 2);
        var known = Ml.ToDataView(rows);
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 10);
        var unknown = Ml.Data.LoadFromEnumerable(rows.Select(r => new VectorRow { Features = r }), schema);
        Assert.IsNotNull(known.GetRowCount());
        Assert.IsNull(unknown.GetRowCount(), "a lazy enumerable has no row count");
        var options = Small(epochs: 3);
        options.ValidationFraction = 0.25;
        var a = Ml.Transforms.Autoencoder(options).Fit(known);
        var b = Ml.Transforms.Autoencoder(options).Fit(unknown);
        CollectionAssert.AreEqual(Weights(a), Weights(b));
        Assert.AreEqual(a.History.Epochs[0].Rows, b.History.Epochs[0].Rows);
        Assert.AreEqual(a.History.Epochs[^1].ValidationLoss, b.History.Epochs[^1].ValidationLoss);
    }

    /// <summary>Training leaves no native tensor behind: after the model is disposed, live tensors are back where they were.</summary>
    [TestMethod]
    public void TrainingLeavesNoLiveTensors()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(200, 10, 2));
        var options = Small(epochs: 3);
        options.ValidationFraction = 0.2;
        options.EarlyStoppingPatience = 1; // exercises the best-weight snapshots too
        LiveTensors.AssertNoGrowth(() => Ml.Transforms.Autoencoder(options).Fit(data).Model.Dispose(), 3, "fit");
    }

    /// <summary>A Fit that fails on bad data (late in the pass, or in the validation data) leaves no native tensor behind.</summary>
    [TestMethod]
    public void AFailedFitLeavesNoLiveTensors()
    {
        var rows = Synthetic.LowRank(300, 10, 2);
        rows[290][1] = float.NaN;
        var bad = Ml.ToDataView(rows);
        var options = Small(epochs: 1);
        options.ValidationFraction = 0.2;
        var withBadValidation = Small(epochs: 1);
        withBadValidation.ValidationData = Ml.ToDataView(Synthetic.LowRank(10, 11, 2));
        var good = Ml.ToDataView(Synthetic.LowRank(300, 10, 2));
        LiveTensors.AssertNoGrowth(() =>
        {
            Assert.ThrowsExactly<AutoencoderDataException>(() => Ml.Transforms.Autoencoder(options).Fit(bad));
            var e = Assert.ThrowsExactly<AutoencoderSchemaException>(() => Ml.Transforms.Autoencoder(withBadValidation).Fit(good));
            StringAssert.Contains(e.Message, "ValidationData");
        }, 3, "failed fit");
    }

    /// <summary>Options out of range are rejected when the estimator is created, naming the option.</summary>
    [TestMethod]
    public void OptionsOutOfRangeAreRejected()
    {
        void Rejects(Action<AutoencoderOptions> change, string name)
        {
            var o = Small();
            change(o);
            var e = Assert.Throws<ArgumentException>(() => Ml.Transforms.Autoencoder(o));
            StringAssert.Contains(e.Message + e.ParamName, name);
        }
        Rejects(o => o.LatentDimension = 0, nameof(AutoencoderOptions.LatentDimension));
        Rejects(o => o.Epochs = -1, nameof(AutoencoderOptions.Epochs));
        Rejects(o => o.LearningRate = double.NaN, nameof(AutoencoderOptions.LearningRate));
        Rejects(o => o.ValidationFraction = 1, nameof(AutoencoderOptions.ValidationFraction));
        Rejects(o => o.HiddenLayerSizes = new[] { 4, 0 }, nameof(AutoencoderOptions.HiddenLayerSizes));
        Rejects(o => o.HiddenActivations = new[] { Activation.ReLU, Activation.ReLU }, nameof(AutoencoderOptions.HiddenActivations));
        Rejects(o => { o.Loss = ReconstructionLoss.BinaryCrossEntropy; o.OutputActivation = Activation.Linear; }, nameof(AutoencoderOptions.OutputActivation));
        Rejects(o => o.BatchSize = 0, nameof(AutoencoderOptions.BatchSize));
    }

    /// <summary>Binary cross-entropy on data outside [0, 1] is refused with the column and the range found.</summary>
    [TestMethod]
    public void BinaryCrossEntropyNeedsUnitRange()
    {
        var options = Small();
        options.Loss = ReconstructionLoss.BinaryCrossEntropy;
        var e = Assert.ThrowsExactly<AutoencoderDataException>(() => Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Synthetic.LowRank(50, 6, 2, squash: false))));
        StringAssert.Contains(e.Message, "[0, 1]");
        Assert.AreEqual(AutoencoderColumnNames.Features, e.ColumnName);
    }

    /// <summary>Wrong column types are reported by GetOutputSchema before any training, naming the column.</summary>
    [TestMethod]
    public void WrongColumnTypesAreReportedBeforeTraining()
    {
        var scalar = Ml.Data.LoadFromEnumerable(new[] { new { Features = 1f } });
        var e1 = Assert.ThrowsExactly<AutoencoderSchemaException>(() => Ml.Transforms.Autoencoder().Fit(scalar));
        StringAssert.Contains(e1.Message, "'Features'");
        var variable = Ml.Data.LoadFromEnumerable(new[] { new VariableRow { Features = new float[] { 1, 2 } } });
        var e2 = Assert.ThrowsExactly<AutoencoderSchemaException>(() => Ml.Transforms.Autoencoder().Fit(variable));
        StringAssert.Contains(e2.Message, "variable-size");
        var doubles = Ml.Data.LoadFromEnumerable(new[] { new DoubleRow { Features = new double[] { 1, 2 } } });
        Assert.ThrowsExactly<AutoencoderSchemaException>(() => Ml.Transforms.Autoencoder().Fit(doubles));
    }

    /// <summary>A row with an infinity during Fit is named in the error.</summary>
    [TestMethod]
    public void InfinityInTrainingDataNamesTheRow()
    {
        var rows = Synthetic.LowRank(20, 4, 2);
        rows[13][2] = float.PositiveInfinity;
        var e = Assert.ThrowsExactly<AutoencoderDataException>(() => Ml.Transforms.Autoencoder(Small()).Fit(Ml.ToDataView(rows)));
        Assert.AreEqual(13L, e.Row);
        StringAssert.Contains(e.Message, "index 2");
    }

    /// <summary>Left to the library, epochs give small data sets enough optimizer steps and large ones at least 20 epochs.</summary>
    [TestMethod]
    public void AutomaticEpochsScaleWithTheDataSize()
    {
        var o = new AutoencoderOptions();
        Assert.AreEqual(20, o.ResolveEpochs(60_000), "469 batches of 128 per epoch already give 9,380 steps in 20 epochs");
        Assert.AreEqual(188, o.ResolveEpochs(2_000), "16 batches per epoch need 188 epochs for 3,000 steps");
        Assert.AreEqual(1000, o.ResolveEpochs(1), "capped");
        o.Epochs = 7;
        Assert.AreEqual(7, o.ResolveEpochs(2_000), "an explicit value is kept");
        // The step rule alone: 2,560 rows are below SmallDataRows, whose validation run would choose fewer epochs
        // (SmallDataRuleTests covers that rule).
        var model = Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = new[] { 4 }, BatchSize = 256, SmallDataRows = 0 })
            .Fit(Ml.ToDataView(Synthetic.LowRank(2560, 4, 2)));
        Assert.AreEqual(300, model.History.Epochs.Count, "10 batches per epoch, 3,000 steps");
        Assert.AreEqual(300, model.Options.Epochs, "the fitted options record the epochs used");
    }

    /// <summary>A row with variable-length vectors.</summary>
    public sealed class VariableRow
    {
        /// <summary>Unknown-size vector.</summary>
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <summary>A row with a vector of doubles.</summary>
    public sealed class DoubleRow
    {
        /// <summary>Known-size vector of the wrong item type.</summary>
        [VectorType(2)]
        public double[] Features { get; set; } = Array.Empty<double>();
    }

    private sealed class CallbackProgress(Action<EpochRecord> action) : IProgress<EpochRecord>
    {
        public void Report(EpochRecord value) => action(value);
    }
}
