using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Trust no kernel blindly: every layer kind the bodies build runs in float32 and is compared with the same
/// computation in float64 (libtorch's float64 paths are its plain reference loops), forward and backward (input,
/// weight and bias gradients), over batch sizes 1, 2, 3, 8 and 64 and maps from 1x1 to 8x8, square and not.
/// libtorch 2.10 gets the float32 transposed convolution and the convolution's input gradient wrong on some CPUs
/// (see <see cref="ConvolutionKernels"/>): without the library's workaround these tests fail there.
/// </summary>
[TestClass]
public sealed class NumericsTests
{
    private static readonly int[] Batches = { 1, 2, 3, 8, 64 };
    private static readonly (int H, int W)[] Maps =
        { (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (1, 3), (2, 5), (3, 2), (5, 7), (8, 3) };

    /// <summary>Relative tolerance against the float64 result's largest magnitude (float32 errors here are ~1e-6).</summary>
    private const double Tolerance = 1e-4;

    /// <summary>Runs <paramref name="check"/> at every batch size and map size and fails listing every case that disagreed.</summary>
    private static void OverGrid(Func<int, int, int, IEnumerable<string>> check, int threads = 0)
    {
        int before = get_num_threads();
        if (threads > 0) set_num_threads(threads);
        var failures = new List<string>();
        try
        {
            foreach (int n in Batches)
                foreach (var (h, w) in Maps)
                {
                    using var scope = NewDisposeScope();
                    failures.AddRange(check(n, h, w));
                }
        }
        finally { set_num_threads(before); }
        if (failures.Count > 0)
            Assert.Fail($"{failures.Count} float32 results differ from float64 by more than {Tolerance:g} (relative):\n" + string.Join("\n", failures.Take(40)));
    }

    /// <summary>"" when <paramref name="actual"/> (float32) agrees with <paramref name="expected"/> (float64), else a line saying how far off.</summary>
    private static IEnumerable<string> Compare(string what, Tensor actual, Tensor expected)
    {
        if (!actual.shape.SequenceEqual(expected.shape))
        {
            yield return $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]";
            yield break;
        }
        double error = (actual.to(ScalarType.Float64) - expected).abs().max().item<double>();
        double scale = Math.Max(1.0, expected.abs().max().item<double>());
        if (!(error <= Tolerance * scale)) yield return $"{what}: error {error:g3} (scale {scale:g3})";
    }

    private static (Tensor X32, Tensor X64) Input(long n, long c, long h, long w, bool channelsLast)
    {
        var x64 = randn(n, c, h, w, dtype: ScalarType.Float64);
        var x32 = x64.to(ScalarType.Float32);
        if (channelsLast) x32 = x32.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        return (x32.requires_grad_(), x64.requires_grad_());
    }

    /// <summary>Forward value and the gradients of sum(y * g) with respect to input and parameters, float32 vs float64.</summary>
    private static IEnumerable<string> CompareStep(string what, Tensor x32, Tensor x64, Tensor y32, Tensor y64,
        IReadOnlyList<(string Name, Tensor P32, Tensor P64)> parameters)
    {
        var failures = Compare(what + " forward", y32, y64).ToList();
        if (failures.Count > 0) return failures;
        var g64 = randn_like(y64);
        (y32 * g64.to(ScalarType.Float32)).sum().backward();
        (y64 * g64).sum().backward();
        failures.AddRange(Compare(what + " input gradient", x32.grad!, x64.grad!));
        foreach (var (name, p32, p64) in parameters) failures.AddRange(Compare($"{what} {name} gradient", p32.grad!, p64.grad!));
        return failures;
    }

    private static Tensor Leaf64(Tensor p32) => p32.detach().to(ScalarType.Float64).requires_grad_();

    private static (Tensor Weight, Tensor Bias) Parameters(nn.Module module) =>
        (module.get_parameter("weight")!, module.get_parameter("bias")!);

