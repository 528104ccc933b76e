using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The sparsity and contractive penalties: their values against hand-computed numbers and autograd, their weight in
/// the objective, and their effect on a trained network against the same network and seed without them.
/// </summary>
[TestClass]
public sealed class PenaltyTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>L1 sparsity is Σ|code| per row averaged over rows; KL sparsity is Σ_j KL(ρ ‖ ρ̂_j) over the batch means ρ̂ (hand-computed numbers).</summary>
    [TestMethod]
    public void SparsityPenaltyEqualsItsFormula()
    {
        using var scope = NewDisposeScope();
        var l1Code = tensor(new float[] { 0.1f, -0.5f, 0.3f, 0f }, new long[] { 2, 2 });
        var l1 = new SparsityPenalty { Kind = SparsityKind.L1 }.Compute(Pass(l1Code), null!).item<float>();
        Assert.AreEqual(0.45f, l1, 1e-6f, "(0.1 + 0.5 + 0.3 + 0) / 2 rows");

        // ρ̂ = (0.2, 0.25); ρ = 0.05: 0.05·ln(0.05/0.2) + 0.95·ln(0.95/0.8) + 0.05·ln(0.05/0.25) + 0.95·ln(0.95/0.75).
        var klCode = tensor(new float[] { 0.1f, 0.5f, 0.3f, 0f }, new long[] { 2, 2 });
        var kl = new SparsityPenalty { Kind = SparsityKind.KlDivergence, TargetActivation = 0.05 }.Compute(Pass(klCode), null!).item<float>();
        Assert.AreEqual(0.2380405f, kl, 1e-5f);
        var atTarget = new SparsityPenalty { Kind = SparsityKind.KlDivergence, TargetActivation = 0.05 }.Compute(Pass(full(new long[] { 3, 4 }, 0.05f)), null!).item<float>();
        Assert.AreEqual(0f, atTarget, 1e-6f, "no penalty when every unit's mean activation is the target");
    }

    private static ForwardPass Pass(Tensor code) => new(code, code, null, null, code, null);

    /// <summary>Encoders whose Jacobian the closed form is checked on: every activation at every depth, both heads.</summary>
    public static IEnumerable<object[]> Encoders => new[]
    {
        new object[] { new[] { Activation.LeakyReLU, Activation.SELU }, Activation.Tanh, LatentHead.Deterministic },
        new object[] { new[] { Activation.Sigmoid, Activation.GELU }, Activation.ReLU, LatentHead.Deterministic },
        new object[] { new[] { Activation.Linear, Activation.ReLU }, Activation.Sigmoid, LatentHead.Deterministic },
        new object[] { new[] { Activation.GELU, Activation.Tanh }, Activation.LeakyReLU, LatentHead.Deterministic },
        new object[] { new[] { Activation.SELU, Activation.Linear }, Activation.GELU, LatentHead.Deterministic },
        new object[] { new[] { Activation.Tanh, Activation.Sigmoid }, Activation.SELU, LatentHead.Deterministic },
        new object[] { new[] { Activation.ReLU, Activation.LeakyReLU }, Activation.Linear, LatentHead.Deterministic },
        new object[] { new[] { Activation.Linear, Activation.Linear }, Activation.Linear, LatentHead.Deterministic },
        new object[] { new[] { Activation.SELU, Activation.GELU }, Activation.Linear, LatentHead.Gaussian },
        new object[] { new[] { Activation.Linear }, Activation.Linear, LatentHead.Gaussian },
        new object[] { Array.Empty<Activation>(), Activation.Linear, LatentHead.Gaussian },
        new object[] { Array.Empty<Activation>(), Activation.Linear, LatentHead.Deterministic },
        new object[] { Array.Empty<Activation>(), Activation.ReLU, LatentHead.Deterministic },
        new object[] { Array.Empty<Activation>(), Activation.LeakyReLU, LatentHead.Deterministic },
        new object[] { Array.Empty<Activation>(), Activation.SELU, LatentHead.Deterministic },
        new object[] { Array.Empty<Activation>(), Activation.Tanh, LatentHead.Deterministic },
        new object[] { Array.Empty<Activation>(), Activation.Sigmoid, LatentHead.Deterministic },
        new object[] { Array.Empty<Activation>(), Activation.GELU, LatentHead.Deterministic },
    };

    /// <summary>
    /// The closed-form ‖∂code/∂x‖²_F (averaged over rows) equals the Jacobian that autograd computes through the
    /// encoder's modules, one code unit at a time, on a random encoder and random rows.
    /// </summary>
    [TestMethod]
    [DynamicData(nameof(Encoders))]
    public void ContractivePenaltyEqualsTheAutogradJacobian(Activation[] hidden, Activation code, LatentHead head)
    {
        int[] widths = new[] { 6, 5 }.Take(hidden.Length).ToArray();
        var spec = new DenseNetworkSpec(9, widths, hidden, 4, code, Activation.Sigmoid, head);
        using var network = TestNetworks.Create(spec, 17, CPU);
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 7, 9 }, generator: new Generator(3));

        var pass = network.Forward(x, null, trace: true);
        double closedForm = ContractivePenalty.JacobianNormSquared(network.EncoderLayers, pass.PreActivations!).item<float>();
        double viaPenalty = new ContractivePenalty().Compute(pass, network).item<float>();

        var input = x.detach().clone().requires_grad_(true);
        var encoded = network.Encode(input);
        double autograd = 0;
        for (int j = 0; j < 4; j++)
        {
            var gradient = torch.autograd.grad(new[] { encoded.select(1, j).sum() }, new[] { input }, retain_graph: true)[0];
            autograd += gradient.square().sum().item<float>();
        }
        autograd /= 7;

        Assert.IsTrue(autograd > 1e-4, $"the Jacobian must not vanish for the check to mean anything: {autograd}");
        Assert.AreEqual(autograd, closedForm, 1e-4 * autograd, $"{spec}: closed form vs autograd");
        Assert.AreEqual(closedForm, viaPenalty, 1e-6 * closedForm, "the penalty is the closed form");
    }

    /// <summary>
    /// The training loss of every epoch is the reconstruction plus each penalty times its weight, in training and in
    /// validation: the weights are applied as given.
    /// </summary>
    [TestMethod]
    public void TrainingLossIsReconstructionPlusWeightedPenalties()
    {
        var options = new AutoencoderOptions
        {
            LatentDimension = 3,
            HiddenLayerSizes = new[] { 6 },
            CodeActivation = Activation.Sigmoid,
            Penalties = { new SparsityPenalty { Kind = SparsityKind.KlDivergence, Weight = 0.3 }, new ContractivePenalty { Weight = 0.02 } },
            Epochs = 3,
            BatchSize = 32,
            ValidationFraction = 0.25,
        };
        var model = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Synthetic.LowRank(160, 8, 2)));
        foreach (var e in model.History.Epochs)
        {
            CollectionAssert.AreEquivalent(new[] { "reconstruction", "sparsity", "contractive" }, e.Terms.Keys.ToArray());
            double train = e.Terms["reconstruction"] + 0.3 * e.Terms["sparsity"] + 0.02 * e.Terms["contractive"];
            Assert.AreEqual(train, e.TrainLoss, 1e-5 * train, $"epoch {e.Epoch}: training loss");
            double validation = e.ValidationTerms["reconstruction"] + 0.3 * e.ValidationTerms["sparsity"] + 0.02 * e.ValidationTerms["contractive"];
            Assert.AreEqual(validation, e.ValidationLoss!.Value, 1e-5 * validation, $"epoch {e.Epoch}: validation loss");
            Assert.IsTrue(e.Terms["sparsity"] > 0.01 && e.Terms["contractive"] > 1e-3, "both penalties are non-trivial");
        }
        model.Model.Dispose();
    }

    private static (AutoencoderTransformer With, AutoencoderTransformer Without) FitWithAndWithout(AutoencoderOptions options, float[][] rows)
    {
        var without = options.Clone();
        without.Penalties.Clear();
        var data = Ml.ToDataView(rows);
        return (Ml.Transforms.Autoencoder(options).Fit(data), Ml.Transforms.Autoencoder(without).Fit(data));
    }

    private static double Error(AutoencoderTransformer model, float[][] rows) =>
        model.Transform(Ml.ToDataView(rows)).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(v => (double)v);

    /// <summary>Mean per-feature variance: the error of the best constant reconstruction.</summary>
    private static double Variance(float[][] rows) => Enumerable.Range(0, rows[0].Length).Average(j =>
    {
        double mean = rows.Average(r => (double)r[j]);
        return rows.Average(r => (r[j] - mean) * (r[j] - mean));
    });

    private static double MeanActivation(AutoencoderModel model, float[][] rows) =>
        model.Encode(rows).SelectMany(c => c).Average(v => (double)Math.Abs(v));

    /// <summary>An L1 penalty on a ReLU code lowers the mean code activation well below the same network and seed without it.</summary>
    [TestMethod]
    public void L1SparsityLowersTheMeanCodeActivation()
    {
        var rows = Synthetic.LowRank(256, 12, 3, seed: 2);
        var options = AutoencoderPresets.Sparse(latentDimension: 8, kind: SparsityKind.L1, weight: 1e-3);
        options.HiddenLayerSizes = new[] { 16 };
        options.Epochs = 25;
        options.BatchSize = 32;
        options.LearningRate = 1e-2;
        options.Seed = 4;
        Assert.AreEqual(Activation.ReLU, options.CodeActivation);
        var (with, without) = FitWithAndWithout(options, rows);
        double sparse = MeanActivation(with.Model, rows), dense = MeanActivation(without.Model, rows);
        Assert.IsTrue(sparse < 0.5 * dense, $"mean |code| with L1 {sparse}, without {dense}");
        Assert.IsTrue(Error(with, rows) < 0.3 * Variance(rows), "the sparse code still encodes the rows");
        with.Model.Dispose();
        without.Model.Dispose();
    }

    /// <summary>KL sparsity on a sigmoid code pulls each unit's mean activation towards ρ = 0.05; without it they stay far away.</summary>
    [TestMethod]
    public void KlSparsityPullsTheMeanActivationTowardsTheTarget()
    {
        var rows = Synthetic.LowRank(256, 12, 3, seed: 2);
        var options = AutoencoderPresets.Sparse(latentDimension: 8, kind: SparsityKind.KlDivergence, weight: 1e-3, targetActivation: 0.05);
        options.HiddenLayerSizes = new[] { 16 };
        options.Epochs = 25;
        options.BatchSize = 32;
        options.LearningRate = 1e-2;
        options.Seed = 4;
        Assert.AreEqual(Activation.Sigmoid, options.CodeActivation);
        var (with, without) = FitWithAndWithout(options, rows);
        double sparse = MeanActivation(with.Model, rows), dense = MeanActivation(without.Model, rows);
        Assert.IsTrue(Math.Abs(sparse - 0.05) < 0.3 * Math.Abs(dense - 0.05), $"mean activation with KL {sparse}, without {dense}, target 0.05");
        Assert.IsTrue(Error(with, rows) < 0.6 * Variance(rows), "the sparse code still encodes the rows (no collapse to a constant)");
        with.Model.Dispose();
        without.Model.Dispose();
    }

    /// <summary>The contractive penalty lowers the encoder's measured Jacobian norm on the training rows, against the same network and seed without it.</summary>
    [TestMethod]
    public void ContractivePenaltyLowersTheJacobianNorm()
    {
        var rows = Synthetic.LowRank(256, 12, 3, seed: 2);
        var options = AutoencoderPresets.Contractive(latentDimension: 3, weight: 5e-3);
        options.HiddenLayerSizes = new[] { 16 };
        options.HiddenActivation = Activation.Tanh;
        options.Epochs = 25;
        options.BatchSize = 32;
        options.LearningRate = 1e-2;
        options.Seed = 4;
        var (with, without) = FitWithAndWithout(options, rows);
        double contracted = JacobianNorm(with.Model, rows), free = JacobianNorm(without.Model, rows);
        Assert.IsTrue(contracted < 0.2 * free, $"‖J‖² with the penalty {contracted}, without {free}");
        Assert.IsTrue(Error(with, rows) < 0.5 * Variance(rows), "the contracted encoder still encodes the rows (not a constant map)");
        with.Model.Dispose();
        without.Model.Dispose();
    }

    private static double JacobianNorm(AutoencoderModel model, float[][] rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var pass = model.Network.Forward(tensor(Synthetic.Flatten(rows), new long[] { rows.Length, rows[0].Length }), null, trace: true);
        return ContractivePenalty.JacobianNormSquared(((DenseAutoencoderNetwork)model.Network).EncoderLayers, pass.PreActivations!).item<float>();
    }
}
