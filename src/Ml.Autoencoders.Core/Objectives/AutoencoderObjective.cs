using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// The objective every autoencoder variant trains: corrupt the input (training only), encode, sample a Gaussian
/// code (VAE), decode, compare with the clean input, add β·KL and each penalty times its weight.
/// </summary>
internal sealed class AutoencoderObjective : ITrainingObjective, IDisposable
{
    private readonly AutoencoderNetwork network;
    private readonly ObjectiveSettings settings;
    private readonly Generator trainGenerator;
    private readonly Generator evaluationGenerator;
    private readonly bool trace;

    public AutoencoderObjective(AutoencoderNetwork network, ObjectiveSettings settings, int seed, Device device)
    {
        this.network = network;
        this.settings = settings;
        Seed = (ulong)(uint)seed;
        trainGenerator = NewGenerator(Seed, device);
        evaluationGenerator = NewGenerator((ulong)EvaluationSeed, device);
        trace = settings.Penalties.Any(p => p.NeedsTrace);
        var names = new List<string> { "reconstruction" };
        if (network.IsGaussian) names.Add("kl");
        names.AddRange(settings.Penalties.Select(p => p.Name));
        TermNames = names.Count > 1 ? names : Array.Empty<string>();
    }

    private ulong Seed { get; }

    private long EvaluationSeed => (long)(Seed ^ 0x5DEECE66DUL);

    public nn.Module<Tensor, Tensor> Module => network;

    public IReadOnlyList<string> TermNames { get; }

    public byte[] RandomState
    {
        get
        {
            using var state = trainGenerator.get_state();
            return Runtime.TensorSpans.ToArray<byte>(state);
        }
        set
        {
            using var expected = trainGenerator.get_state();
            if (value.Length != expected.numel())
                throw new Persistence.AutoencoderModelFormatException($"the random state holds {value.Length} bytes; this generator's state has {expected.numel()}.");
            using var state = tensor(value, dtype: ScalarType.Byte);
            trainGenerator.set_state(state);
        }
    }

    /// <summary>Every parameter of the network, at the run's learning rate.</summary>
    public IReadOnlyList<(IEnumerable<TorchSharp.Modules.Parameter> Parameters, double LearningRate)> ParameterGroups(double learningRate) =>
        [(network.parameters(), learningRate)];

    /// <summary>Nothing changes between epochs but the schedules, which <see cref="Loss"/> reads from the epoch.</summary>
    public void BeginEpoch(int epoch)
    {
    }

    public void BeginEvaluation()
    {
        evaluationGenerator.manual_seed(EvaluationSeed);
    }

    public Tensor Loss(TrainingBatch batch, int epoch, bool training, List<Tensor>? terms)
    {
        var clean = batch.Features; // an autoencoder learns from the features alone; labels, if any, are not read
        var input = training && settings.Corruption is { } corruption ? corruption.Apply(clean, trainGenerator) : clean;
        var generator = network.IsGaussian ? (training ? trainGenerator : evaluationGenerator) : null;
        var pass = network.Forward(input, generator, trace);
        var loss = network.OwnReconstructionLoss(pass, sumPerRow: network.IsGaussian)
            ?? ReconstructionLosses.Compute(settings.Loss, pass.Reconstruction, clean, sumPerRow: network.IsGaussian);
        terms?.Add(loss);
        if (pass.Mean is { } mean && pass.LogVariance is { } logVariance)
        {
            var kl = KlDivergence.FromStandardNormal(mean, logVariance);
            terms?.Add(kl);
            double beta = training ? KlDivergence.WeightAt(settings.KlWeight, settings.KlWarmupEpochs, epoch) : settings.KlWeight;
            using var alpha = beta.ToScalar(); // alive through the native call (see Scalars)
            loss = loss.add(kl, alpha: alpha);
        }
        foreach (var penalty in settings.Penalties)
        {
            var value = penalty.Compute(pass, network);
            terms?.Add(value);
            using var weight = penalty.Weight.ToScalar();
            loss = loss.add(value, alpha: weight);
        }
        return loss;
    }

    private static Generator NewGenerator(ulong seed, Device device) =>
        device.type == TorchSharp.DeviceType.CPU ? new Generator(seed) : new Generator(seed, device);

    public void Dispose()
    {
        trainGenerator.Dispose();
        evaluationGenerator.Dispose();
    }
}

/// <summary>The parts of the objective, already validated by the options that built them.</summary>
internal sealed record ObjectiveSettings
{
    public ReconstructionLoss Loss { get; init; }
    public InputCorruption? Corruption { get; init; }
    public double KlWeight { get; init; } = 1;
    public int KlWarmupEpochs { get; init; }
    public IReadOnlyList<AutoencoderPenalty> Penalties { get; init; } = Array.Empty<AutoencoderPenalty>();
}
