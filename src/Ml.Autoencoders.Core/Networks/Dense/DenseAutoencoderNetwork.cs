using Ml.Autoencoders.Data;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Dense;

/// <summary>
/// A dense encoder, its latent head and the mirrored decoder. Layer names are stable ("encoder.linear0", ...,
/// "mean", "log_variance", "decoder.linear0", ...) because the model file stores weights by name.
/// </summary>
internal sealed class DenseAutoencoderNetwork : AutoencoderNetwork, IDenseLayers, ILayerwisePretraining
{
    /// <inheritdoc />
    public IReadOnlyList<TrainingHistory> PretrainLayerwise(ITrainingData train, ITrainingData? validation, ObjectiveSettings objective,
        TrainingSettings settings, Func<IBodySpec, int, AutoencoderNetwork> createStage, Device device) =>
        GreedyPretraining.Run(this, train, validation, objective, settings, createStage, device);

    private readonly Sequential encoder;  // hidden layers, and the code layer for a deterministic head
    private readonly Sequential decoder;
#pragma warning disable IDE1006 // field names are the state-dict names
    private readonly Linear? mean, log_variance;
#pragma warning restore IDE1006
    private readonly (Linear Linear, Activation Activation)[] encoderLayers; // the same modules, for the Jacobian
    private readonly (nn.Module<Tensor, Tensor> Layer, Activation Activation)[] decoderLayers; // the same modules, for ONNX export

    public DenseAutoencoderNetwork(DenseNetworkSpec spec) : base(nameof(DenseAutoencoderNetwork))
    {
        spec.Validate();
        Spec = spec;
        var widths = spec.EncoderWidths.ToArray();
        bool gaussian = spec.Head == LatentHead.Gaussian;
        var encoderWidths = gaussian ? widths[..^1] : widths;
        var encoderActivations = gaussian ? spec.HiddenActivations : spec.HiddenActivations.Append(spec.CodeActivation).ToArray();
        var decoderActivations = spec.HiddenActivations.Reverse().Append(spec.OutputActivation).ToArray();

        var linears = new List<Linear>();
        encoder = Stack(encoderWidths, encoderActivations, i =>
        {
            var layer = nn.Linear(encoderWidths[i], encoderWidths[i + 1]);
            linears.Add(layer);
            return layer;
        });
        if (gaussian)
        {
            mean = nn.Linear(widths[^2], spec.LatentDimension);
            log_variance = nn.Linear(widths[^2], spec.LatentDimension);
            linears.Add(mean);
        }
        encoderLayers = linears.Zip(encoderActivations.Append(Activation.Linear), (l, a) => (l, a)).ToArray();

        var decoderWidths = widths.Reverse().ToArray();
        var decoderModules = new List<nn.Module<Tensor, Tensor>>();
        decoder = Stack(decoderWidths, decoderActivations, i =>
        {
            nn.Module<Tensor, Tensor> layer = spec.TiedWeights
                ? new TiedLinear(linears[linears.Count - 1 - i])
                : nn.Linear(decoderWidths[i], decoderWidths[i + 1]);
            decoderModules.Add(layer);
            return layer;
        });
        decoderLayers = decoderModules.Zip(decoderActivations, (l, a) => (l, a)).ToArray();
        RegisterComponents();
    }

    public DenseNetworkSpec Spec { get; }

    /// <inheritdoc />
    public override IBodySpec BodySpec => Spec;

    /// <summary>
    /// The state-dict entries (name and shape, in state-dict order) a network of <paramref name="spec"/> has, worked
    /// out without allocating anything: the model file checks its tensor table against this before building a network.
    /// Names carry <paramref name="prefix"/> (e.g. "core." inside a convolutional body).
    /// </summary>
    internal static List<(string Name, long[] Shape)> ExpectedTensors(DenseNetworkSpec spec, string prefix = "")
    {
        var widths = spec.EncoderWidths.ToArray();
        bool gaussian = spec.Head == LatentHead.Gaussian;
        var encoderWidths = gaussian ? widths[..^1] : widths;
        var decoderWidths = widths.Reverse().ToArray();
        var tensors = new List<(string, long[])>();
        for (int i = 0; i + 1 < encoderWidths.Length; i++)
        {
            tensors.Add(($"{prefix}encoder.linear{i}.weight", new long[] { encoderWidths[i + 1], encoderWidths[i] }));
            tensors.Add(($"{prefix}encoder.linear{i}.bias", new long[] { encoderWidths[i + 1] }));
        }
        for (int i = 0; i + 1 < decoderWidths.Length; i++)
        {
            if (!spec.TiedWeights) tensors.Add(($"{prefix}decoder.linear{i}.weight", new long[] { decoderWidths[i + 1], decoderWidths[i] }));
            tensors.Add(($"{prefix}decoder.linear{i}.bias", new long[] { decoderWidths[i + 1] }));
        }
        if (gaussian)
            foreach (var head in new[] { "mean", "log_variance" })
            {
                tensors.Add(($"{prefix}{head}.weight", new long[] { spec.LatentDimension, widths[^2] }));
                tensors.Add(($"{prefix}{head}.bias", new long[] { spec.LatentDimension }));
            }
        return tensors;
    }

