using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The library's own dense-layer products (<see cref="DenseKernels"/>, <see cref="DenseGemm"/>): forward pass and the
/// input, weight and bias gradients against libtorch's float64 over the layer widths the dense bodies use (and odd ones:
/// 1, 2, widths that are not a multiple of the 16-lane vector, both forward routes), batch sizes 1 to 257, one and two
/// threads; a row's result does not depend on the other rows of its batch, nor on the thread count (bit for bit).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class DenseKernelsTests
{
    private static readonly (int In, int Out)[] Layers =
    {
        (784, 512), (512, 784), (784, 64), (64, 784), (64, 32), (32, 16), (16, 32), (2, 512), (512, 2), (784, 100), (100, 30),
        (30, 100), (256, 64), (1, 1), (13, 7), (17, 33), (144, 19), (160, 47), (128, 5), (35, 128),
    };

    private static readonly int[] Batches = { 1, 2, 3, 7, 8, 9, 33, 128, 257 };

    private const double Tolerance = 1e-4;

    private DenseProducts before;

    /// <summary>The library's route is opt-in: each test turns it on and restores the process-wide choice after.</summary>
    [TestInitialize]
    public void UseTheLibrarysKernels()
    {
        before = TorchRuntime.DenseLayerProducts;
        if (DenseGemm.IsSupported) TorchRuntime.DenseLayerProducts = DenseProducts.Library;
    }

    /// <summary>Restores the route in force before the test.</summary>
    [TestCleanup]
    public void Restore() => TorchRuntime.DenseLayerProducts = before;

    private static void RequireKernels()
    {
        if (!DenseGemm.IsSupported) Assert.Inconclusive("This CPU has no AVX-512F: the library's dense kernels do not run here (libtorch's do).");
    }

    private static string? Compare(string what, Tensor actual, Tensor expected)
    {
        if (!actual.shape.SequenceEqual(expected.shape)) return $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]";
        double error = (actual.to(ScalarType.Float64) - expected).abs().max().item<double>();
        double scale = Math.Max(1.0, expected.abs().max().item<double>());
        return error <= Tolerance * scale ? null : $"{what}: error {error:g3} (scale {scale:g3})";
    }

    /// <summary>Forward pass and all three gradients agree with float64 for every layer shape, batch size and weight layout.</summary>
    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public void LinearMatchesFloat64ForwardAndBackward(int threads)
    {
        RequireKernels();
        int before = get_num_threads();
        set_num_threads(threads);
        var failures = new List<string>();
        try
        {
            foreach (var (inputs, outputs) in Layers)
                foreach (int n in Batches)
                    foreach (bool transposedWeight in new[] { false, true })
                    {
                        using var scope = NewDisposeScope();
                        var gen = new Generator((ulong)(inputs * 1000 + outputs * 10 + n));
                        var x64 = randn(new long[] { n, inputs }, dtype: ScalarType.Float64, generator: gen).requires_grad_();
                        // A tied decoder layer passes the encoder weight transposed: a non-contiguous view.
                        var w64 = (transposedWeight ? randn(new long[] { inputs, outputs }, dtype: ScalarType.Float64, generator: gen)
                                                    : randn(new long[] { outputs, inputs }, dtype: ScalarType.Float64, generator: gen)).mul(0.1).requires_grad_();
                        var b64 = randn(new long[] { outputs }, dtype: ScalarType.Float64, generator: gen).requires_grad_();
                        var x32 = x64.detach().to(ScalarType.Float32).requires_grad_();
                        var w32 = w64.detach().to(ScalarType.Float32).requires_grad_();
                        var b32 = b64.detach().to(ScalarType.Float32).requires_grad_();
                        var weight32 = transposedWeight ? w32.t() : w32;
                        var weight64 = transposedWeight ? w64.t() : w64;
                        Assert.IsTrue(DenseKernels.Applies(x32, weight32, b32), "the library's kernels take this layer");
                        var y32 = DenseKernels.Linear(x32, weight32, b32);
                        var y64 = nn.functional.linear(x64, weight64, b64);
                        string what = $"{inputs}->{outputs}{(transposedWeight ? " (tied)" : "")} batch {n}";
                        var g64 = randn(y64.shape, dtype: ScalarType.Float64, generator: gen);
                        (y32 * g64.to(ScalarType.Float32)).sum().backward();
                        (y64 * g64).sum().backward();
                        foreach (var failure in new[]
                                 {
                                     Compare(what + " forward", y32, y64), Compare(what + " input gradient", x32.grad!, x64.grad!),
                                     Compare(what + " weight gradient", w32.grad!, w64.grad!), Compare(what + " bias gradient", b32.grad!, b64.grad!),
                                 })
                            if (failure is not null) failures.Add(failure);
                    }
        }
        finally { set_num_threads(before); }
        if (failures.Count > 0)
            Assert.Fail($"{failures.Count} float32 results differ from float64 by more than {Tolerance:g} (relative):\n" + string.Join("\n", failures.Take(40)));
    }

    /// <summary>Rows computed alone or in any slice of a batch give exactly the bits they give in the full batch (forward and input gradient).</summary>
    [TestMethod]
    public void ARowDoesNotDependOnTheRestOfItsBatch()
    {
        RequireKernels();
        int before = get_num_threads();
        set_num_threads(2);
        try
        {
            foreach (var (inputs, outputs) in Layers)
            {
                using var scope = NewDisposeScope();
                var gen = new Generator(7);
                var x = randn(new long[] { 257, inputs }, generator: gen);
                var w = randn(new long[] { outputs, inputs }, generator: gen).mul(0.1).requires_grad_();
                var b = randn(new long[] { outputs }, generator: gen).requires_grad_();
                var dy = randn(new long[] { 257, outputs }, generator: gen);
                var (full, fullInputGradient) = ForwardAndInputGradient(x, w, b, dy);
                foreach (var (start, length) in new[] { (0, 1), (5, 1), (256, 1), (3, 2), (9, 7), (100, 64), (0, 128), (1, 256) })
                {
                    var (part, partInputGradient) = ForwardAndInputGradient(x.narrow(0, start, length), w, b, dy.narrow(0, start, length));
                    Assert.IsTrue(Same(part, full.narrow(0, start, length)),
                        $"{inputs}->{outputs}: rows {start}..{start + length - 1} computed alone differ from the same rows in a batch of 257");
                    Assert.IsTrue(Same(partInputGradient, fullInputGradient.narrow(0, start, length)),
                        $"{inputs}->{outputs}: the input gradient of rows {start}..{start + length - 1} depends on the other rows of the batch");
                }
            }
        }
        finally { set_num_threads(before); }
    }

    /// <summary>One, two and three threads give bit-identical outputs and gradients.</summary>
    [TestMethod]
    public void ThreadCountDoesNotChangeAnyBit()
    {
        RequireKernels();
        int before = get_num_threads();
        try
        {
            foreach (var (inputs, outputs) in Layers)
            {
                using var scope = NewDisposeScope();
                var gen = new Generator(11);
                var x = randn(new long[] { 128, inputs }, generator: gen).requires_grad_();
                var w = randn(new long[] { outputs, inputs }, generator: gen).mul(0.1).requires_grad_();
                var b = randn(new long[] { outputs }, generator: gen).requires_grad_();
                var dy = randn(new long[] { 128, outputs }, generator: gen);
                var results = new List<Tensor[]>();
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    set_num_threads(threads);
                    x.grad?.zero_();
                    w.grad?.zero_();
                    b.grad?.zero_();
                    var y = DenseKernels.Linear(x, w, b);
                    y.backward(new List<Tensor> { dy });
                    results.Add(new[] { y.detach().clone(), x.grad!.clone(), w.grad!.clone(), b.grad!.clone() });
                }
                string[] names = { "forward", "input gradient", "weight gradient", "bias gradient" };
                for (int t = 1; t < results.Count; t++)
                    for (int i = 0; i < names.Length; i++)
                        Assert.IsTrue(Same(results[t][i], results[0][i]), $"{inputs}->{outputs}: the {names[i]} with {t + 1} threads differs from one thread");
            }
        }
        finally { set_num_threads(before); }
    }

    /// <summary>Tensors the kernels do not take (float64, 3-d inputs) go to libtorch's linear and still work.</summary>
    [TestMethod]
    public void OtherTensorsKeepLibtorch()
    {
        using var scope = NewDisposeScope();
        var w = randn(8, 4);
        Assert.IsFalse(DenseKernels.Applies(randn(3, 4, dtype: ScalarType.Float64), w.to(ScalarType.Float64), null), "float64 stays libtorch's");
        Assert.IsFalse(DenseKernels.Applies(randn(2, 3, 4), w, null), "a 3-d input stays libtorch's");
        var y = DenseKernels.Linear(randn(2, 3, 4), w, null);
        CollectionAssert.AreEqual(new long[] { 2, 3, 8 }, y.shape);
    }

    /// <summary>Bit-identical (same shape, every element equal).</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static (Tensor Output, Tensor InputGradient) ForwardAndInputGradient(Tensor x, Tensor w, Tensor b, Tensor dy)
    {
        var leaf = x.detach().clone().requires_grad_();
        var y = DenseKernels.Linear(leaf, w, b);
        y.backward(new List<Tensor> { dy.contiguous() });
        return (y.detach(), leaf.grad!);
    }
}
