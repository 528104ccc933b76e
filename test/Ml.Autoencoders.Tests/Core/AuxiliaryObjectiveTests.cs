using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The auxiliary reconstruction kept beside the cross-entropy while fine-tuning: it reaches the decoder (which the
/// cross-entropy alone never does) and the encoder, it is added as weight ÷ scale times its loss, the decoder trains at
/// the encoder's rate and freezes with it, and without it the loss is the cross-entropy alone.
/// </summary>
[TestClass]
public sealed class AuxiliaryObjectiveTests
{
    private static readonly DenseNetworkSpec Spec = new(12, [8], [Activation.LeakyReLU], 3, Activation.Linear, Activation.Sigmoid, LatentHead.Deterministic, false);

    /// <summary>A seeded autoencoder with a 4-class head, and one labelled batch of 6 rows in [0, 1].</summary>
    private sealed class Setup : IDisposable
    {
        public Setup()
        {
            Autoencoder = TestNetworks.Create(Spec, 1, CPU);
            random.manual_seed(2);
            Network = new EncoderClassifierNetwork(Autoencoder, 4, 0);
            EncoderParameters = EncoderClassifierNetwork.EncoderParameters(Autoencoder, CPU);
            var encoderSet = new HashSet<Parameter>(EncoderParameters, ReferenceEqualityComparer.Instance);
            DecoderParameters = Autoencoder.parameters().Where(p => !encoderSet.Contains(p)).ToList();
            Reconstruction = new AutoencoderObjective(Autoencoder, new ObjectiveSettings { Loss = ReconstructionLoss.MeanSquaredError }, 3, CPU);
            var generator = new TorchSharp.torch.Generator(4);
            Features = rand(6, 12, generator: generator);
            Labels = tensor(new long[] { 0, 1, 2, 3, 0, 1 });
        }

        public DenseAutoencoderNetwork Autoencoder { get; }
        public EncoderClassifierNetwork Network { get; }
        public IReadOnlyList<Parameter> EncoderParameters { get; }
        public IReadOnlyList<Parameter> DecoderParameters { get; }
        public AutoencoderObjective Reconstruction { get; }
        public Tensor Features { get; }
        public Tensor Labels { get; }

        public ClassificationObjective Objective(double weight, double scale = 1, int freezeEncoderEpochs = 0) =>
            new(Network, Autoencoder, EncoderParameters, Network.Head.parameters().ToList(), 1e-4, freezeEncoderEpochs, false,
                weight > 0 ? new AuxiliaryObjective(Reconstruction, DecoderParameters, weight, scale) : null);

        /// <summary>The loss of the batch, and each parameter's gradient after its backward pass (null where none reached it).</summary>
        public (float Loss, Dictionary<Parameter, float[]?> Gradients) Step(ClassificationObjective objective, List<Tensor>? terms = null)
        {
            foreach (var p in Network.parameters()) p.grad = null;
            Network.train();
            objective.BeginEpoch(0);
            using var loss = objective.Loss(new TrainingBatch(Features, Labels), 0, training: true, terms);
            loss.backward();
            var gradients = Network.parameters().ToDictionary(p => p, p => p.grad?.data<float>().ToArray(), (IEqualityComparer<Parameter>)ReferenceEqualityComparer.Instance);
            return (loss.item<float>(), gradients);
        }

        public void Dispose()
        {
            Reconstruction.Dispose();
            Network.Dispose();
            Features.Dispose();
            Labels.Dispose();
        }
    }

    /// <summary>
    /// Without the auxiliary term no gradient reaches the decoder and the loss is exactly the cross-entropy; with it every
    /// decoder tensor gets a non-zero gradient and the encoder's gradients change.
    /// </summary>
    [TestMethod]
    public void TheAuxiliaryReconstructionChangesTheGradientsOfTheDecoderAndTheEncoder()
    {
        using var s = new Setup();
        Assert.AreEqual(s.Autoencoder.parameters().Count(), s.EncoderParameters.Count + s.DecoderParameters.Count, "encoder and decoder share no tensor");
        Assert.IsTrue(s.DecoderParameters.Count > 0);

        var (plain, without) = s.Step(s.Objective(0));
        using (var logits = s.Network.forward(s.Features))
        using (var crossEntropy = nn.functional.cross_entropy(logits, s.Labels))
            Assert.AreEqual(crossEntropy.item<float>(), plain, "no auxiliary: the cross-entropy alone, bit for bit");
        Assert.IsTrue(s.DecoderParameters.All(p => without[p] is null), "the cross-entropy alone never reaches the decoder");

        var terms = new List<Tensor>();
        var (combined, with) = s.Step(s.Objective(0.5, scale: 0.25), terms);
        Assert.IsTrue(s.DecoderParameters.All(p => with[p] is { } g && g.Any(v => v != 0)), "every decoder tensor gets a gradient");
        Assert.IsTrue(s.EncoderParameters.Any(p => !with[p]!.SequenceEqual(without[p]!)), "the encoder's gradients change");
        Assert.AreEqual(2, terms.Count, "cross-entropy and reconstruction are reported");
        Assert.AreEqual(plain, terms[0].item<float>(), "the first term is the cross-entropy");
        Assert.AreEqual(terms[0].item<float>() + 0.5 / 0.25 * terms[1].item<float>(), combined, 1e-5, "loss = cross-entropy + weight / scale x reconstruction");
    }

    /// <summary>The decoder trains at the encoder's rate, and freezes with the encoder: while it is frozen only the head gets gradients.</summary>
    [TestMethod]
    public void TheDecoderTrainsAtTheEncodersRateAndFreezesWithIt()
    {
        using var s = new Setup();
        var objective = s.Objective(1, freezeEncoderEpochs: 1);
        var groups = objective.ParameterGroups(1e-2);
        Assert.AreEqual(3, groups.Count);
        Assert.AreEqual(1e-4, groups[2].LearningRate, "the decoder at the encoder's rate");
        Assert.AreEqual(s.DecoderParameters.Count, groups[2].Parameters.Count());

        var (_, frozen) = s.Step(objective);
        Assert.IsTrue(s.EncoderParameters.Concat(s.DecoderParameters).All(p => frozen[p] is null), "frozen epoch: nothing but the head");
        Assert.IsTrue(s.Network.Head.parameters().All(p => frozen[p] is not null), "the head trains");
        objective.ThawEncoder();
        Assert.IsTrue(s.DecoderParameters.All(p => p.requires_grad), "ThawEncoder thaws the decoder too");
    }
}