    public override int InputSize => Spec.InputSize;

    public override int LatentDimension => Spec.LatentDimension;

    public override LatentHead Head => Spec.Head;

    public override Activation OutputActivation => Spec.OutputActivation;

    public override string Description => Spec.ToString();

    public override Tensor Encode(Tensor input)
    {
        if (mean is null) return Run(encoderLayers, input);
        using var hidden = Run(encoderLayers.AsSpan(0, encoderLayers.Length - 1), input);
        return Apply(mean, hidden);
    }

    public override (Tensor Mean, Tensor LogVariance) EncodeDistribution(Tensor input)
    {
        if (mean is null || log_variance is null) throw NotVariational();
        using var hidden = Run(encoderLayers.AsSpan(0, encoderLayers.Length - 1), input);
        return (Apply(mean, hidden), Apply(log_variance, hidden));
    }

    public override Tensor Decode(Tensor code)
    {
        var h = code;
        foreach (var (layer, activation) in decoderLayers)
        {
            var next = Step(layer, activation, h);
            if (!ReferenceEquals(h, code)) h.Dispose();
            h = next;
        }
        return ReferenceEquals(h, code) ? code.alias() : h;
    }

    /// <summary>
    /// The layers' modules hold the weights (and the state-dict names); their products run through
    /// <see cref="DenseKernels"/>, which uses the library's own kernels where they apply and libtorch's elsewhere.
    /// </summary>
    private static Tensor Apply(Linear linear, Tensor input) => DenseKernels.Linear(input, linear.weight!, linear.bias);

    private static Tensor Step(nn.Module<Tensor, Tensor> layer, Activation activation, Tensor input)
    {
        var a = layer is Linear linear ? Apply(linear, input) : layer.forward(input);
        if (activation == Activation.Linear) return a;
        using (a) return Activations.Apply(activation, a);
    }

    private static Tensor Run(ReadOnlySpan<(Linear Linear, Activation Activation)> layers, Tensor input)
    {
        var h = input;
        foreach (var (linear, activation) in layers)
        {
            var next = Step(linear, activation, h);
            if (!ReferenceEquals(h, input)) h.Dispose();
            h = next;
        }
        return ReferenceEquals(h, input) ? input.alias() : h;
    }

    /// <summary>Records each encoder layer's pre-activation when <paramref name="trace"/> is set (the contractive penalty's Jacobian).</summary>
    public override ForwardPass Forward(Tensor input, Generator? generator, bool trace)
    {
        var preActivations = trace ? new List<Tensor>(encoderLayers.Length) : null;
        var h = input;
        int hiddenLayers = mean is null ? encoderLayers.Length : encoderLayers.Length - 1;
        for (int i = 0; i < hiddenLayers; i++)
        {
            var (linear, activation) = encoderLayers[i];
            var a = Apply(linear, h);
            preActivations?.Add(a);
            h = Activations.Apply(activation, a);
        }
        if (mean is null)
        {
            var reconstruction = Decode(h);
            return new ForwardPass(input, h, null, null, reconstruction, preActivations);
        }
        var mu = Apply(mean, h);
        preActivations?.Add(mu);
        var logVariance = Apply(log_variance!, h);
        var z = generator is null ? mu : mu.add(logVariance.mul(Scalars.Half).exp().mul(empty_like(mu).normal_(0, 1, generator)), Scalars.One);
        return new ForwardPass(input, z, mu, logVariance, Decode(z), preActivations);
    }

    /// <summary>Encoder layers from the input to the code (the mean for a Gaussian head), with their activations.</summary>
    public IReadOnlyList<(Linear Linear, Activation Activation)> EncoderLayers => encoderLayers;

    /// <summary>The log-variance layer of a Gaussian head (it reads the last hidden layer, like the mean); null otherwise.</summary>
    public Linear? LogVarianceLayer => log_variance;

    /// <summary>Decoder layers from the code to the reconstruction (each a <see cref="Linear"/> or a <see cref="TiedLinear"/>), with their activations.</summary>
    public IReadOnlyList<(nn.Module<Tensor, Tensor> Layer, Activation Activation)> DecoderLayers => decoderLayers;

    private static Sequential Stack(int[] widths, Activation[] activations, Func<int, nn.Module<Tensor, Tensor>> layer)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            layers.Add(($"linear{i}", layer(i)));
            if (activations[i] != Activation.Linear)
                layers.Add(($"act{i}", Activations.Create(activations[i])));
        }
        return nn.Sequential(layers);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            encoder.Dispose();
            decoder.Dispose();
            mean?.Dispose();
            log_variance?.Dispose();
        }
        base.Dispose(disposing);
    }
}
