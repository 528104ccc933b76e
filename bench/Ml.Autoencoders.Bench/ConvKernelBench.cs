using System.Diagnostics;
using Ml.Autoencoders.Networks.Convolutional;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// (f) The cost of the convolution workaround (<see cref="ConvolutionKernels"/>): each layer of the conv denoiser that
/// takes it, forward and backward at batch 128 on 28x28 images, timed against libtorch's plain call on the same tensors
/// (interleaved), with both results' error against float64 (first calls) so the run also shows whether the plain call is right here.
/// </summary>
internal static partial class Program
{
    private sealed record KernelCase(string Name, bool Transposed, int InChannels, int OutChannels, int Stride, int Map);

    // The classic denoiser's layers whose computation the workaround changes (the first convolution's input needs no
    // gradient, so it runs libtorch's call either way).
    private static readonly KernelCase[] DenoiserLayers =
    {
        new("conv 16->8 s2, 14x14 in", false, 16, 8, 2, 14),
        new("tconv 8->8 s2, 7x7 in", true, 8, 8, 2, 7),
        new("tconv 8->16 s2, 14x14 in", true, 8, 16, 2, 14),
        new("conv 16->1 s1, 28x28 in", false, 16, 1, 1, 28),
    };

    private static void ConvWorkaroundCost(Config cfg)
    {
        Header($"(f) convolution workaround vs libtorch's plain call: denoiser layers, forward + backward, batch {ConvBatch}, {cfg.Threads} threads, median of {cfg.Reps} x 20 steps, interleaved");
        double plainTotal = 0, workaroundTotal = 0;
        foreach (var c in DenoiserLayers)
        {
            using var scope = NewDisposeScope();
            manual_seed(7);
            var x = randn(ConvBatch, c.InChannels, c.Map, c.Map).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).requires_grad_();
            var weight = (c.Transposed ? randn(c.InChannels, c.OutChannels, 3, 3) : randn(c.OutChannels, c.InChannels, 3, 3)).mul_(0.2).requires_grad_();
            var bias = zeros(c.OutChannels).requires_grad_();
            long[] stride = { c.Stride, c.Stride }, padding = { 1, 1 }, outputPadding = { c.Stride - 1, c.Stride - 1 };
            Tensor Plain() => c.Transposed
                ? nn.functional.conv_transpose2d(x, weight, bias, stride, padding, outputPadding)
                : nn.functional.conv2d(x, weight, bias, stride, padding);
            Tensor Workaround() => c.Transposed
                ? ConvolutionKernels.TransposedConvolution(x, weight, bias, stride, padding, outputPadding)
                : ConvolutionKernels.Convolution(x, weight, bias, stride, padding);
            // Errors first: on a CPU with the fault, libtorch's first calls of a shape are the likeliest to be wrong.
            var (plainError, workaroundError) = (InputGradientError(Plain, x, weight, bias, c), InputGradientError(Workaround, x, weight, bias, c));
            var plain = new List<double>();
            var workaround = new List<double>();
            for (int r = 0; r < Math.Max(3, cfg.Reps); r++)
            {
                plain.Add(StepSeconds(Plain, x, weight, bias));
                workaround.Add(StepSeconds(Workaround, x, weight, bias));
            }
            double p = Median(plain), w = Median(workaround);
            plainTotal += p;
            workaroundTotal += w;
            Console.WriteLine($"    {c.Name,-26} plain {p * 1e3,7:F2} ms, workaround {w * 1e3,7:F2} ms (x{w / p:F2}); error vs float64: plain {plainError:g2}, workaround {workaroundError:g2}");
        }
        double ratio = plainTotal / workaroundTotal;
        Console.WriteLine($"    => these layers together: plain {plainTotal * 1e3:F2} ms, workaround {workaroundTotal * 1e3:F2} ms per step; speed ratio workaround/plain {ratio:F3}");
        Table.Add(new Row("(f) conv workaround speed vs plain libtorch call (denoiser layers fwd+bwd)", $"{workaroundTotal * 1e3:F2} ms", $"{plainTotal * 1e3:F2} ms", ratio, "-", null));
    }

    /// <summary>Seconds per forward + backward step (median of 20 after 3 untimed).</summary>
    private static double StepSeconds(Func<Tensor> layer, Tensor x, Tensor weight, Tensor bias)
    {
        var times = new List<double>();
        for (int i = 0; i < 23; i++)
        {
            using var scope = NewDisposeScope();
            x.grad?.zero_(); weight.grad?.zero_(); bias.grad?.zero_();
            var sw = Stopwatch.StartNew();
            var y = layer();
            y.sum().backward();
            sw.Stop();
            if (i >= 3) times.Add(sw.Elapsed.TotalSeconds);
        }
        return Median(times);
    }

    /// <summary>Largest error, relative to the largest value, of the forward output and the input gradient against float64.</summary>
    private static double InputGradientError(Func<Tensor> layer, Tensor x, Tensor weight, Tensor bias, KernelCase c)
    {
        using var scope = NewDisposeScope();
        x.grad?.zero_();
        var y = layer();
        var g = randn_like(y);
        (y * g).sum().backward();
        var x64 = x.detach().to(ScalarType.Float64).requires_grad_();
        var w64 = weight.detach().to(ScalarType.Float64);
        var b64 = bias.detach().to(ScalarType.Float64);
        long[] stride = { c.Stride, c.Stride }, padding = { 1, 1 }, outputPadding = { c.Stride - 1, c.Stride - 1 };
        var y64 = c.Transposed
            ? nn.functional.conv_transpose2d(x64, w64, b64, stride, padding, outputPadding)
            : nn.functional.conv2d(x64, w64, b64, stride, padding);
        (y64 * g.to(ScalarType.Float64)).sum().backward();
        double Error(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b).abs().max().item<double>() / Math.Max(1.0, b.abs().max().item<double>());
        return Math.Max(Error(y, y64), Error(x.grad!, x64.grad!));
    }
}
