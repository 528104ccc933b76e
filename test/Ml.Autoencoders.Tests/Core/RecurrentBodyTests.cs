using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The recurrent body (LSTM/GRU encoder and repeat-vector decoder around a dense code), added as one folder and one
/// line in the body list: its tensor table, that it learns, and what it refuses (its kernels against float64 and
/// batch independence: NumericsTests.PresetBodiesMatchFloat64; the ML.NET workout: AutoencoderConformanceTests).
/// </summary>
[TestClass]
public sealed class RecurrentBodyTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static RecurrentNetworkSpec Spec(RecurrentOptions r, int[] hidden, int latent, LatentHead head = LatentHead.Deterministic) =>
        (RecurrentNetworkSpec)new AutoencoderOptions
        {
            Body = r, HiddenLayerSizes = hidden, LatentDimension = latent, LatentHead = head,
        }.Spec(r.Steps * r.Features, Activation.Linear);

    private static IEnumerable<RecurrentNetworkSpec> Specs()
    {
        yield return Spec(new RecurrentOptions { Steps = 5, Features = 1, HiddenSize = 4 }, [], 2);
        yield return Spec(new RecurrentOptions { Steps = 4, Features = 3, HiddenSize = 5, Layers = 2, Bidirectional = true }, [6], 3);
        yield return Spec(new RecurrentOptions { Steps = 6, Features = 2, HiddenSize = 3, Cell = RecurrentCell.Gru, Layers = 3 }, [], 2, LatentHead.Gaussian);
        yield return Spec(new RecurrentOptions { Steps = 3, Features = 2, HiddenSize = 4, Cell = RecurrentCell.Gru, Bidirectional = true, Layers = 2 }, [5, 4], 2);
    }

    /// <summary>The tensor table worked out from a spec (what the model file checks) equals the real network's state dict: names, shapes, order.</summary>
    [TestMethod]
    public void ExpectedTensorsEqualTheRealStateDict()
    {
        foreach (var spec in Specs())
        {
            using var network = (RecurrentAutoencoderNetwork)spec.Create();
            string Show(IEnumerable<(string Name, long[] Shape)> t) => string.Join("; ", t.Select(x => $"{x.Name} [{string.Join(",", x.Shape)}]"));
            Assert.AreEqual(Show(RecurrentAutoencoderNetwork.ExpectedTensors(spec)), Show(network.state_dict().Select(p => (p.Key, p.Value.shape))), network.Description);
        }
    }

    /// <summary>
    /// The library's LSTM computes libtorch's LSTM function: with the same weights (copied by name: same names, shapes,
    /// order), it agrees with libtorch's float64 LSTM on every step's output and the final states, stacked and
    /// bidirectional (libtorch's float32 LSTM is the one that disagrees on this machine; see <see cref="Lstm"/>).
    /// </summary>
    [TestMethod]
    [DataRow(1, false)]
    [DataRow(2, true)]
    public void TheLibrarysLstmIsLibtorchsLstmFunction(int layers, bool bidirectional)
    {
        using var scope = NewDisposeScope();
        using var ours = new Lstm(3, 5, layers, bidirectional);
        using var reference = nn.LSTM(3, 5, layers, batchFirst: true, bidirectional: bidirectional);
        reference.to(ScalarType.Float64);
        var theirs = reference.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        CollectionAssert.AreEqual(theirs.Keys.ToArray(), ours.named_parameters().Select(p => p.name).ToArray(), "parameter names and order");
        using (no_grad())
            foreach (var (name, p) in ours.named_parameters())
                theirs[name].copy_(p.to(ScalarType.Float64));
        var x = rand(new long[] { 6, 9, 3 }, generator: new Generator(2));
        using var noGrad = no_grad();
        var (output, final) = ours.Run(x);
        var (referenceOutput, referenceFinal, _) = reference.forward(x.to(ScalarType.Float64), null);
        int directions = bidirectional ? 2 : 1;
        Assert.IsLessThan(1e-6, (output.to(ScalarType.Float64) - referenceOutput).abs().max().item<double>(), "every step's output");
        Assert.IsLessThan(1e-6, (final.to(ScalarType.Float64) - referenceFinal[TensorIndex.Slice(-directions)]).abs().max().item<double>(), "final states of the last layer");
    }

    /// <summary>Windows of noisy sine waves (random phase and frequency) as steps x 1 feature.</summary>
    private static float[][] SineWindows(int count, int steps, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double phase = random.NextDouble() * 2 * Math.PI, frequency = 0.3 + 0.4 * random.NextDouble();
            return Enumerable.Range(0, steps).Select(t => (float)(0.5 + 0.4 * Math.Sin(phase + frequency * t) + 0.01 * Synthetic.Gaussian(random))).ToArray();
        }).ToArray();
    }

    private static double Mse(float[][] a, float[][] b) => a.Zip(b, (x, y) => x.Zip(y, (u, v) => (double)(u - v) * (u - v)).Average()).Average();

    /// <summary>
    /// An LSTM and a GRU autoencoder with a 2-d code learn sine windows (two numbers, phase and frequency, make one):
    /// the held-out reconstruction error falls below a quarter of the error of predicting every window's mean.
    /// </summary>
    [TestMethod]
    [DataRow(RecurrentCell.Lstm)]
    [DataRow(RecurrentCell.Gru)]
    public void ARecurrentAutoencoderLearnsSineWindows(RecurrentCell cell)
    {
        const int steps = 16;
        var train = SineWindows(400, steps, seed: 1);
        var test = SineWindows(100, steps, seed: 2);
        var model = Ml.Transforms.Autoencoder(new AutoencoderOptions
        {
            Body = new RecurrentOptions { Steps = steps, Cell = cell, HiddenSize = 24 },
            HiddenLayerSizes = [], LatentDimension = 2, Epochs = 60, BatchSize = 32, LearningRate = 5e-3, Seed = 4,
        }).Fit(Ml.ToDataView(train));
        try
        {
            var reconstructed = Ml.Data.CreateEnumerable<ReconstructionRow>(model.Transform(Ml.ToDataView(test)), reuseRowObject: false).Select(r => r.Reconstruction).ToArray();
            double mean = test.SelectMany(r => r).Average();
            double baseline = Mse(test, test.Select(r => Enumerable.Repeat((float)mean, steps).ToArray()).ToArray());
            double error = Mse(test, reconstructed);
            Assert.IsLessThan(0.25 * baseline, error, $"{cell}: held-out MSE {error:G4} against {baseline:G4} for the mean ({model.Model.Network.Description})");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>The reconstruction column, read back.</summary>
    public sealed class ReconstructionRow
    {
        /// <summary>The reconstruction.</summary>
        public float[] Reconstruction { get; set; } = [];
    }

    /// <summary>
    /// What the body refuses, each with the option named: no window length, greedy pretraining, the contractive penalty;
    /// and a column whose size is not steps x features fails before training, naming the column and both sizes.
    /// </summary>
    [TestMethod]
    public void WhatTheRecurrentBodyRefusesIsNamed()
    {
        var noSteps = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new AutoencoderOptions { Body = new RecurrentOptions() }.Validate());
        Assert.AreEqual(nameof(RecurrentOptions.Steps), noSteps.ParamName);
        var pretrain = Assert.ThrowsExactly<ArgumentException>(() => new AutoencoderOptions { Body = new RecurrentOptions { Steps = 4 }, PretrainEpochs = 2 }.Validate());
        Assert.AreEqual(nameof(AutoencoderOptions.PretrainEpochs), pretrain.ParamName);
        var contractive = Assert.ThrowsExactly<ArgumentException>(() => new AutoencoderOptions { Body = new RecurrentOptions { Steps = 4 }, Penalties = { new ContractivePenalty() } }.Validate());
        Assert.AreEqual(nameof(AutoencoderOptions.Penalties), contractive.ParamName);

        var estimator = Ml.Transforms.Autoencoder(new AutoencoderOptions { Body = new RecurrentOptions { Steps = 5, Features = 2 }, HiddenLayerSizes = [], Epochs = 1 });
        var wrong = Assert.ThrowsExactly<AutoencoderSchemaException>(() => estimator.Fit(Ml.ToDataView(SineWindows(10, 9, seed: 1))));
        StringAssert.Contains(wrong.Message, "Features");
        StringAssert.Contains(wrong.Message, "10");
    }
}
