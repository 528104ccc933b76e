using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>
/// A 2-d transposed convolution with a separate output padding per side. TorchSharp 0.107's <c>ConvTranspose2d</c>
/// module passes only its first output padding to libtorch (which then uses it for both sides), so a non-square image
/// whose height and width need different output paddings would come out the wrong size. The weights are created and
/// initialised exactly as <c>nn.ConvTranspose2d</c> does (same shapes, same random draws); state-dict names are
/// "weight" and "bias". The computation goes through <see cref="ConvolutionKernels.TransposedConvolution"/>, which
/// avoids libtorch's faulty kernel on the CPUs where it is wrong.
/// </summary>
internal sealed class TransposedConvolution : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict names
    private readonly Parameter weight;
    private readonly Parameter bias;
#pragma warning restore IDE1006
    private readonly long[] stride, padding, outputPadding;

    public TransposedConvolution(int inChannels, int outChannels, int kernelSize, int stride, int padding, (int Height, int Width) outputPadding)
        : base(nameof(TransposedConvolution))
    {
        using (var template = nn.ConvTranspose2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding))
            (weight, bias) = Convolution.CopyParameters(template.weight!, template.bias!);
        this.stride = new long[] { stride, stride };
        this.padding = new long[] { padding, padding };
        this.outputPadding = new long[] { outputPadding.Height, outputPadding.Width };
        RegisterComponents();
    }

    /// <summary>The kernel (in channels x out channels x k x k).</summary>
    internal Tensor Weight => weight;

    /// <summary>The bias (out channels).</summary>
    internal Tensor Bias => bias;

    /// <summary>Stride per side (height, width).</summary>
    internal IReadOnlyList<long> Stride => stride;

    /// <summary>Padding per side (height, width).</summary>
    internal IReadOnlyList<long> Padding => padding;

    /// <summary>Extra rows and columns at the bottom and right (height, width).</summary>
    internal IReadOnlyList<long> OutputPadding => outputPadding;

    public override Tensor forward(Tensor input) =>
        ConvolutionKernels.TransposedConvolution(input, weight, bias, stride, padding, outputPadding);
}
