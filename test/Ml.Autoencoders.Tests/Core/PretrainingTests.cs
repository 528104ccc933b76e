using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Training;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>Greedy layer-wise pretraining of stacked autoencoders, end-to-end fine-tuning after it, and tied weights.</summary>
[TestClass]
public sealed class PretrainingTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>
    /// A stacked autoencoder with pretraining records one history per stage (input side first); each stage's loss falls
    /// from its first epoch to its last, its records carry the stage number (as the progress reports do), and the
    /// end-to-end fine-tuning that follows does not raise the loss.
    /// </summary>
    [TestMethod]
    public void EachPretrainingStageLowersItsLossAndFineTuningDoesNotRaiseIt()
    {
        var reported = new List<EpochRecord>();
        var options = AutoencoderPresets.Stacked(hiddenLayerSizes: new[] { 16, 8 }, latentDimension: 4, pretrainEpochs: 5);
        options.Epochs = 8;
        options.BatchSize = 32;
        options.LearningRate = 1e-2;
        options.Seed = 2;
        options.Progress = new Progress(reported.Add);
        var rows = Synthetic.LowRank(256, 20, 3, seed: 11);
        double entropy = Entropy(rows);
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows));

        var stages = model.Model.PretrainingHistory;
        Assert.HasCount(3, stages, "one stage per encoder layer: 20-16, 16-8, 8-4");
        for (int i = 0; i < stages.Count; i++)
        {
            var epochs = stages[i].Epochs;
            Assert.HasCount(5, epochs, $"stage {i + 1}: PretrainEpochs epochs");
            // Stage 1 is binary cross-entropy against values in (0, 1): its floor is their mean entropy, not 0.
            double floor = i == 0 ? entropy : 0;
            Assert.IsTrue(epochs[^1].TrainLoss - floor < 0.75 * (epochs[0].TrainLoss - floor), $"stage {i + 1}: loss {epochs[0].TrainLoss} -> {epochs[^1].TrainLoss} (floor {floor})");
            Assert.IsTrue(epochs.All(e => e.PretrainingStage == i + 1), $"stage {i + 1}: records carry their stage number");
            Assert.IsTrue(epochs.All(e => e.Rows == 256), $"stage {i + 1}: every training row");
        }
        var fineTuning = model.History.Epochs;
        Assert.HasCount(8, fineTuning);
        Assert.IsTrue(fineTuning.All(e => e.PretrainingStage is null), "fine-tuning records have no stage");
        Assert.IsTrue(fineTuning[^1].TrainLoss <= fineTuning[0].TrainLoss, $"fine-tuning: loss {fineTuning[0].TrainLoss} -> {fineTuning[^1].TrainLoss}");

        var expected = stages.SelectMany(s => s.Epochs).Concat(fineTuning).ToList();
        Assert.HasCount(expected.Count, reported, "every epoch is reported once");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].PretrainingStage, reported[i].PretrainingStage, $"report {i}: stage");
            Assert.AreEqual(expected[i].TrainLoss, reported[i].TrainLoss, $"report {i}: loss");
        }
        model.Model.Dispose();
    }

    /// <summary>
    /// Each stage's shallow autoencoder is copied into the right layers of the deep network: rebuilt from the deep
    /// network's encoder layer i and decoder layer (stages − 1 − i), it gives exactly the stage's last-epoch loss (that
    /// epoch trains at learning rate 0, so its weights do not move). Fine-tuning then lowers the
    /// test reconstruction error below that of the pretrained network, which is itself below the untrained one's.
    /// </summary>
    [TestMethod]
    [DataRow(false, DisplayName = "separate decoder weights")]
    [DataRow(true, DisplayName = "tied weights")]
    public void PretrainedStagesAreCopiedIntoTheDeepNetworkAndFineTuningImprovesIt(bool tied)
    {
        var rows = Synthetic.LowRank(320, 20, 3, seed: 11);
        var spec = new DenseNetworkSpec(20, new[] { 16, 8 }, new[] { Activation.SELU, Activation.Tanh }, 4, Activation.SELU, Activation.Sigmoid, LatentHead.Deterministic, tied);
        using var network = TestNetworks.Create(spec, 3, CPU);
        using var trainRows = tensor(Synthetic.Flatten(rows[..256]), new long[] { 256, 20 });
        using var testRows = tensor(Synthetic.Flatten(rows[256..]), new long[] { 64, 20 });
        using var data = new InMemoryTrainingData(trainRows.clone());
        var objective = new ObjectiveSettings { Loss = ReconstructionLoss.BinaryCrossEntropy };
        // A step schedule that drops to learning rate 0 for the last epoch: that epoch's loss is the loss of the final weights.
        var settings = new TrainingSettings { Epochs = 6, BatchSize = 32, Seed = 3, LearningRate = 1e-2, Schedule = LearningRateSchedule.Step, StepSize = 5, StepFactor = 0 };
        double untrained = TestError(network, testRows);

        var stages = GreedyPretraining.Run(network, data, null, objective, settings, (s, seed) => SeededNetworks.Create(s, seed, CPU), CPU);
        Assert.HasCount(3, stages);
        Assert.AreEqual(1e-2, settings.LearningRateAt(settings.Epochs - 2), "the other epochs learn");
        Assert.AreEqual(0, settings.LearningRateAt(settings.Epochs - 1), "the last epoch trains with learning rate 0");
        var parameters = network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (NewDisposeScope())
        using (no_grad())
        {
            var h = trainRows;
            for (int i = 0; i < 3; i++)
            {
                var (linear, activation) = network.EncoderLayers[i];
                var code = Activations.Apply(activation, linear.forward(h));
                int j = 2 - i;
                var weight = tied ? linear.weight.t() : parameters[$"decoder.linear{j}.weight"];
                var output = Activations.Apply(i == 0 ? Activation.Sigmoid : spec.HiddenActivations[i - 1], nn.functional.linear(code, weight, parameters[$"decoder.linear{j}.bias"]));
                double loss = i == 0
                    ? nn.functional.binary_cross_entropy(output, h).item<float>()
                    : nn.functional.mse_loss(output, h).item<float>();
                double last = stages[i].Epochs[^1].TrainLoss;
                Assert.AreEqual(last, loss, 1e-4 * last, $"stage {i + 1}: the deep network's layers {i} and decoder {j} reproduce the stage's last loss");
                double floor = i == 0 ? Entropy(rows[..256]) : 0;
                Assert.IsTrue(last - floor < 0.75 * (stages[i].Epochs[0].TrainLoss - floor), $"stage {i + 1} learned");
                h = code;
            }
        }
        double pretrained = TestError(network, testRows);
        Assert.IsTrue(pretrained < 0.9 * untrained, $"pretrained test error {pretrained} vs untrained {untrained}");

        using (var fineTune = new AutoencoderObjective(network, objective, 3, CPU))
        {
            var history = AutoencoderTrainer.Train(fineTune, data, null, settings with { Epochs = 15, Schedule = LearningRateSchedule.Cosine }, CPU);
            Assert.IsTrue(history.Epochs[^1].TrainLoss <= history.Epochs[0].TrainLoss, "fine-tuning does not raise the loss");
        }
        double fineTuned = TestError(network, testRows);
        Assert.IsTrue(fineTuned < 0.8 * pretrained, $"fine-tuned test error {fineTuned} vs pretrained {pretrained}");
    }

    /// <summary>Mean binary entropy of the values: the lowest binary cross-entropy any reconstruction can reach.</summary>
    private static double Entropy(float[][] rows) => rows.SelectMany(r => r).Average(v => -(v * Math.Log(v) + (1 - v) * Math.Log(1 - v)));

    private static double TestError(DenseAutoencoderNetwork network, Tensor rows)
    {
        network.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double error = (network.forward(rows) - rows).square().mean().item<float>();
        network.train();
        return error;
    }

    /// <summary>
    /// With tied weights the decoder holds biases only (no weight tensor in the state dictionary, so none in a model
    /// file) and its layers use the transposed encoder weights: a manual forward pass from the encoder's weights
    /// reproduces Reconstruct, with and without pretraining.
    /// </summary>
    [TestMethod]
    [DataRow(0)]
    [DataRow(3)]
    public void TiedDecoderUsesTheTransposedEncoderWeights(int pretrainEpochs)
    {
        var rows = Synthetic.LowRank(160, 10, 2, seed: 5);
        var options = AutoencoderPresets.Stacked(hiddenLayerSizes: new[] { 6 }, latentDimension: 3, pretrainEpochs: pretrainEpochs, tiedWeights: true);
        options.Epochs = 4;
        options.BatchSize = 32;
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows));
        var state = model.Model.Network.state_dict();
        CollectionAssert.AreEquivalent(
            new[] { "encoder.linear0.weight", "encoder.linear0.bias", "encoder.linear1.weight", "encoder.linear1.bias", "decoder.linear0.bias", "decoder.linear1.bias" },
            state.Keys.ToArray());
        double[] Values(string name) => state[name].data<float>().Select(v => (double)v).ToArray();
        var (w0, b0, w1, b1) = (Values("encoder.linear0.weight"), Values("encoder.linear0.bias"), Values("encoder.linear1.weight"), Values("encoder.linear1.bias"));
        var (c0, c1) = (Values("decoder.linear0.bias"), Values("decoder.linear1.bias"));

        var reconstructions = model.Model.Reconstruct(rows);
        for (int r = 0; r < rows.Length; r++)
        {
            var x = rows[r].Select(v => (double)v).ToArray();
            var h = Dense(x, w0, b0, 6, transposed: false).Select(Selu).ToArray();          // 10 -> 6
            var code = Dense(h, w1, b1, 3, transposed: false).Select(Selu).ToArray();       // 6 -> 3
            var back = Dense(code, w1, c0, 6, transposed: true).Select(Selu).ToArray();     // 3 -> 6 with W1ᵀ
            var output = Dense(back, w0, c1, 10, transposed: true).Select(v => 1 / (1 + Math.Exp(-v))).ToArray(); // 6 -> 10 with W0ᵀ
            for (int j = 0; j < 10; j++)
                Assert.AreEqual(output[j], reconstructions[r][j], 1e-5, $"row {r} feature {j}");
        }
        Assert.HasCount(pretrainEpochs > 0 ? 2 : 0, model.Model.PretrainingHistory);
        model.Model.Dispose();
    }

    /// <summary>y = W x + b for W stored [outputs, inputs] row-major, or y = Wᵀ x + b for W stored [inputs, outputs] (transposed).</summary>
    private static double[] Dense(double[] x, double[] w, double[] b, int outputs, bool transposed)
    {
        var y = (double[])b.Clone();
        Assert.AreEqual(outputs, y.Length);
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < x.Length; i++)
                y[o] += (transposed ? w[i * outputs + o] : w[o * x.Length + i]) * x[i];
        return y;
    }

    private static double Selu(double v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (Math.Exp(v) - 1));

    private sealed class Progress(Action<EpochRecord> action) : IProgress<EpochRecord>
    {
        public void Report(EpochRecord value) => action(value);
    }
}
