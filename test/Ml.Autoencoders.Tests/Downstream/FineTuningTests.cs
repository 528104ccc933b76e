using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The fine-tuning classifier: the head has one output per class, a frozen encoder does not change (nor ever the
/// pretrained model), pretraining beats training from scratch with few labels, Evaluate accepts the output, early
/// stopping restores the best epoch, save/load by both routes.
/// </summary>
[TestClass]
public sealed class FineTuningTests
{
    /// <summary>A row of the synthetic problem.</summary>
    public sealed class Row
    {
        /// <summary>40 noisy features of a 2-d latent point.</summary>
        [VectorType(40)]
        public float[] Features { get; set; } = [];

        /// <summary>The quadrant of the latent point (0..3).</summary>
        public uint Label { get; set; }
    }

    /// <summary>
    /// Rows are a fixed nonlinear map of a 2-d Gaussian point into 40 features plus noise; the class is the point's
    /// quadrant: learnable without labels (the autoencoder recovers the 2-d structure), hard from few labels alone.
    /// </summary>
    private static Row[] Problem(int count, int seed)
    {
        var random = new Random(seed);
        var map = new Random(77);
        var a = Enumerable.Range(0, 40).Select(_ => (Synthetic.Gaussian(map), Synthetic.Gaussian(map), map.NextDouble() * 2 * Math.PI)).ToArray();
        return Enumerable.Range(0, count).Select(_ =>
        {
            double z1 = Synthetic.Gaussian(random), z2 = Synthetic.Gaussian(random);
            var f = a.Select(t => (float)(Math.Tanh(t.Item1 * z1 + t.Item2 * z2 + 0.3 * Math.Sin(t.Item3 + z1)) + 0.6 * Synthetic.Gaussian(random))).ToArray();
            return new Row { Features = f, Label = (uint)((z1 > 0 ? 1 : 0) + (z2 > 0 ? 2 : 0)) };
        }).ToArray();
    }

    private static AutoencoderTransformer Pretrain(MLContext ml, int seed = 1) => ml.Transforms.Autoencoder(new AutoencoderOptions
    {
        HiddenLayerSizes = [32], LatentDimension = 2, Epochs = 40, BatchSize = 64, Seed = seed,
    }).Fit(ml.Data.LoadFromEnumerable(Problem(3000, seed: 10)));

    private static IEstimator<ITransformer> Classifier(MLContext ml, AutoencoderClassifierOptions options) =>
        ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.AutoencoderClassifier(options));

    private static double Accuracy(MLContext ml, ITransformer model, IDataView test) =>
        ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;

    /// <summary>
    /// With 16 labelled rows, fine-tuning the pretrained encoder beats the same network trained from scratch (by at
    /// least 10 points of accuracy; measured 64.6% against 47.2% with the default auxiliary reconstruction, 66.0% against 45.3% with the cross-entropy alone); the head has one output per class; Evaluate's accuracy matches PredictedLabel.
    /// </summary>
    [TestMethod]
    public void PretrainingBeatsScratchWithFewLabels()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(Pretrain(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(16, seed: 20));
        var test = ml.Data.LoadFromEnumerable(Problem(1000, seed: 30));
        AutoencoderClassifierOptions Options(bool scratch) => new() { Autoencoder = pretrained.Value, ReinitializeEncoder = scratch, Epochs = 60, BatchSize = 16, LearningRate = 3e-3, Seed = 2 };
        var fine = Classifier(ml, Options(false)).Fit(labelled);
        var scratch = Classifier(ml, Options(true)).Fit(labelled);
        double fineAccuracy = Accuracy(ml, fine, test), scratchAccuracy = Accuracy(ml, scratch, test);
        Console.WriteLine($"16 labels: fine-tuned {fineAccuracy:P1}, from scratch {scratchAccuracy:P1}");
        Assert.IsTrue(fineAccuracy > scratchAccuracy + 0.10, $"fine-tuned {fineAccuracy:P1} vs scratch {scratchAccuracy:P1}");
        var classifier = ((IEnumerable<ITransformer>)fine).OfType<AutoencoderClassifierTransformer>().Single();
        Assert.AreEqual(4, classifier.ClassCount);
        Assert.AreEqual(4, ((VectorDataViewType)fine.Transform(test).Schema["Score"].Type).Size, "the head has one output per class");
        var (scores, classes) = classifier.Predict(Synthetic.Flatten(Problem(5, seed: 40).Select(r => r.Features).ToArray()), 5);
        Assert.AreEqual(20, scores.Length);
        for (int r = 0; r < 5; r++) Assert.AreEqual(1.0, scores.Skip(r * 4).Take(4).Sum(), 1e-5, "probabilities sum to 1");
        Assert.IsTrue(classes.All(c => c is >= 0 and < 4));
    }

    /// <summary>
    /// With the encoder frozen for good its weights stay bit for bit those of the pretrained model (only the head
    /// learns); with it frozen for some epochs and then trained, they change; the pretrained model never changes.
    /// </summary>
    [TestMethod]
    public void FrozenEncoderWeightsDoNotChange()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(Pretrain(ml));
        var probe = Synthetic.Flatten(Problem(50, seed: 50).Select(r => r.Features).ToArray());
        var codesBefore = pretrained.Value.Model.Encode(probe, 50);
        var labelled = ml.Data.LoadFromEnumerable(Problem(200, seed: 21));

        var frozen = Last(Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, FreezeEncoder = true, Epochs = 5 }).Fit(labelled));
        CollectionAssert.AreEqual(codesBefore, frozen.Autoencoder.Model.Encode(probe, 50), "a frozen encoder gives the pretrained codes");
        Assert.AreNotSame(pretrained.Value.Model, frozen.Autoencoder.Model, "the classifier trains a copy");

        var thawed = Last(Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, FreezeEncoderEpochs = 2, Epochs = 5 }).Fit(labelled));
        CollectionAssert.AreNotEqual(codesBefore, thawed.Autoencoder.Model.Encode(probe, 50), "after the frozen epochs the encoder trains");
        CollectionAssert.AreEqual(codesBefore, pretrained.Value.Model.Encode(probe, 50), "the pretrained model is untouched");
        frozen.Autoencoder.Model.Dispose();
        thawed.Autoencoder.Model.Dispose();
    }

    /// <summary>With validation and patience, training stops early and the best epoch's weights are kept.</summary>
    [TestMethod]
    public void EarlyStoppingRestoresTheBestEpoch()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(Pretrain(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(60, seed: 22));
        var classifier = Last(Classifier(ml, new AutoencoderClassifierOptions
        {
            Autoencoder = pretrained.Value, Epochs = 300, LearningRate = 0.05, ValidationFraction = 0.3, EarlyStoppingPatience = 5, Seed = 3,
        }).Fit(labelled));
        var history = classifier.History;
        Assert.IsTrue(history.StoppedEarly, $"stopped after {history.Epochs.Count} of 300 epochs");
        double best = history.Epochs.Min(e => e.ValidationLoss!.Value);
        Assert.AreEqual(best, history.Epochs[history.BestEpoch - 1].ValidationLoss!.Value);
        Assert.AreEqual(history.BestEpoch + 5, history.Epochs.Count);
        classifier.Autoencoder.Model.Dispose();
    }

    /// <summary>Own file and mlContext.Model.Save load back to identical scores; damage and bad input are refused clearly.</summary>
    [TestMethod]
    public void SaveLoadAndBadInput()
    {
        using var temp = new TempDirectory("finetune-tests");
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(Pretrain(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(100, seed: 23));
        var test = ml.Data.LoadFromEnumerable(Problem(50, seed: 31));
        var chain = Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, Epochs = 5 }).Fit(labelled);
        var expected = chain.Transform(test).GetColumn<float[]>("Score").ToArray();

        var classifier = Last(chain);
        classifier.Save(temp.File("classifier.bin"));
        var loaded = AutoencoderClassifierTransformer.Load(temp.File("classifier.bin"));
        var keyed = ((IEnumerable<ITransformer>)chain).First().Transform(test);
        Same(expected, loaded.Transform(keyed).GetColumn<float[]>("Score").ToArray());

        ml.Model.Save(chain, labelled.Schema, temp.File("model.zip"));
        var other = new MLContext(seed: 2); // its own empty component catalog: Model.Load registers the loaders itself
        Same(expected, other.Model.Load(temp.File("model.zip"), out _).Transform(test).GetColumn<float[]>("Score").ToArray());

        var bytes = File.ReadAllBytes(temp.File("classifier.bin"));
        bytes[bytes.Length / 2] ^= 2;
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderClassifierTransformer.Load(new MemoryStream(bytes)));

        var notKey = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(pretrained.Value).Fit(labelled));
        StringAssert.Contains(notKey.Message, "MapValueToKey");
        Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions()));
        Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, EarlyStoppingPatience = 3 }));
        classifier.Autoencoder.Model.Dispose();
        loaded.Autoencoder.Model.Dispose();
    }

    /// <summary>
    /// By default fine-tuning keeps the autoencoder's reconstruction as an auxiliary loss and the history says so (both
    /// terms per epoch, the weight and its scale in <c>FineTuningChoice</c>); ReconstructionWeight 0 trains on the
    /// cross-entropy alone (no terms) and gives other weights; the frozen encoder ignores the weight.
    /// </summary>
    [TestMethod]
    public void TheDefaultKeepsTheReconstructionAndTheHistorySaysWhatWasUsed()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(PretrainTiny(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(100, seed: 24));
        var probe = Synthetic.Flatten(Problem(20, seed: 51).Select(r => r.Features).ToArray());
        var auxiliary = Last(Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, Epochs = 3 }).Fit(labelled));
        var plain = Last(Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, Epochs = 3, ReconstructionWeight = 0 }).Fit(labelled));
        var frozen = Last(Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, Epochs = 3, FreezeEncoder = true }).Fit(labelled));
        try
        {
            Assert.AreEqual(0.3, new AutoencoderClassifierOptions().ReconstructionWeight);
            Assert.IsTrue(auxiliary.History.Epochs.All(e => e.Terms.ContainsKey("cross-entropy") && e.Terms["reconstruction"] > 0), "both terms every epoch");
            StringAssert.Contains(auxiliary.History.FineTuningChoice, "auxiliary reconstruction weight 0.3");
            Assert.IsTrue(plain.History.Epochs.All(e => e.Terms.Count == 0), "weight 0: the cross-entropy alone");
            StringAssert.Contains(plain.History.FineTuningChoice, "no auxiliary reconstruction (ReconstructionWeight 0)");
            StringAssert.Contains(frozen.History.FineTuningChoice, "the encoder is frozen");
            CollectionAssert.AreNotEqual(plain.Predict(probe, 20).Scores, auxiliary.Predict(probe, 20).Scores, "the auxiliary term changes the model");
            Assert.IsNull(auxiliary.History.EpochsChoice, "epochs given: nothing chosen");
        }
        finally
        {
            auxiliary.Autoencoder.Model.Dispose();
            plain.Autoencoder.Model.Dispose();
            frozen.Autoencoder.Model.Dispose();
        }
    }

    /// <summary>
    /// Epochs left to the library: at least 30 epochs and 1,000 optimizer steps, at most 1,000 epochs, from the training
    /// rows after the validation split; given epochs are kept as they are.
    /// </summary>
    [TestMethod]
    [DataRow(100, 64, 500)]
    [DataRow(600, 64, 100)]
    [DataRow(6000, 64, 30)]
    [DataRow(10, 64, 1000)]
    [DataRow(100, 16, 143)]
    public void EpochsLeftToTheLibraryReachAThousandSteps(int rows, int batchSize, int expected)
    {
        var (epochs, choice) = new AutoencoderClassifierOptions { BatchSize = batchSize }.ChooseEpochs(rows);
        Assert.AreEqual(expected, epochs);
        StringAssert.Contains(choice, $"{expected} epochs");
        Assert.AreEqual((7, (string?)null), new AutoencoderClassifierOptions { Epochs = 7 }.ChooseEpochs(rows));
    }

    /// <summary>A tiny pretrained autoencoder, for tests that only need an encoder to fine-tune.</summary>
    private static AutoencoderTransformer PretrainTiny(MLContext ml) => ml.Transforms.Autoencoder(new AutoencoderOptions
    {
        HiddenLayerSizes = [16], LatentDimension = 2, Epochs = 2, BatchSize = 64, Seed = 1,
    }).Fit(ml.Data.LoadFromEnumerable(Problem(200, seed: 10)));

    /// <summary>A NaN or infinite learning rate is refused when the trainer is created, naming the option.</summary>
    [TestMethod]
    [DataRow(nameof(AutoencoderClassifierOptions.LearningRate), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderClassifierOptions.LearningRate), double.NaN)]
    [DataRow(nameof(AutoencoderClassifierOptions.EncoderLearningRate), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderClassifierOptions.EncoderLearningRate), double.NaN)]
    public void NonFiniteLearningRatesAreRefused(string option, double value)
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(PretrainTiny(ml));
        var options = new AutoencoderClassifierOptions { Autoencoder = pretrained.Value };
        if (option == nameof(AutoencoderClassifierOptions.LearningRate)) options.LearningRate = value;
        else options.EncoderLearningRate = value;
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(options));
        Assert.AreEqual(option, e.ParamName);
    }

    /// <summary>A BatchSize above the row count (int.MaxValue) trains on one batch of all rows instead of overflowing.</summary>
    [TestMethod]
    public void BatchSizeAboveTheRowCountIsOneBatch()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(PretrainTiny(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(50, seed: 22));
        var classifier = Last(Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, Epochs = 2, BatchSize = int.MaxValue }).Fit(labelled));
        Assert.AreEqual(2, classifier.History.Epochs.Count);
        Assert.IsTrue(classifier.History.Epochs.All(e => e.Rows == 50 && double.IsFinite(e.TrainLoss)));
        classifier.Autoencoder.Model.Dispose();
    }

    /// <summary>
    /// LearningRate 1e30 makes the loss NaN in the first epoch: Fit throws the divergence error naming epoch 1 instead of
    /// finishing with NaN losses and one predicted class; no epoch completed, so there is no best model.
    /// </summary>
    [TestMethod]
    public void DivergenceInTheFirstEpochThrowsNamingTheEpoch()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(PretrainTiny(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(200, seed: 22));
        var e = Assert.ThrowsExactly<AutoencoderClassifierDivergedException>(() =>
            Classifier(ml, new AutoencoderClassifierOptions { Autoencoder = pretrained.Value, Epochs = 3, LearningRate = 1e30 }).Fit(labelled));
        Assert.AreEqual(1, e.Epoch);
        StringAssert.Contains(e.Message, "epoch 1,");
        Assert.AreEqual(0, e.BestEpoch);
        Assert.IsNull(e.BestModel);
    }

    /// <summary>
    /// The head trains alone for one epoch (finite), then the encoder thaws with EncoderLearningRate 1e30 and the loss
    /// becomes NaN in epoch 2: the error names epoch 2 and hands over epoch 1's classifier, whose scores are finite.
    /// </summary>
    [TestMethod]
    public void DivergenceAfterAFiniteEpochKeepsTheBestModel()
    {
        var ml = new MLContext(seed: 1);
        using var pretrained = new Disposer(PretrainTiny(ml));
        var labelled = ml.Data.LoadFromEnumerable(Problem(200, seed: 22));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(labelled).Transform(labelled);
        var e = Assert.ThrowsExactly<AutoencoderClassifierDivergedException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
        {
            Autoencoder = pretrained.Value, Epochs = 4, FreezeEncoderEpochs = 1, EncoderLearningRate = 1e30,
        }).Fit(keyed));
        Assert.AreEqual(2, e.Epoch);
        StringAssert.Contains(e.Message, "epoch 2,");
        Assert.AreEqual(1, e.BestEpoch);
        var best = e.BestModel!;
        Assert.IsNotNull(best);
        Assert.AreEqual(1, best.History.BestEpoch);
        Assert.AreEqual(1, best.History.Epochs.Count);
        Assert.IsTrue(double.IsFinite(best.History.Epochs[0].TrainLoss));
        var scores = best.Transform(keyed).GetColumn<float[]>("Score").ToArray();
        Assert.IsTrue(scores.All(r => r.All(float.IsFinite)), "the best model's scores are finite");
        best.Autoencoder.Model.Dispose();
    }

    private static AutoencoderClassifierTransformer Last(ITransformer model) => ((IEnumerable<ITransformer>)model).OfType<AutoencoderClassifierTransformer>().Single();

    private static void Same(float[][] expected, float[][] actual)
    {
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
    }

    private sealed class Disposer(AutoencoderTransformer value) : IDisposable
    {
        public AutoencoderTransformer Value { get; } = value;

        public void Dispose() => Value.Model.Dispose();
    }
}
