using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// The dense layers' products (forward and backward), routed around libtorch's MKL where the library's own kernels
/// apply.
/// <para>
/// libtorch-cpu links oneMKL, which takes slow code paths on AMD CPUs: on an AMD EPYC (2 threads) a 128x784 by
/// 784x512 product took 870 us in libtorch against 454 us in OpenBLAS. Where <see cref="DenseGemm"/> runs (AVX-512F,
/// contiguous float32 CPU tensors), a dense layer's forward pass and its input and weight gradients are the library's
/// own kernels instead, through one autograd function; the bias gradient stays libtorch's sum. Anywhere else (CUDA,
/// other dtypes, a CPU without AVX-512F, or <see cref="TorchRuntime.DenseLayerProducts"/> set to
/// <see cref="DenseProducts.Libtorch"/>) libtorch's <c>linear</c> runs unchanged.
/// </para>
/// <para>
/// The route depends on the layer and the machine only, never on the batch: a row's output does not depend on the
/// other rows of its batch, and the same seed gives the same weights on one machine. NumericsTests compares both
/// directions with float64 over the layer shapes and batch sizes the dense bodies use.
/// </para>
/// </summary>
internal static class DenseKernels
{
    /// <summary>Whether the library's kernels compute a layer applied to <paramref name="input"/>.</summary>
    internal static bool Applies(Tensor input, Tensor weight, Tensor? bias) =>
        TorchRuntime.DenseLayerProducts == DenseProducts.Library
        && input.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
        && input.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32
        && input.dim() == 2 && weight.dim() == 2 && input.shape[1] == weight.shape[1]
        && (bias is null || (bias.device_type == DeviceType.CPU && bias.dtype == ScalarType.Float32 && bias.dim() == 1 && bias.shape[0] == weight.shape[0]))
        && input.shape[0] < int.MaxValue && weight.numel() < int.MaxValue;

    /// <summary><c>nn.functional.linear(input, weight, bias)</c>: input x weight^T + bias, weight out x in.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias)
    {
        if (!Applies(input, weight, bias)) return nn.functional.linear(input, weight, bias);
        bool tracked = is_grad_enabled() && (input.requires_grad || weight.requires_grad || bias is { requires_grad: true });
        return tracked ? LinearFunction.apply(input, weight, bias!) : Forward(input, weight, bias);
    }

    private static int Threads => Math.Max(1, torch.get_num_threads());

    /// <summary>Layers at least this wide on both sides take dot products in place (see <see cref="Forward"/>).</summary>
    private const long DotProductWidth = 512;

    /// <summary>
    /// input x weight^T + bias. A layer wide on both sides (at least <see cref="DotProductWidth"/>, the input width a
    /// multiple of 16) takes dot products along the input width in place; any other layer multiplies a transposed copy
    /// of the weight row by row, which the bench (<c>bash bench/run.sh --gemm</c>) found faster there (narrow inputs
    /// spend most of a dot product summing vector lanes; for narrow outputs the copy is cheap). The choice depends on
    /// the layer's shape alone, never on the batch.
    /// </summary>
    internal static unsafe Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
    {
        int rows = (int)input.shape[0], inputs = (int)input.shape[1], outputs = (int)weight.shape[0];
        using var x = input.detach().contiguous();
        using var w = weight.detach().contiguous();
        using var b = bias?.detach().contiguous();
        var output = empty(new long[] { rows, outputs }, dtype: ScalarType.Float32);
        if (rows == 0) return output;
        fixed (float* px = TensorSpans.AsSpan<float>(x), pw = TensorSpans.AsSpan<float>(w), po = TensorSpans.AsSpan<float>(output))
        fixed (float* pb = b is null ? Span<float>.Empty : TensorSpans.AsSpan<float>(b))
        {
            if (inputs >= DotProductWidth && outputs >= DotProductWidth && inputs % 16 == 0)
            {
                DenseGemm.MultiplyTransposed(px, inputs, pw, inputs, po, outputs, b is null ? null : pb, rows, outputs, inputs, Threads);
                return output;
            }
            using var transposed = w.t().contiguous();
            fixed (float* pt = TensorSpans.AsSpan<float>(transposed))
                DenseGemm.Multiply(px, inputs, 1, pt, outputs, po, outputs, rows, outputs, inputs, Threads);
        }
        if (b is not null) output.add_(b);
        return output;
    }

    /// <summary>dY x weight: the gradient of the layer's input.</summary>
    internal static unsafe Tensor InputGradient(Tensor grad, Tensor weight)
    {
        int rows = (int)grad.shape[0], outputs = (int)weight.shape[0], inputs = (int)weight.shape[1];
        var result = empty(new long[] { rows, inputs }, dtype: ScalarType.Float32);
        if (rows == 0) return result;
        fixed (float* pg = TensorSpans.AsSpan<float>(grad), pw = TensorSpans.AsSpan<float>(weight), pr = TensorSpans.AsSpan<float>(result))
            DenseGemm.Multiply(pg, outputs, 1, pw, inputs, pr, inputs, rows, inputs, outputs, Threads);
        return result;
    }

    /// <summary>dY^T x input: the gradient of the weight (out x in), summed over the batch.</summary>
    internal static unsafe Tensor WeightGradient(Tensor grad, Tensor input)
    {
        int rows = (int)grad.shape[0], outputs = (int)grad.shape[1], inputs = (int)input.shape[1];
        var result = empty(new long[] { outputs, inputs }, dtype: ScalarType.Float32);
        if (rows == 0) return result.zero_();
        fixed (float* pg = TensorSpans.AsSpan<float>(grad), px = TensorSpans.AsSpan<float>(input), pr = TensorSpans.AsSpan<float>(result))
            DenseGemm.Multiply(pg, 1, outputs, px, inputs, pr, inputs, outputs, inputs, rows, Threads);
        return result;
    }

    /// <summary>A dense layer (input, weight, bias or null) computed by the library's kernels in both directions.</summary>
    private sealed class LinearFunction : autograd.SingleTensorFunction<LinearFunction>
    {
        public override string Name => nameof(LinearFunction);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], vars[2] as Tensor);
            ctx.save_for_backward(new List<Tensor> { input, weight });
            ctx.save_data("input", input.requires_grad);
            ctx.save_data("weight", weight.requires_grad);
            ctx.save_data("bias", bias is { requires_grad: true });
            return Forward(input, weight, bias);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
        {
            var saved = ctx.get_saved_variables();
            using var input = saved[0].contiguous();
            using var weight = saved[1].contiguous();
            using var dy = grad.contiguous();
            var inputGradient = (bool)ctx.get_data("input") ? InputGradient(dy, weight) : null;
            var weightGradient = (bool)ctx.get_data("weight") ? WeightGradient(dy, input) : null;
            var biasGradient = (bool)ctx.get_data("bias") ? dy.sum(new long[] { 0 }) : null; // (sum(0) would bind to sum(ScalarType))
            return new List<Tensor> { inputGradient!, weightGradient!, biasGradient! };
        }
    }
}
