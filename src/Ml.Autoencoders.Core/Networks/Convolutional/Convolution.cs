using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Convolutional;

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
            (weight, bias) = CopyParameters(template.weight!, template.bias!);
        this.stride = new long[] { stride, stride };
        this.padding = new long[] { padding, padding };
        RegisterComponents();
    }

    /// <summary>The kernel (out channels x in channels x k x k).</summary>
    internal Tensor Weight => weight;

    /// <summary>The bias (out channels).</summary>
    internal Tensor Bias => bias;

    /// <summary>Stride per side (height, width).</summary>
    internal IReadOnlyList<long> Stride => stride;

    /// <summary>Zero padding per side (height, width).</summary>
    internal IReadOnlyList<long> Padding => padding;

    public override Tensor forward(Tensor input) => ConvolutionKernels.Convolution(input, weight, bias, stride, padding);

    /// <summary>Own copies of a freshly initialised libtorch module's weight and bias (same values, same random draws).</summary>
    internal static (Parameter Weight, Parameter Bias) CopyParameters(Tensor weight, Tensor bias)
    {
        using var _ = no_grad();
        return (new Parameter(weight.detach().clone()), new Parameter(bias.detach().clone()));
    }
}