    /// <summary>The bodies' convolution (stride 1 and 2) against libtorch's float64 convolution.</summary>
    [TestMethod]
    [DataRow(1, 1, 1)] [DataRow(2, 1, 2)] [DataRow(3, 8, 1)] [DataRow(8, 3, 2)] [DataRow(16, 16, 2)] [DataRow(4, 32, 1)]
    public void ConvolutionMatchesFloat64(int inChannels, int outChannels, int stride)
    {
        OverGrid((n, h, w) =>
        {
            if (h + 2 < 3 || w + 2 < 3) return Array.Empty<string>();
            var failures = new List<string>();
            foreach (bool channelsLast in new[] { false, true })
            {
                var layer = new Convolution(inChannels, outChannels, 3, stride, 1);
                var (w32, b32) = Parameters(layer);
                var (x32, x64) = Input(n, inChannels, h, w, channelsLast);
                var (w64, b64) = (Leaf64(w32), Leaf64(b32));
                var y32 = layer.forward(x32);
                var y64 = nn.functional.conv2d(x64, w64, b64, new long[] { stride, stride }, new long[] { 1, 1 });
                failures.AddRange(CompareStep($"conv {inChannels}->{outChannels} s{stride} n{n} {h}x{w}{(channelsLast ? " NHWC" : "")}",
                    x32, x64, y32, y64, new[] { ("weight", w32, w64), ("bias", b32, b64) }));
            }
            return failures;
        });
    }

    /// <summary>The bodies' transposed convolution, every output padding, against libtorch's float64 transposed convolution.</summary>
    [TestMethod]
    [DataRow(1, 1)] [DataRow(2, 1)] [DataRow(4, 1)] [DataRow(8, 8)] [DataRow(8, 16)] [DataRow(16, 1)] [DataRow(32, 16)]
    public void TransposedConvolutionMatchesFloat64(int inChannels, int outChannels)
    {
        OverGrid((n, h, w) =>
        {
            var failures = new List<string>();
            foreach (var (stride, outputPadding) in new[] { (1, (0, 0)), (2, (0, 0)), (2, (1, 1)), (2, (1, 0)), (2, (0, 1)) })
            {
                bool channelsLast = (n + h + w) % 2 == 0; // both layouts, spread over the grid
                var layer = new TransposedConvolution(inChannels, outChannels, 3, stride, 1, outputPadding);
                var (w32, b32) = Parameters(layer);
                var (x32, x64) = Input(n, inChannels, h, w, channelsLast);
                var (w64, b64) = (Leaf64(w32), Leaf64(b32));
                var y32 = layer.forward(x32);
                var y64 = nn.functional.conv_transpose2d(x64, w64, b64, new long[] { stride, stride }, new long[] { 1, 1 },
                    new long[] { outputPadding.Item1, outputPadding.Item2 });
                failures.AddRange(CompareStep($"tconv {inChannels}->{outChannels} s{stride} op{outputPadding} n{n} {h}x{w}{(channelsLast ? " NHWC" : "")}",
                    x32, x64, y32, y64, new[] { ("weight", w32, w64), ("bias", b32, b64) }));
            }
            return failures;
        });
    }

    /// <summary>The same grid at two threads (libtorch splits the batch differently there).</summary>
    [TestMethod]
    public void ConvolutionsMatchFloat64AtTwoThreads()
    {
        OverGrid((n, h, w) =>
        {
            var tconv = new TransposedConvolution(2, 1, 3, 2, 1, (1, 1));
            var (tw32, tb32) = Parameters(tconv);
            var (x32, x64) = Input(n, 2, h, w, false);
            var (tw64, tb64) = (Leaf64(tw32), Leaf64(tb32));
            var failures = CompareStep($"tconv 2->1 n{n} {h}x{w}", x32, x64, tconv.forward(x32),
                nn.functional.conv_transpose2d(x64, tw64, tb64, new long[] { 2, 2 }, new long[] { 1, 1 }, new long[] { 1, 1 }),
                new[] { ("weight", tw32, tw64), ("bias", tb32, tb64) }).ToList();
            var conv = new Convolution(2, 3, 3, 1, 1);
            var (cw32, cb32) = Parameters(conv);
            var (a32, a64) = Input(n, 2, h, w, true);
            var (cw64, cb64) = (Leaf64(cw32), Leaf64(cb32));
            failures.AddRange(CompareStep($"conv 2->3 n{n} {h}x{w}", a32, a64, conv.forward(a32),
                nn.functional.conv2d(a64, cw64, cb64, new long[] { 1, 1 }, new long[] { 1, 1 }),
                new[] { ("weight", cw32, cw64), ("bias", cb32, cb64) }));
            return failures;
        }, threads: 2);
    }

