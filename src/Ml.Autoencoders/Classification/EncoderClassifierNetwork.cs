using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Classification;

/// <summary>A pretrained autoencoder's encoder with a classification head: logits = Linear(Dropout(Encode(x))).</summary>
internal sealed class EncoderClassifierNetwork : nn.Module<Tensor, Tensor>
{
    private readonly AutoencoderNetwork autoencoder;
    private readonly Dropout dropout;
    private readonly Linear head;

    public EncoderClassifierNetwork(AutoencoderNetwork autoencoder, int classes, double dropoutRate) : base(nameof(EncoderClassifierNetwork))
    {
        this.autoencoder = autoencoder;
        dropout = nn.Dropout(dropoutRate);
        head = nn.Linear(autoencoder.LatentDimension, classes);
        RegisterComponents();
    }

    /// <summary>The autoencoder whose encoder is trained along (its decoder is unused).</summary>
    public AutoencoderNetwork Autoencoder => autoencoder;

    /// <summary>The classification head.</summary>
    public Linear Head => head;

    public override Tensor forward(Tensor input)
    {
        using var code = autoencoder.Encode(input);
        using var dropped = dropout.forward(code);
        return head.forward(dropped);
    }

    /// <summary>
    /// The parameters the encoder uses: those that receive a gradient from <see cref="AutoencoderNetwork.Encode"/> on a
    /// probe batch (dense or convolutional, deterministic or Gaussian head: no layer names assumed).
    /// </summary>
    public static IReadOnlyList<Parameter> EncoderParameters(AutoencoderNetwork network, Device device)
    {
        var all = network.parameters().ToList();
        foreach (var p in all) p.grad = null;
        bool wasTraining = network.training;
        network.eval();
        using (var scope = NewDisposeScope())
        {
            var probe = randn(2, network.InputSize, device: device);
            network.Encode(probe).pow(Scalars.Two).sum().backward();
        }
        var used = all.Where(p => p.grad is not null).ToList();
        foreach (var p in all)
        {
            p.grad?.Dispose();
            p.grad = null;
        }
        if (wasTraining) network.train();
        return used;
    }
}
