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
    /// The library's LSTM (<see cref="Lstm.Run(TorchSharp.Modules.LSTM, TorchSharp.torch.Tensor)"/>) computes libtorch's LSTM function on both of its paths, with
    /// gradients recorded (libtorch's fused kernel: forward and backward) and without (the step-by-step products and
    /// gates, used because libtorch's float32 inference kernel is wrong on some CPUs): against libtorch's float64 LSTM
    /// with the same weights, every step's output and the last layer's final states, and with gradients recorded the
    /// input and parameter gradients; stacked and bidirectional, 48 steps, batch sizes 1 to 256, one and two threads.
    /// A single row gives the same output alone as in a batch.
    /// </summary>
    [TestMethod]
    [DataRow(1, 32, 1, false)]
    [DataRow(3, 5, 2, true)]
    [DataRow(4, 8, 2, true)]
    [DataRow(32, 32, 1, false)]
    public void TheLibrarysLstmIsLibtorchsLstmFunction(int features, int hidden, int layers, bool bidirectional)
    {
        const int steps = 48;
        int directions = bidirectional ? 2 : 1, before = get_num_threads();
        var failures = new List<string>();
        void Check(string what, Tensor actual, Tensor expected)
        {
            double error = (actual.to(ScalarType.Float64) - expected).abs().max().item<double>();
            double scale = Math.Max(1.0, expected.abs().max().item<double>());
            if (!(error <= 1e-5 * scale)) failures.Add($"{what}: error {error:g3} (scale {scale:g3})");
        }
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                set_num_threads(threads);
                foreach (int batch in new[] { 1, 3, 64, 256 })
                {
                    using var scope = NewDisposeScope();
                    string at = $"{layers}x{hidden} {(bidirectional ? "bidirectional " : "")}batch {batch}, {threads} thread(s)";
                    manual_seed(batch);
                    using var ours = Lstm.Create(features, hidden, layers, bidirectional);
                    using var reference = nn.LSTM(features, hidden, layers, batchFirst: true, bidirectional: bidirectional);
                    reference.to(ScalarType.Float64);
                    var theirs = reference.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                    using (no_grad())
                        foreach (var (name, p) in ours.named_parameters())
                            theirs[name].copy_(p.to(ScalarType.Float64));
                    var x64 = randn(new long[] { batch, steps, features }, dtype: ScalarType.Float64);
                    var x32 = x64.to(ScalarType.Float32).requires_grad_();
                    x64.requires_grad_();
                    var (referenceOutput, referenceFinal, _) = reference.forward(x64, null);
                    var referenceLast = referenceFinal[TensorIndex.Slice(-directions)];

                    // Gradients recorded: libtorch's fused kernel, forward and backward.
                    var (output, final) = Lstm.Run(ours, x32);
                    Check($"{at}, training: every step's output", output, referenceOutput);
                    Check($"{at}, training: final states", final[TensorIndex.Slice(-directions)], referenceLast);
                    var g = randn_like(referenceOutput);
                    var gh = randn_like(referenceLast);
                    ((output * g.to(ScalarType.Float32)).sum() + (final[TensorIndex.Slice(-directions)] * gh.to(ScalarType.Float32)).sum()).backward();
                    ((referenceOutput * g).sum() + (referenceLast * gh).sum()).backward();
                    Check($"{at}: input gradient", x32.grad!, x64.grad!);
                    foreach (var (name, p) in ours.named_parameters()) Check($"{at}: {name} gradient", p.grad!, theirs[name].grad!);

                    // Not recorded: the step-by-step path; and a row alone as in the batch.
                    using (no_grad())
                    {
                        var (scored, scoredFinal) = Lstm.Run(ours, x32.detach());
                        Check($"{at}, no_grad: every step's output", scored, referenceOutput);
                        Check($"{at}, no_grad: final states", scoredFinal[TensorIndex.Slice(-directions)], referenceLast);
                        var (alone, _) = Lstm.Run(ours, x32.detach()[^1..]);
                        double d = (alone - scored[^1..]).abs().max().item<float>();
                        if (!(d <= 1e-5)) failures.Add($"{at}, no_grad: the last row alone differs from in the batch by {d:g3}");
                    }
                }
            }
        }
        finally { set_num_threads(before); }
        if (failures.Count > 0) Assert.Fail(string.Join("\n", failures.Take(40)));
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