    /// <summary>Linear layers (plain and tied), pooling, nearest upsampling and batch norm in both modes, float32 vs float64.</summary>
    [TestMethod]
    public void OtherLayersMatchFloat64()
    {
        OverGrid((n, h, w) =>
        {
            var failures = new List<string>();
            void Module(string what, Func<nn.Module<Tensor, Tensor>> make, long channels, bool train)
            {
                var m32 = make();
                var m64 = make();
                m64.load_state_dict(m32.state_dict());
                m64.to(ScalarType.Float64);
                m32.train(train); m64.train(train);
                var (x32, x64) = Input(n, channels, h, w, (n + h) % 2 == 0);
                var y32 = m32.call(x32);
                var y64 = m64.call(x64);
                var p32 = m32.named_parameters().ToList();
                var p64 = m64.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                failures.AddRange(CompareStep($"{what} n{n} {h}x{w}", x32, x64, y32, y64,
                    p32.Select(p => (p.name, (Tensor)p.parameter, (Tensor)p64[p.name])).ToList()));
            }
            if (h >= 2 && w >= 2) Module("max pool 2", () => nn.MaxPool2d(2), 3, true);
            Module("nearest upsampling", () => nn.Upsample(size: new long[] { 2 * h + 1, 2 * w }, mode: UpsampleMode.Nearest), 3, true);
            if (n > 1) Module("batch norm (training)", () => nn.BatchNorm2d(5), 5, true);
            Module("batch norm (eval)", () => WithStatistics(nn.BatchNorm2d(5)), 5, false);
            // Dense layers see the map as rows of h*w*3 values.
            Module("linear", () => Flat(nn.Linear(3 * h * w, 7)), 3, true);
            Module("linear + tied linear", () =>
            {
                var encoder = nn.Linear(3 * h * w, 7);
                return nn.Sequential(("flatten", nn.Flatten()), ("encoder", encoder), ("decoder", new TiedLinear(encoder)));
            }, 3, true);
            return failures;
        });
    }

    private static nn.Module<Tensor, Tensor> WithStatistics(TorchSharp.Modules.BatchNorm2d norm)
    {
        using (no_grad())
        {
            norm.running_mean!.uniform_(-1, 1);
            norm.running_var!.uniform_(0.5, 2);
        }
        return norm;
    }

    private static nn.Module<Tensor, Tensor> Flat(nn.Module<Tensor, Tensor> layer) =>
        nn.Sequential(("flatten", nn.Flatten()), ("layer", layer));

