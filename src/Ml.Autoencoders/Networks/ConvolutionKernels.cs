using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// The two convolution computations of the convolutional bodies, routed around a libtorch fault.
/// <para>
/// libtorch 2.10 (libtorch-cpu, oneDNN inside) computes a convolution's "backward data" wrongly on some CPUs when the
/// channel count it sums over is not a multiple of 16: that kernel serves both the forward pass of a transposed
/// convolution (sum over its input channels) and the input gradient of a convolution (sum over its output channels).
/// Seen on an AMD EPYC with avx512_bf16/avx512_vp2intersect: errors of 0.1-4 against float64 and sometimes NaN, for any
/// map size from 1x1 to 28x28, both memory layouts, 1 and 2 threads; sums over 16, 32, 48, 64 channels are right, as
/// are every forward convolution and every weight gradient (ENVIRONMENT.md has the table and a reproduction).
/// Where the fault can bite, the same mathematics runs as im2col/col2im (unfold/fold) plus a matrix product, which
/// never reaches that kernel; elsewhere, and on CUDA, libtorch's own call runs. NumericsTests compares both routes
/// with float64 over the shapes and batch sizes the bodies use.
/// </para>
/// </summary>
internal static class ConvolutionKernels
{
    /// <summary>libtorch's backward-data kernel is trusted only for sums over a multiple of this many channels.</summary>
    internal const long TrustedChannelMultiple = 16;

    /// <summary>Whether libtorch's own backward-data kernel may compute a sum over <paramref name="channels"/> channels.</summary>
    internal static bool BackwardDataIsTrusted(Tensor input, long channels) =>
        input.device_type != DeviceType.CPU || channels % TrustedChannelMultiple == 0;

    /// <summary>
    /// A 2-d convolution (weight Cout x Cin x k x k). Its forward pass is always libtorch's; when the input needs a
    /// gradient that libtorch would compute with the faulty kernel, the im2col form runs instead, whose input gradient
    /// is a matrix product and a col2im.
    /// </summary>
    public static Tensor Convolution(Tensor input, Tensor weight, Tensor bias, long[] stride, long[] padding)
    {
        if (!input.requires_grad || !is_grad_enabled() || BackwardDataIsTrusted(input, weight.shape[0]))
            return nn.functional.conv2d(input, weight, bias, stride, padding);
        long n = input.shape[0], height = input.shape[2], width = input.shape[3];
        long outChannels = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3];
        long outHeight = (height + 2 * padding[0] - kh) / stride[0] + 1, outWidth = (width + 2 * padding[1] - kw) / stride[1] + 1;
        using var columns = nn.functional.unfold(input, (kh, kw), padding: (padding[0], padding[1]), stride: (stride[0], stride[1]));
        using var flatWeight = weight.reshape(outChannels, -1);
        using var product = flatWeight.matmul(columns);
        using var map = product.view(n, outChannels, outHeight, outWidth);
        using var shift = bias.view(1, outChannels, 1, 1);
        return map.add(shift, Runtime.Scalars.One);
    }

    /// <summary>
    /// A 2-d transposed convolution (weight Cin x Cout x k x k) with a separate output padding per side. Where libtorch's
    /// kernel is not trusted, it is computed as a matrix product (each input pixel times the kernel) and a col2im that
    /// adds the overlapping patches into the output map; its gradients are then a matrix product and an im2col.
    /// </summary>
    public static Tensor TransposedConvolution(Tensor input, Tensor weight, Tensor bias, long[] stride, long[] padding, long[] outputPadding)
    {
        if (BackwardDataIsTrusted(input, weight.shape[0]))
            return nn.functional.conv_transpose2d(input, weight, bias, stride, padding, outputPadding);
        long n = input.shape[0], inChannels = input.shape[1], height = input.shape[2], width = input.shape[3];
        long outChannels = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3];
        long outHeight = (height - 1) * stride[0] - 2 * padding[0] + kh + outputPadding[0];
        long outWidth = (width - 1) * stride[1] - 2 * padding[1] + kw + outputPadding[1];
        using var flatWeight = weight.reshape(inChannels, -1);
        using var weightT = flatWeight.t();
        using var flatInput = input.reshape(n, inChannels, height * width);
        using var columns = weightT.matmul(flatInput);
        using var map = nn.functional.fold(columns, (outHeight, outWidth), (kh, kw), padding: (padding[0], padding[1]), stride: (stride[0], stride[1]));
        using var shift = bias.view(1, outChannels, 1, 1);
        return map.add(shift, Runtime.Scalars.One);
    }
}
