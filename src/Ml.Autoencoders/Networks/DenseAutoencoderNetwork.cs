using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// A dense encoder and its mirrored decoder. Layer names are stable ("encoder.0", ...) because the
/// model file stores weights by name.
/// </summary>
internal sealed class DenseAutoencoderNetwork : nn.Module<Tensor, Tensor>
{
    private readonly Sequential encoder;
    private readonly Sequential decoder;

    public DenseAutoencoderNetwork(DenseNetworkSpec spec) : base(nameof(DenseAutoencoderNetwork))
    {
        spec.Validate();
        Spec = spec;
        var widths = spec.EncoderWidths.ToArray();
        var encoderActivations = spec.HiddenActivations.Append(spec.CodeActivation).ToArray();
        var decoderActivations = spec.HiddenActivations.Reverse().Append(spec.OutputActivation).ToArray();

        encoder = Stack(widths, encoderActivations);
        decoder = Stack(widths.Reverse().ToArray(), decoderActivations);
        RegisterComponents();
    }

    public DenseNetworkSpec Spec { get; }

    public Tensor Encode(Tensor input) => encoder.forward(input);

    public Tensor Decode(Tensor code) => decoder.forward(code);

    public override Tensor forward(Tensor input)
    {
        using var code = encoder.forward(input);
        return decoder.forward(code);
    }

    private static Sequential Stack(int[] widths, Activation[] activations)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            layers.Add(($"linear{i}", nn.Linear(widths[i], widths[i + 1])));
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
        }
        base.Dispose(disposing);
    }
}
