using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// One training loop for every objective: labelled batches reach a supervised objective with their rows, the loop's
/// settings (best-weight restore, shared shuffle stream, parameter groups) behave as documented, the fine-tuning
/// classifier trains through the loop (its NaN guard, progress, cancellation), and anomaly scores read the objective's
/// own terms per row.
/// </summary>
[TestClass]
public sealed class OneTrainingLoopTests
{
    /// <summary>Twelve features in [0, 1] and a three-class label taken from the first feature.</summary>
    public sealed class Row
    {
        /// <summary>Features.</summary>
        [VectorType(12)]
        public float[] Features { get; set; } = [];

        /// <summary>Class 0, 1 or 2.</summary>
        public uint Label { get; set; }
    }

    private static IDataView Labelled(MLContext ml, int count)
    {
        var rows = Synthetic.LowRank(count, 12, 3, seed: 4).Select(f => new Row { Features = f, Label = (uint)(f[0] > 0.6 ? 2 : f[0] > 0.4 ? 1 : 0) });
        var data = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    private static AutoencoderTransformer Pretrained(MLContext ml, IDataView data) =>
        ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = [6], Epochs = 2, Seed = 2 }).Fit(data);

    /// <summary>
    /// Every batch of labelled data holds each row with its own label, shuffled or not, and the split holds each row once:
    /// round(fraction x rows) for validation, the rest for training.
    /// </summary>
    [TestMethod]
    public void LabelledBatchesKeepEachRowWithItsLabel()
    {
        const int n = 23, d = 3;
        var rows = new float[n * d];
        var labels = new int[n];
        for (int r = 0; r < n; r++)
        {
            labels[r] = r % 4;
            for (int j = 0; j < d; j++) rows[r * d + j] = 100 * r + j;
        }
        var (train, validation) = LabelledTrainingData.Split(rows, labels, d, 0.3, new Random(1));
        Assert.AreEqual(7, validation!.Count);
        Assert.AreEqual(16, train.Count);
        var seen = new List<int>();
        foreach (var (data, shuffle) in new[] { (train, new Random(2)), (validation, (Random?)null) })
            foreach (var batch in data.Batches(5, shuffle, CPU, default))
                using (batch)
                {
                    var x = batch.Features.data<float>().ToArray();
                    var y = batch.Labels!.data<long>().ToArray();
                    Assert.AreEqual(ScalarType.Int64, batch.Labels.dtype);
                    for (int r = 0; r < y.Length; r++)
                    {
                        int row = (int)(x[r * d] / 100);
                        Assert.AreEqual(labels[row], (int)y[r], $"row {row} arrives with its label");
                        Assert.AreEqual(100 * row + 2, x[r * d + 2], $"row {row} arrives whole");
                        seen.Add(row);
                    }
                }
        CollectionAssert.AreEquivalent(Enumerable.Range(0, n).ToArray(), seen.ToArray(), "the split holds each row once");
    }

    /// <summary>The classification objective refuses a batch without labels instead of training on nothing.</summary>
    [TestMethod]
    public void ClassificationObjectiveRefusesUnlabelledBatches()
    {
        using var network = nn.Linear(4, 3);
        var objective = new ClassificationObjective(network, network, network.parameters().ToList(), [], null, 0, false);
        using var features = rand(2, 4);
        Assert.ThrowsExactly<ArgumentException>(() => objective.Loss(features, 0, training: true, null));
    }

    /// <summary>
    /// The classification objective trains the encoder at its own rate and the head at the run's, freezes the encoder in
    /// the epochs it sits out (no gradient, evaluation mode), and <see cref="ClassificationObjective.ThawEncoder"/> gives
    /// the gradients back.
    /// </summary>
    [TestMethod]
    public void ClassificationObjectiveGroupsAndFreezesTheEncoder()
    {
        using var encoder = nn.Linear(4, 2);
        using var head = nn.Linear(2, 3);
        using var network = nn.Sequential(("encoder", encoder), ("head", head));
        var encoderParameters = encoder.parameters().ToList();
        var objective = new ClassificationObjective(network, encoder, encoderParameters, head.parameters().ToList(), 1e-4, 2, false);
        var groups = objective.ParameterGroups(1e-2);
        Assert.AreEqual(2, groups.Count);
        Assert.AreEqual(1e-4, groups[0].LearningRate, "the encoder's own rate");
        Assert.AreEqual(1e-2, groups[1].LearningRate, "the head at the run's rate");
        Assert.AreEqual(0.01, new ClassificationObjective(network, encoder, encoderParameters, [], null, 0, false).ParameterGroups(0.01)[0].LearningRate, "no own rate: the run's");

        network.train();
        objective.BeginEpoch(1);
        Assert.IsTrue(encoderParameters.All(p => !p.requires_grad), "frozen in the second epoch of two");
        Assert.IsFalse(encoder.training, "a frozen encoder is in evaluation mode");
        network.train();
        objective.BeginEpoch(2);
        Assert.IsTrue(encoderParameters.All(p => p.requires_grad), "thawed after the frozen epochs");
        objective.BeginEpoch(0);
        objective.ThawEncoder();
        Assert.IsTrue(encoderParameters.All(p => p.requires_grad), "ThawEncoder gives the gradients back");
    }

    /// <summary>
    /// RestoreBestWeights puts the best epoch back without early stopping; left null it follows early stopping (off here).
    /// </summary>
    [TestMethod]
    public void BestWeightsAreRestoredWhenAskedWithoutEarlyStopping()
    {
        var settings = new TrainingSettings { Epochs = 3, BatchSize = 4, Seed = 1 };
        var asked = Run(settings with { RestoreBestWeights = true }, [1, 0.5, 0.7]);
        Assert.AreEqual(2, asked.BestEpoch);
        Assert.IsTrue(asked.RestoredBestWeights);
        Assert.IsFalse(asked.StoppedEarly);
        var left = Run(settings, [1, 0.5, 0.7]);
        Assert.IsFalse(left.RestoredBestWeights, "no early stopping, nothing asked: the last weights stay");
    }

    /// <summary>
    /// Patience that runs out in the last epoch is not an early stop (no epoch was skipped), for the classifier as for the
    /// autoencoder; one epoch more and it is.
    /// </summary>
    [TestMethod]
    public void PatienceRunningOutInTheLastEpochIsNotAnEarlyStop()
    {
        var settings = new TrainingSettings { Epochs = 3, BatchSize = 4, Seed = 1, EarlyStoppingPatience = 2 };
        var last = Run(settings, [0.5, 0.7, 0.8]);
        Assert.AreEqual(3, last.Epochs.Count);
        Assert.IsFalse(last.StoppedEarly);
        Assert.AreEqual(1, last.BestEpoch);
        Assert.IsTrue(last.RestoredBestWeights);
        var longer = Run(settings with { Epochs = 4 }, [0.5, 0.7, 0.8, 0.1]);
        Assert.AreEqual(3, longer.Epochs.Count);
        Assert.IsTrue(longer.StoppedEarly);
    }

    /// <summary>A shared shuffle generator serves every epoch and is refused with checkpoints, which could not resume its draws.</summary>
    [TestMethod]
    public void SharedShuffleGeneratorServesEveryEpochAndRefusesCheckpoints()
    {
        var shared = new Random(3);
        var settings = new TrainingSettings { Epochs = 2, BatchSize = 4, ShuffleGenerator = shared };
        Assert.AreSame(shared, AutoencoderTrainer.ShuffleFor(settings, 0));
        Assert.AreSame(shared, AutoencoderTrainer.ShuffleFor(settings, 1));
        Assert.IsNull(AutoencoderTrainer.ShuffleFor(settings with { Shuffle = false }, 1), "no shuffling: no generator");
        var plan = new CheckpointPlan { Path = "never-written.ckpt", NewHeader = () => throw new AssertFailedException("no checkpoint is written") };
        Assert.ThrowsExactly<ArgumentException>(() => Run(settings with { Checkpoint = plan }, [1, 1]));
    }

    /// <summary>Each parameter group follows the schedule from its own starting rate; the run's group from the run's rate.</summary>
    [TestMethod]
    public void ScheduleAppliesToEachGroupFromItsOwnRate()
    {
        var cosine = new TrainingSettings { Epochs = 4, LearningRate = 1e-2, MinLearningRate = 1e-5, Schedule = LearningRateSchedule.Cosine };
        for (int e = 0; e < 4; e++)
        {
            Assert.AreEqual(cosine.LearningRateAt(e), cosine.LearningRateAt(e, cosine.LearningRate));
            Assert.AreEqual(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.Cos(Math.PI * e / 4)), cosine.LearningRateAt(e, 1e-3), 1e-15);
        }
        var constant = new TrainingSettings { LearningRate = 1e-3 };
        Assert.AreEqual(3e-4, constant.LearningRateAt(7, 3e-4), "a constant rate is the group's own, exactly");
    }

    /// <summary>
    /// A NaN loss in the classifier is caught by the one loop's guard (the classifier's error wraps the loop's), names the
    /// epoch and batch, and leaves the pretrained model untouched.
    /// </summary>
    [TestMethod]
    public void ClassifierDivergenceComesFromTheSharedLoopGuard()
    {
        var ml = new MLContext(seed: 1);
        var data = Labelled(ml, 90);
        var pretrained = Pretrained(ml, data);
        try
        {
            var before = pretrained.Model.Encode(new float[12]);
            var e = Assert.ThrowsExactly<AutoencoderClassifierDivergedException>(() =>
                ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 2, LearningRate = 1e30 }).Fit(data));
            var inner = e.InnerException as TrainingDivergence;
            Assert.IsNotNull(inner, "the shared loop's guard stopped the fine-tuning");
            Assert.AreEqual(inner.Epoch, e.Epoch);
            Assert.AreEqual(inner.Batch, e.Batch);
            StringAssert.StartsWith(e.Message, "Fine-tuning diverged: the ");
            StringAssert.Contains(e.Message, "learning rate 1E+30");
            CollectionAssert.AreEqual(before, pretrained.Model.Encode(new float[12]), "the pretrained model is a copy's source, never trained");
        }
        finally
        {
            pretrained.Model.Dispose();
        }
    }

    /// <summary>
    /// The classifier's history has one record per epoch, the same records its progress received: numbered from 1, the
    /// training rows left after the validation split, a validation loss, the head's learning rate.
    /// </summary>
    [TestMethod]
    public void ClassifierReportsEveryEpochThroughProgressAndHistory()
    {
        var ml = new MLContext(seed: 1);
        var data = Labelled(ml, 90);
        var pretrained = Pretrained(ml, data);
        var reported = new List<EpochRecord>();
        var classifier = ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
        {
            Autoencoder = pretrained, Epochs = 4, ValidationFraction = 0.2, LearningRate = 2e-3, BatchSize = 16, Progress = new Collect(reported),
        }).Fit(data);
        try
        {
            var epochs = classifier.History.Epochs;
            Assert.AreEqual(4, epochs.Count);
            CollectionAssert.AreEqual(epochs.ToArray(), reported.ToArray(), "progress received the history's records");
            for (int i = 0; i < epochs.Count; i++)
            {
                Assert.AreEqual(i + 1, epochs[i].Epoch);
                Assert.AreEqual(90 - 18, epochs[i].Rows, "the rows left after holding out round(0.2 x 90)");
                Assert.IsTrue(epochs[i].ValidationLoss is { } v && double.IsFinite(v), $"epoch {i + 1} has a validation loss");
                Assert.AreEqual(2e-3, epochs[i].LearningRate);
                Assert.IsTrue(double.IsFinite(epochs[i].TrainLoss));
            }
        }
        finally
        {
            classifier.Autoencoder.Model.Dispose();
            pretrained.Model.Dispose();
        }
    }

    /// <summary>
    /// The classifier follows a learning-rate schedule through the loop (the step schedule halves the rate every epoch
    /// here, as the history records); a cosine minimum above a starting rate is refused before any work.
    /// </summary>
    [TestMethod]
    public void ClassifierFollowsItsLearningRateSchedule()
    {
        var ml = new MLContext(seed: 1);
        var data = Labelled(ml, 60);
        var pretrained = Pretrained(ml, data);
        try
        {
            var classifier = ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
            {
                Autoencoder = pretrained, Epochs = 3, LearningRate = 4e-3, LearningRateSchedule = LearningRateSchedule.Step, StepSize = 1, StepFactor = 0.5,
            }).Fit(data);
            CollectionAssert.AreEqual(new[] { 4e-3, 2e-3, 1e-3 }, classifier.History.Epochs.Select(e => e.LearningRate).ToArray());
            classifier.Autoencoder.Model.Dispose();
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
            {
                Autoencoder = pretrained, LearningRate = 1e-2, EncoderLearningRate = 1e-4, LearningRateSchedule = LearningRateSchedule.Cosine, MinLearningRate = 1e-3,
            }));
        }
        finally
        {
            pretrained.Model.Dispose();
        }
    }

    /// <summary>Cancelling during fine-tuning stops it at the next batch with OperationCanceledException: no further epoch runs.</summary>
    [TestMethod]
    public void ClassifierCancellationStopsTraining()
    {
        var ml = new MLContext(seed: 1);
        var data = Labelled(ml, 90);
        var pretrained = Pretrained(ml, data);
        try
        {
            using var cancel = new CancellationTokenSource();
            var reported = new List<EpochRecord>();
            var trainer = ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions
            {
                Autoencoder = pretrained, Epochs = 50, BatchSize = 16, CancellationToken = cancel.Token,
                Progress = new Collect(reported, _ => cancel.Cancel()),
            });
            Assert.Throws<OperationCanceledException>(() => trainer.Fit(data));
            Assert.AreEqual(1, reported.Count, "the first epoch's report cancelled the run");
        }
        finally
        {
            pretrained.Model.Dispose();
        }
    }

    /// <summary>
    /// The per-row terms an anomaly score reads average to the training loss itself, for both reconstruction losses and
    /// both reductions and for the KL, saturated reconstructions (0 and 1 under BCE) included: one definition of each loss.
    /// </summary>
    [TestMethod]
    public void PerRowTermsAverageToTheTrainingLoss()
    {
        using var scope = NewDisposeScope();
        var target = rand(6, 5);
        var reconstruction = rand(6, 5);
        reconstruction[0, 0] = tensor(0f);
        reconstruction[1, 1] = tensor(1f);
        foreach (var loss in new[] { ReconstructionLoss.MeanSquaredError, ReconstructionLoss.BinaryCrossEntropy })
            foreach (bool sumPerRow in new[] { false, true })
            {
                var perRow = ReconstructionLosses.PerRow(loss, reconstruction, target, sumPerRow);
                CollectionAssert.AreEqual(new long[] { 6 }, perRow.shape);
                float batch = ReconstructionLosses.Compute(loss, reconstruction, target, sumPerRow).item<float>();
                Assert.AreEqual(batch, perRow.mean().item<float>(), 1e-5f * Math.Max(1, Math.Abs(batch)), $"{loss}, sum per row {sumPerRow}");
            }
        var mean = randn(6, 3);
        var logVariance = randn(6, 3);
        var kl = KlDivergence.PerRow(mean, logVariance);
        CollectionAssert.AreEqual(new long[] { 6 }, kl.shape);
        Assert.AreEqual(KlDivergence.FromStandardNormal(mean, logVariance).item<float>(), kl.mean().item<float>(), 1e-5f);
        Assert.AreEqual(2f, KlDivergence.PerRow(tensor(new float[] { 2 }, new long[] { 1, 1 }), zeros(1, 1)).item<float>(), 1e-6f, "½μ² for σ = 1");
    }

    /// <summary>Trains a one-weight module whose losses are scripted: per epoch in training, per evaluation in validation.</summary>
    private static TrainingHistory Run(TrainingSettings settings, double[] validationLosses)
    {
        using var module = nn.Linear(1, 1);
        var objective = new ScriptedObjective(module, validationLosses);
        using var train = new InMemoryTrainingData(ones(4, 1));
        using var validation = new InMemoryTrainingData(ones(4, 1));
        return AutoencoderTrainer.Train(objective, train, validation, settings, CPU);
    }

    /// <summary>Loss 1 in training; the scripted value of each evaluation in validation.</summary>
    private sealed class ScriptedObjective(Linear module, double[] validationLosses) : ITrainingObjective
    {
        private int evaluations;

        public nn.Module<Tensor, Tensor> Module => module;

        public IReadOnlyList<string> TermNames => [];

        public byte[] RandomState { get => []; set => throw new NotSupportedException(); }

        public IReadOnlyList<(IEnumerable<Parameter> Parameters, double LearningRate)> ParameterGroups(double learningRate) => [(module.parameters(), learningRate)];

        public void BeginEpoch(int epoch)
        {
        }

        public void BeginEvaluation()
        {
        }

        public Tensor Loss(TrainingBatch batch, int epoch, bool training, List<Tensor>? terms)
        {
            using var zero = module.forward(batch.Features).sum().mul(0f);
            return zero.add(training ? 1f : (float)validationLosses[evaluations++]);
        }
    }

    /// <summary>Collects progress synchronously (System.Progress posts to the thread pool), optionally acting on each record.</summary>
    private sealed class Collect(List<EpochRecord> into, Action<EpochRecord>? then = null) : IProgress<EpochRecord>
    {
        public void Report(EpochRecord value)
        {
            into.Add(value);
            then?.Invoke(value);
        }
    }
}