    /// <summary>
    /// Whole bodies the presets build (and recurrent bodies: LSTM and GRU kernels), with a Gaussian head where a preset has one: a training step's loss gradient for
    /// every parameter, and the codes and reconstructions, float32 against the same network in float64; and the float32
    /// outputs do not depend on the batch size.
    /// </summary>
    [TestMethod]
    [DataRow("Convolutional")] [DataRow("ConvolutionalDenoising")] [DataRow("DeepConvolutional")] [DataRow("ConvolutionalVariational")]
    [DataRow("DenseVariational")] [DataRow("RecurrentLstm")] [DataRow("RecurrentGruVariational")]
    public void PresetBodiesMatchFloat64(string preset)
    {
        var shape = new ImageShape(1, 12, 12);
        AutoencoderNetwork Build()
        {
            var cpu = new Device(DeviceType.CPU);
            return preset switch
            {
                "Convolutional" => Conv(AutoencoderPresets.Convolutional(shape), cpu),
                "ConvolutionalDenoising" => Conv(AutoencoderPresets.ConvolutionalDenoising(shape), cpu),
                "DeepConvolutional" => Conv(AutoencoderPresets.DeepConvolutional(shape, codeSize: 8), cpu),
                "ConvolutionalVariational" => Conv(AutoencoderPresets.ConvolutionalVariational(shape), cpu),
                // 144 values as 36 steps x 4 features, and as 144 steps of one value.
                "RecurrentLstm" => SeededNetworks.Create(new AutoencoderOptions
                {
                    Body = new RecurrentOptions { Steps = 36, Features = 4, HiddenSize = 8, Layers = 2, Bidirectional = true }, HiddenLayerSizes = [10], LatentDimension = 3,
                }.Spec(144, Activation.Sigmoid), 11, cpu),
                "RecurrentGruVariational" => SeededNetworks.Create(new AutoencoderOptions
                {
                    Body = new RecurrentOptions { Steps = 144, Cell = RecurrentCell.Gru, HiddenSize = 6 }, HiddenLayerSizes = [], LatentDimension = 2, LatentHead = LatentHead.Gaussian,
                }.Spec(144, Activation.Sigmoid), 11, cpu),
                _ => TestNetworks.Create(new DenseNetworkSpec(144, new[] { 20 }, new[] { Activation.ReLU }, 3, Activation.Linear,
                    Activation.Sigmoid, LatentHead.Gaussian), 11, cpu),
            };
        }
        using var net32 = Build();
        using var net64 = Build();
        net64.to(ScalarType.Float64);
        var failures = new List<string>();
        foreach (int n in Batches)
        {
            using var scope = NewDisposeScope();
            var x64 = rand(n, 144, dtype: ScalarType.Float64);
            var x32 = x64.to(ScalarType.Float32);
            net32.train(); net64.train();
            net32.zero_grad(); net64.zero_grad();
            var p32 = net32.Forward(x32, null, false);
            var p64 = net64.Forward(x64, null, false);
            failures.AddRange(Compare($"{preset} n{n} reconstruction", p32.Reconstruction, p64.Reconstruction));
            (p32.Reconstruction - x32).square().mean().backward();
            (p64.Reconstruction - x64).square().mean().backward();
            var grads64 = net64.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
            foreach (var (name, parameter) in net32.named_parameters())
            {
                // Without sampling, a Gaussian head's log-variance layer takes no part in the reconstruction.
                if (parameter.grad is null && grads64[name] is null) continue;
                failures.AddRange(Compare($"{preset} n{n} {name} gradient", parameter.grad!, grads64[name]!));
            }
            net32.eval(); net64.eval();
            using (no_grad())
            {
                failures.AddRange(Compare($"{preset} n{n} code", net32.Encode(x32), net64.Encode(x64)));
                if (net32.IsGaussian)
                {
                    var (m32, v32) = net32.EncodeDistribution(x32);
                    var (m64, v64) = net64.EncodeDistribution(x64);
                    failures.AddRange(Compare($"{preset} n{n} mean", m32, m64).Concat(Compare($"{preset} n{n} log-variance", v32, v64)));
                }
                // Batch-size independence: each row alone gives what it gave in the batch.
                var whole = net32.forward(x32);
                for (int i = 0; i < n; i += Math.Max(1, n / 4))
                {
                    var alone = net32.forward(x32[i..(i + 1)]);
                    double d = (alone - whole[i..(i + 1)]).abs().max().item<float>();
                    if (!(d <= 1e-5)) failures.Add($"{preset} row {i} of {n}: alone differs from in batch by {d:g3}");
                }
            }
        }
        if (failures.Count > 0) Assert.Fail(string.Join("\n", failures.Take(40)));
    }

    private static AutoencoderNetwork Conv(AutoencoderOptions options, Device device) =>
        TestNetworks.Create(TestNetworks.ConvSpec(options, options.OutputActivation ?? Activation.Sigmoid), 11, device);
}
