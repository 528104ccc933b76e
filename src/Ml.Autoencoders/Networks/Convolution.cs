using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// A 2-d convolution whose input gradient never comes from libtorch's faulty backward-data kernel (see
/// <see cref="ConvolutionKernels"/>). The weights are created and initialised exactly as <c>nn.Conv2d</c> does (same
/// shapes, same random draws), so a seed gives the same network as before; state-dict names are "weight" and "bias".
/// </summary>
internal sealed class Convolution : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict names
    private readonly Parameter weight;
    private readonly Parameter bias;
#pragma warning restore IDE1006
    private readonly long[] stride, padding;

    public Convolution(int inChannels, int outChannels, int kernelSize, int stride, int padding) : base(nameof(Convolution))
    {
        using (var template = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding))
        using (no_grad())
        {
            weight = new Parameter(template.weight!.detach().clone());
            bias = new Parameter(template.bias!.detach().clone());
        }
        this.stride = new long[] { stride, stride };
        this.padding = new long[] { padding, padding };
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => ConvolutionKernels.Convolution(input, weight, bias, stride, padding);
}
