using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>
/// The two convolution computations of the convolutional bodies, routed around a libtorch fault.
/// <para>
/// libtorch 2.10 (libtorch-cpu, oneDNN inside) computes a convolution's "backward data" wrongly on some CPUs when the
/// channel count it sums over is not a multiple of 16: that kernel serves both the forward pass of a transposed
/// convolution (sum over its input channels) and the input gradient of a convolution (sum over its output channels).
/// Seen on an AMD EPYC with avx512_bf16/avx512_vp2intersect: errors of 0.1-4 against float64 and sometimes NaN, for any
/// map size from 1x1 to 28x28, both memory layouts, 1 and 2 threads; sums over 16, 32, 48, 64 channels are right, as
/// are every forward convolution and every weight gradient (ENVIRONMENT.md has the table and a reproduction).
/// </para>
/// <para>
/// Where the fault can bite (CPU, a summed channel count that is not a multiple of 16), a backward-data computation is
/// done with a forward convolution instead: a transposed convolution equals a stride-1 convolution, with the kernel
/// flipped and its channel axes swapped, over the input spread out by the stride (zeros between pixels) and padded by
/// kernel - 1 - padding. The two autograd functions below use that for the transposed convolution's forward pass and
/// for the convolution's input gradient; every other part (convolution forward, weight gradients) stays libtorch's
/// own. Elsewhere, and on CUDA, libtorch's calls run unchanged. NumericsTests compares both routes with float64 over
/// the shapes and batch sizes the bodies use; bench part (f) prints the cost.
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
    /// A 2-d convolution (weight Cout x Cin x k x k). Its forward pass and weight gradient are always libtorch's; when the
    /// input needs a gradient that libtorch would compute with the faulty kernel, that gradient comes from
    /// <see cref="SpreadConvolution"/> instead.
    /// </summary>
    public static Tensor Convolution(Tensor input, Tensor weight, Tensor bias, long[] stride, long[] padding)
    {
        if (!input.requires_grad || !is_grad_enabled() || BackwardDataIsTrusted(input, weight.shape[0]))
            return nn.functional.conv2d(input, weight, bias, stride, padding);
        using var detached = input.detach();
        using var output = nn.functional.conv2d(detached, weight, bias, stride, padding);
        using var frozen = weight.detach();
        return ConvolutionInputGradient.apply(output, input, frozen, stride, padding);
    }

    /// <summary>
    /// A 2-d transposed convolution (weight Cin x Cout x k x k) with a separate output padding per side; where libtorch's
    /// kernel is not trusted, its forward pass is <see cref="SpreadConvolution"/> and its gradients are libtorch's
    /// forward convolution (input) and weight gradient (weight).
    /// </summary>
    public static Tensor TransposedConvolution(Tensor input, Tensor weight, Tensor bias, long[] stride, long[] padding, long[] outputPadding)
    {
        if (BackwardDataIsTrusted(input, weight.shape[0]))
            return nn.functional.conv_transpose2d(input, weight, bias, stride, padding, outputPadding);
        long outHeight = (input.shape[2] - 1) * stride[0] - 2 * padding[0] + weight.shape[2] + outputPadding[0];
        long outWidth = (input.shape[3] - 1) * stride[1] - 2 * padding[1] + weight.shape[3] + outputPadding[1];
        return SafeTransposedConvolution.apply(input, weight, bias, stride, padding, new[] { outHeight, outWidth });
    }

    /// <summary>
    /// conv_transpose2d(<paramref name="input"/>, <paramref name="weight"/> (in x out x k x k), stride, padding) with an
    /// output of <paramref name="outputSize"/>, computed with a forward convolution: the input's pixels are placed
    /// stride apart, at kernel - 1 - padding from the top left, in a zero map (channels-last, the layout libtorch's
    /// convolutions run fastest on) just large enough for a stride-1 convolution to give the output size, and convolved
    /// with the flipped kernel whose channel axes are swapped.
    /// </summary>
    internal static Tensor SpreadConvolution(Tensor input, Tensor weight, long[] stride, long[] padding, long[] outputSize)
    {
        long n = input.shape[0], channels = input.shape[1], height = input.shape[2], width = input.shape[3];
        long kh = weight.shape[2], kw = weight.shape[3];
        long top = kh - 1 - padding[0], left = kw - 1 - padding[1];
        // A padding larger than kernel - 1 crops: place the pixels as if it were kernel - 1, then cut the excess.
        long cropTop = Math.Max(0, -top), cropLeft = Math.Max(0, -left);
        top = Math.Max(0, top);
        left = Math.Max(0, left);
        long mapHeight = Math.Max(outputSize[0] + 2 * cropTop + kh - 1, top + (height - 1) * stride[0] + 1);
        long mapWidth = Math.Max(outputSize[1] + 2 * cropLeft + kw - 1, left + (width - 1) * stride[1] + 1);
        using var map = zeros(n, mapHeight, mapWidth, channels, dtype: input.dtype, device: input.device);
        using (var spots = map.as_strided(new[] { n, channels, height, width },
                   new[] { mapHeight * mapWidth * channels, 1, stride[0] * mapWidth * channels, stride[1] * channels },
                   top * mapWidth * channels + left * channels))
            spots.copy_(input);
        using var planar = map.permute(0, 3, 1, 2);
        using var flipped = weight.flip(2, 3);
        using var kernel = flipped.transpose(0, 1);
        using var full = nn.functional.conv2d(planar, kernel);
        return full.narrow(2, cropTop, outputSize[0]).narrow(3, cropLeft, outputSize[1]);
    }

    /// <summary>
    /// Passes a convolution's output through unchanged and gives the convolution's input its gradient by
    /// <see cref="SpreadConvolution"/> (the output already carries the weight and bias gradients, from libtorch).
    /// Arguments: output, input, weight (detached), stride, padding.
    /// </summary>
    private sealed class ConvolutionInputGradient : autograd.SingleTensorFunction<ConvolutionInputGradient>
    {
        public override string Name => nameof(ConvolutionInputGradient);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (output, input, weight) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            ctx.save_for_backward(new List<Tensor> { weight });
            ctx.save_data("stride", vars[3]);
            ctx.save_data("padding", vars[4]);
            ctx.save_data("size", new[] { input.shape[2], input.shape[3] });
            return output.alias();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            var weight = ctx.get_saved_variables()[0];
            var inputGradient = SpreadConvolution(grad, weight, (long[])ctx.get_data("stride"), (long[])ctx.get_data("padding"), (long[])ctx.get_data("size"));
            return new List<Tensor> { grad, inputGradient, null!, null!, null! };
        }
    }

    /// <summary>
    /// A transposed convolution whose forward pass is <see cref="SpreadConvolution"/>; its input gradient is libtorch's
    /// forward convolution of the output gradient with the same kernel, and its weight gradient is libtorch's weight
    /// gradient of that same convolution (taken with the input as the upstream gradient), so no backward-data kernel
    /// runs. Arguments: input, weight, bias, stride, padding, output size.
    /// </summary>
    private sealed class SafeTransposedConvolution : autograd.SingleTensorFunction<SafeTransposedConvolution>
    {
        public override string Name => nameof(SafeTransposedConvolution);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            var (stride, padding) = ((long[])vars[3], (long[])vars[4]);
            ctx.save_for_backward(new List<Tensor> { input, weight });
            ctx.save_data("stride", stride);
            ctx.save_data("padding", padding);
            using var output = SpreadConvolution(input, weight, stride, padding, (long[])vars[5]);
            using var shift = bias.view(1, -1, 1, 1);
            return output.add(shift, Runtime.Scalars.One);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            var saved = ctx.get_saved_variables();
            var (input, weight) = (saved[0], saved[1]);
            var (stride, padding) = ((long[])ctx.get_data("stride"), (long[])ctx.get_data("padding"));
            Tensor inputGradient, weightGradient;
            using (enable_grad())
            using (var leaf = weight.detach().requires_grad_())
            using (var gradDetached = grad.detach())
            {
                // conv2d(grad, W, stride, padding) is the adjoint of the transposed convolution: its value is the input
                // gradient, and its weight gradient with the input as upstream gradient is the weight gradient.
                var adjoint = nn.functional.conv2d(gradDetached, leaf, null, stride, padding);
                weightGradient = autograd.grad(new List<Tensor> { adjoint }, new List<Tensor> { leaf }, new List<Tensor> { input })[0];
                inputGradient = adjoint.detach();
                adjoint.Dispose();
            }
            var biasGradient = grad.sum(new long[] { 0, 2, 3 });
            return new List<Tensor> { inputGradient, weightGradient, biasGradient, null!, null!, null! };
        }
    }
}
