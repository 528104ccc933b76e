using Ml.Autoencoders.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>
/// The ONNX form of a <see cref="ConvolutionalAutoencoderNetwork"/>'s own layers (<see cref="IOnnxBody"/>): rows are
/// read as NCHW images inside the graph (Reshape, and a Transpose for interleaved or one-channel rows), every encoder
/// and decoder module becomes its standard operator, and the reconstruction goes back to the declared pixel order.
/// </summary>
internal static class ConvolutionalOnnx
{
    /// <summary>
    /// Flat rows to the encoder's last feature map flattened channel-major, as ConvolutionalAutoencoderNetwork.Features
    /// computes it: interleaved (or one-channel) rows are read as [N, H, W, C] and transposed to NCHW, planar rows are
    /// [N, C, H, W] already; then every encoder module in order.
    /// </summary>
    public static string Features(IOnnxGraph g, ConvolutionalAutoencoderNetwork network, string input, string? output)
    {
        var image = network.Plan.Image;
        string x = network.PixelMajor
            ? g.Node("encoder.image", "Transpose", new[] { g.Reshape("encoder.image", input, 0, image.Height, image.Width, image.Channels) }, null, new OnnxAttribute("perm", Ints: new[] { 0L, 3, 1, 2 }))
            : g.Reshape("encoder.image", input, 0, image.Channels, image.Height, image.Width);
        x = ConvolutionalStack(g, "encoder", network.EncoderModules, network.Plan.Encoder, network, x);
        return g.Node("encoder.flatten", "Flatten", new[] { x }, output, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>The code map's features (flattened channel-major) back to flat rows in the declared pixel order.</summary>
    public static string Rows(IOnnxGraph g, ConvolutionalAutoencoderNetwork network, string features, string output)
    {
        var plan = network.Plan;
        string x = g.Reshape("decoder.map", features, 0, plan.CodeChannels, plan.CodeHeight, plan.CodeWidth);
        x = ConvolutionalStack(g, "decoder", network.DecoderModules, plan.Decoder, network, x);
        if (network.PixelMajor) x = g.Node("decoder.image", "Transpose", new[] { x }, null, new OnnxAttribute("perm", Ints: new[] { 0L, 2, 3, 1 }));
        return g.Node("decoder.flatten", "Flatten", new[] { x }, output, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>
    /// The modules of one side of a convolutional body, in the order its Sequential runs them, as ONNX nodes on an NCHW
    /// tensor: Conv, ConvTranspose (separate output padding per side, at the bottom and right as in libtorch),
    /// BatchNormalization with the running statistics, the activations, MaxPool (kernel = stride = pool size, floor), and
    /// nearest-neighbour upsampling as two Gathers whose indices are read from the network's own Upsample module.
    /// </summary>
    private static string ConvolutionalStack(IOnnxGraph g, string side, Sequential modules, IReadOnlyList<PlannedLayer> plan, ConvolutionalAutoencoderNetwork network, string x)
    {
        var conv = network.Spec.Convolution;
        foreach (var (name, module) in modules.named_children())
        {
            string scope = $"{side}.{name}";
            x = module switch
            {
                Convolution c => g.Node(scope, "Conv", new[] { x, g.Initializer(scope + ".weight", c.Weight), g.Initializer(scope + ".bias", c.Bias) }, null,
                    new OnnxAttribute("kernel_shape", Ints: c.Weight.shape[2..]),
                    new OnnxAttribute("strides", Ints: c.Stride.ToArray()),
                    new OnnxAttribute("pads", Ints: new[] { c.Padding[0], c.Padding[1], c.Padding[0], c.Padding[1] })),
                TransposedConvolution t => g.Node(scope, "ConvTranspose", new[] { x, g.Initializer(scope + ".weight", t.Weight), g.Initializer(scope + ".bias", t.Bias) }, null,
                    new OnnxAttribute("kernel_shape", Ints: t.Weight.shape[2..]),
                    new OnnxAttribute("strides", Ints: t.Stride.ToArray()),
                    new OnnxAttribute("pads", Ints: new[] { t.Padding[0], t.Padding[1], t.Padding[0], t.Padding[1] }),
                    new OnnxAttribute("output_padding", Ints: t.OutputPadding.ToArray())),
                BatchNorm2d bn => g.Node(scope, "BatchNormalization", new[]
                    {
                        x, g.Initializer(scope + ".weight", bn.weight!), g.Initializer(scope + ".bias", bn.bias!),
                        g.Initializer(scope + ".running_mean", bn.running_mean!), g.Initializer(scope + ".running_var", bn.running_var!),
                    }, null, new OnnxAttribute("epsilon", Float: (float)bn.eps)),
                MaxPool2d => Pool(g, scope, x, plan[Index(name, "pool")].PoolSize),
                Upsample up => Upsample(g, scope, x, up, plan[Index(name, "up")]),
                _ when name.StartsWith("act", StringComparison.Ordinal) => g.Activate(scope, x, conv.Activation, null),
                _ when name == "output_act" => g.Activate(scope, x, network.OutputActivation, null),
                _ => throw new NotSupportedException($"The {side}'s module '{name}' is a {module.GetType().Name}, which the ONNX exporter does not know."),
            };
        }
        return x;

        static int Index(string name, string stem) => int.Parse(name.AsSpan(stem.Length), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Pool(IOnnxGraph g, string scope, string x, int size) => g.Node(scope, "MaxPool", new[] { x }, null,
        new OnnxAttribute("kernel_shape", Ints: new long[] { size, size }), new OnnxAttribute("strides", Ints: new long[] { size, size }));

    /// <summary>
    /// Nearest-neighbour upsampling to the planned size, with the very source pixel the library's Upsample module picks
    /// for each output pixel: the module is run on an image of pixel numbers (float64, exact), the rows and columns it
    /// picked become two Gather index lists. (ONNX's Resize computes its own scale and can round differently.)
    /// </summary>
    private static string Upsample(IOnnxGraph g, string scope, string x, Upsample module, PlannedLayer layer)
    {
        var (h, w) = layer.Input;
        var (outH, outW) = layer.UpsampleTo ?? throw new InvalidOperationException($"{layer.Name} has no upsampling size.");
        using var numbers = arange(0, (long)h * w, dtype: ScalarType.Float64).reshape(1, 1, h, w);
        using var picked = module.forward(numbers);
        var source = TensorSpans.ToArray<double>(picked.reshape(-1));
        if (source.Length != (long)outH * outW)
            throw new InvalidOperationException($"{layer.Name}: the upsampling module gave {source.Length} pixels, not {outH}x{outW}.");
        var rows = Enumerable.Range(0, outH).Select(i => (long)source[i * outW] / w).ToArray();
        var cols = Enumerable.Range(0, outW).Select(j => (long)source[j] % w).ToArray();
        for (int i = 0; i < outH; i++)
            for (int j = 0; j < outW; j++)
                if ((long)source[i * outW + j] != rows[i] * w + cols[j])
                    throw new NotSupportedException($"{layer.Name}: the upsampling does not pick rows and columns independently, so two Gathers cannot express it.");
        string byRow = g.Node(scope, "Gather", new[] { x, g.Ints(scope + ".rows", rows) }, null, new OnnxAttribute("axis", Int: 2));
        return g.Node(scope, "Gather", new[] { byRow, g.Ints(scope + ".columns", cols) }, null, new OnnxAttribute("axis", Int: 3));
    }
}
