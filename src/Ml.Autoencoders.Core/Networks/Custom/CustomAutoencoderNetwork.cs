using Ml.Autoencoders.Networks.Dense;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Custom;

/// <summary>Shape of a custom autoencoder: the user's options (with their factories), the output activation and the dense code.</summary>
internal sealed record CustomNetworkSpec(CustomBodyOptions Custom, Activation OutputActivation, DenseNetworkSpec Core) : IBodySpec
{
    /// <inheritdoc />
    public int InputSize => Custom.InputSize;

    /// <inheritdoc />
    public int LatentDimension => Core.LatentDimension;

    /// <inheritdoc />
    public LatentHead Head => Core.Head;

    /// <inheritdoc />
    public BodyOptions? Options => Custom;

    /// <inheritdoc />
    public CodeLayers Layers => Core.Layers;

    /// <inheritdoc />
    public AutoencoderNetwork Create() => new CustomAutoencoderNetwork(this);

    /// <summary>
    /// The tensors of the network: the user's modules are code, so their names and shapes are read from modules built for
    /// the purpose (under the seeded-draw lock) and disposed; the dense code's are worked out.
    /// </summary>
    public List<(string Name, long[] Shape)> ExpectedTensors()
    {
        lock (SeededNetworks.Lock)
        {
            using var encoder = Custom.CreateEncoder!();
            using var decoder = Custom.CreateDecoder!();
            return encoder.state_dict().Select(t => ("encoder." + t.Key, t.Value.shape))
                .Concat(decoder.state_dict().Select(t => ("decoder." + t.Key, t.Value.shape)))
                .Concat(DenseAutoencoderNetwork.ExpectedTensors(Core, "core."))
                .ToList();
        }
    }
}

/// <summary>
/// The user's encoder, the library's dense code on its output (any <see cref="DenseAutoencoderNetwork"/>, so a Gaussian
/// head and penalties on the code work), the user's decoder and the output activation. Tensor names: "encoder.…" and
/// "decoder.…" (the user's modules' own names), "core.…".
/// </summary>
internal sealed class CustomAutoencoderNetwork : AroundDenseCode
{
    // Field order is state-dict order (CustomNetworkSpec.ExpectedTensors lists the same).
    private readonly nn.Module<Tensor, Tensor> encoder;
    private readonly nn.Module<Tensor, Tensor> decoder;
    private readonly nn.Module<Tensor, Tensor> outputActivation;
    private readonly DenseAutoencoderNetwork core;

    public CustomAutoencoderNetwork(CustomNetworkSpec spec) : base(nameof(CustomAutoencoderNetwork))
    {
        Spec = spec;
        encoder = spec.Custom.CreateEncoder!();
        decoder = spec.Custom.CreateDecoder!();
        outputActivation = Activations.Create(spec.OutputActivation);
        core = new DenseAutoencoderNetwork(spec.Core);
        RegisterComponents();
    }

    public CustomNetworkSpec Spec { get; }

    /// <inheritdoc />
    public override IBodySpec BodySpec => Spec;

    public override int InputSize => Spec.InputSize;

    /// <inheritdoc />
    protected override DenseAutoencoderNetwork Core => core;

    /// <inheritdoc />
    protected override int FeatureSize => Spec.Custom.EncoderOutputSize;

    public override Activation OutputActivation => Spec.OutputActivation;

    public override string Description =>
        $"custom body '{Spec.Custom.Name}' ({Spec.Custom.InputSize} -> {Spec.Custom.EncoderOutputSize} -> {Spec.Custom.InputSize}), dense code {core.Spec}, output {Spec.OutputActivation}";

    protected override Tensor Features(Tensor rows)
    {
        var features = encoder.forward(rows);
        if (features.ndim != 2 || features.shape[1] != Spec.Custom.EncoderOutputSize)
            throw new InvalidOperationException($"The custom body '{Spec.Custom.Name}': its encoder gave shape [{string.Join(", ", features.shape)}]; expected [batch, {Spec.Custom.EncoderOutputSize}].");
        return features;
    }

    protected override Tensor Rows(Tensor features)
    {
        using var scope = NewDisposeScope();
        var rows = outputActivation.forward(decoder.forward(features));
        if (rows.ndim != 2 || rows.shape[1] != Spec.Custom.InputSize)
            throw new InvalidOperationException($"The custom body '{Spec.Custom.Name}': its decoder gave shape [{string.Join(", ", rows.shape)}]; expected [batch, {Spec.Custom.InputSize}].");
        return rows.MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            encoder.Dispose();
            decoder.Dispose();
            outputActivation.Dispose();
            core.Dispose();
        }
        base.Dispose(disposing);
    }
}
