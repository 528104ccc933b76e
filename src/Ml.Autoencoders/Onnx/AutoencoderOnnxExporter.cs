using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;
using TorchSharp.Modules;
using Convolution = Ml.Autoencoders.Networks.Convolutional.Convolution;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Onnx;

/// <summary>
/// Builds the ONNX graph of a dense, convolutional or recurrent autoencoder, layer by layer, from the live network: the
/// same weights, the same activations, the same code (the posterior mean for a Gaussian head), the same reconstruction
/// (decoded from that code) and the same per-row error, mean((reconstruction - input)^2) over the features, that
/// <see cref="AutoencoderModel"/>'s forward pass computes. A convolutional body reads its flat rows as NCHW inside the
/// graph (Reshape, and a Transpose for interleaved or one-channel rows) and gives them back in the same pixel order; a
/// recurrent body runs ONNX's LSTM and GRU operators with libtorch's gate blocks reordered. Only standard operators of
/// the default domain appear (Gemm, MatMul, Conv, ConvTranspose, BatchNormalization, MaxPool, Gather, LSTM, GRU, the
/// activations, and shape operators): no functions, no subgraphs, no custom domains, no external data. Custom bodies
/// (user code) are refused. Not reproduced: the library's redo of a row whose pass overflows (inputs a million times the
/// training range away), and the error's saturation at float.MaxValue.
/// </summary>
internal static class AutoencoderOnnxExporter
{
    /// <summary>IR version 8 (ONNX 1.10+): every ONNX Runtime since 1.10 reads it.</summary>
    public const long IrVersion = 8;

    /// <summary>
    /// Opset 17 of the default domain: supported by ONNX Runtime 1.13 and later (and by converters and scorers that
    /// lag behind the newest opset). GELU is therefore spelled with Erf (the Gelu operator arrived in opset 20).
    /// </summary>
    public const long OpsetVersion = 17;

    /// <summary>The symbolic batch dimension of every input and output.</summary>
    public const string BatchDimension = "N";

    /// <summary>The model's producer name.</summary>
    public const string ProducerName = "Ml.Autoencoders";

    /// <summary>Protobuf messages are limited to 2 GiB; weights beyond this (with room for the graph) cannot be exported.</summary>
    private const long MaxWeightBytes = int.MaxValue - (64L << 20);

    /// <summary>Writes the ONNX model of <paramref name="parts"/> of <paramref name="transformer"/> to <paramref name="stream"/>.</summary>
    public static void Write(AutoencoderTransformer transformer, AutoencoderOnnxParts parts, Stream stream)
    {
        var model = Build(transformer, parts);
        OnnxProtoWriter.Write(model, stream);
    }

    /// <summary>The ONNX model of <paramref name="parts"/> of <paramref name="transformer"/>.</summary>
    /// <exception cref="NotSupportedException">The body is a custom one (user code), or the weights exceed the 2 GiB protobuf limit.</exception>
    /// <exception cref="ArgumentException">Two of the exported column names are equal.</exception>
    public static OnnxModel Build(AutoencoderTransformer transformer, AutoencoderOnnxParts parts)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        if (!Enum.IsDefined(parts)) throw new ArgumentOutOfRangeException(nameof(parts), parts, "Choose Encoder or Autoencoder.");
        var network = transformer.Model.Network; // ObjectDisposedException once the model is disposed
        if (network is not (IDenseLayers or ConvolutionalAutoencoderNetwork or RecurrentAutoencoderNetwork))
            throw new NotSupportedException(
                $"ONNX export covers dense, convolutional and recurrent bodies; this model's body is user code ({network.GetType().Name}: {network.Description}), " +
                "whose modules have no known ONNX form. Score it with Transform, or use one of the built-in bodies to export it.");

        var options = transformer.OptionsView;
        bool whole = parts == AutoencoderOnnxParts.Autoencoder;
        bool gaussian = network.Head == LatentHead.Gaussian;
        string input = transformer.InputColumnName;
        string latent = options.LatentColumnName;
        string reconstruction = options.ReconstructionColumnName;
        string error = options.ReconstructionErrorColumnName;
        string logVariance = options.LatentLogVarianceColumnName;
        var columns = new List<string> { input, latent };
        if (whole) columns.AddRange(gaussian ? new[] { reconstruction, error, logVariance } : new[] { reconstruction, error });
        if (columns.Distinct(StringComparer.Ordinal).Count() != columns.Count)
            throw new ArgumentException($"ONNX values need distinct names; the columns to export are {string.Join(", ", columns.Select(c => $"'{c}'"))}. Rename them in AutoencoderOptions before training.", nameof(transformer));

        long weightBytes = network.parameters().Sum(p => p.numel()) * sizeof(float);
        if (weightBytes > MaxWeightBytes)
            throw new NotSupportedException($"The weights take {weightBytes} bytes; an ONNX model is one protobuf message, limited to 2 GiB (external weight files are not written).");

        var g = new GraphBuilder(columns);
        using (NewDisposeScope())
        {
            string? logVarianceOutput = whole && gaussian ? logVariance : null;
            string? decoded = null; // the reconstruction column, once written
            switch (network)
            {
                case IDenseLayers dense:
                {
                    var tied = EncodeDense(g, dense, "", input, latent, logVarianceOutput);
                    if (whole) decoded = DecodeDense(g, dense, "", tied, latent, reconstruction);
                    break;
                }
                case ConvolutionalAutoencoderNetwork conv:
                {
                    var core = conv.DenseCode;
                    string features = ConvolutionalFeatures(g, conv, input, core is null ? latent : null);
                    var tied = core is null ? null : EncodeDense(g, core, "core.", features, latent, logVarianceOutput);
                    if (whole) decoded = ConvolutionalRows(g, conv, core is null ? latent : DecodeDense(g, core, "core.", tied!, latent, null), reconstruction);
                    break;
                }
                case RecurrentAutoencoderNetwork recurrent:
                {
                    var core = recurrent.DenseCode;
                    string state = RecurrentFeatures(g, recurrent, input);
                    var tied = EncodeDense(g, core, "core.", state, latent, logVarianceOutput);
                    if (whole) decoded = RecurrentRows(g, recurrent, DecodeDense(g, core, "core.", tied, latent, null), reconstruction);
                    break;
                }
            }
            g.Output(latent, network.LatentDimension);
            if (whole)
            {
                if (decoded != reconstruction) throw new InvalidOperationException("The exporter did not name the reconstruction after its column.");
                // Error as AutoencoderModel.RunCore computes it: (r - x).square().mean(dim 1), from the reconstruction of the code above.
                string difference = g.Node("error", "Sub", new[] { reconstruction, input });
                string squared = g.Node("error", "Mul", new[] { difference, difference });
                g.Node("error", "ReduceMean", new[] { squared }, error, new OnnxAttribute("axes", Ints: new[] { 1L }), new OnnxAttribute("keepdims", Int: 0));
                g.Output(reconstruction, network.InputSize); // the order Transform appends them in
                g.Output(error, null);
                if (gaussian) g.Output(logVariance, network.LatentDimension);
            }
        }
        g.Input(input, network.InputSize);

        var model = transformer.Model;
        string what = whole ? $"{input} -> {string.Join(", ", columns.Skip(1))}" : $"{input} -> {latent}";
        return new OnnxModel(IrVersion, OpsetVersion, ProducerName,
            typeof(AutoencoderOnnxExporter).Assembly.GetName().Version?.ToString() ?? "0",
            $"{(whole ? "Autoencoder" : "Encoder")} of {model.Architecture}: {what}.",
            g.Build(whole ? "autoencoder" : "encoder"),
            new[]
            {
                new KeyValuePair<string, string>("ml_autoencoders.parts", parts.ToString()),
                new KeyValuePair<string, string>("ml_autoencoders.architecture", model.Architecture),
            });
    }

    /// <summary>
    /// The dense encoder of <paramref name="layers"/> (names prefixed by <paramref name="prefix"/>) on
    /// <paramref name="input"/>: its code is named <paramref name="latent"/>, and a Gaussian head's log-variance
    /// <paramref name="logVariance"/> when that is set. Returns the encoder weights' names, which tied decoder layers reuse.
    /// </summary>
    private static Dictionary<Linear, string> EncodeDense(GraphBuilder g, IDenseLayers layers, string prefix, string input, string latent, string? logVariance)
    {
        var weights = new Dictionary<Linear, string>(ReferenceEqualityComparer.Instance);
        var encoder = layers.EncoderLayers;
        bool gaussian = layers.LogVarianceLayer is not null;
        string h = input, lastHidden = input;
        for (int i = 0; i < encoder.Count; i++)
        {
            var (linear, activation) = encoder[i];
            string layer = prefix + (gaussian && i == encoder.Count - 1 ? "mean" : $"encoder.linear{i}");
            lastHidden = h;
            string weight = g.Initializer(layer + ".weight", linear.weight!);
            weights[linear] = weight;
            h = g.Dense(layer, h, weight, transposeWeight: true, Bias(g, layer, linear.bias), activation, i == encoder.Count - 1 ? latent : null);
        }
        if (logVariance is not null)
        {
            var lv = layers.LogVarianceLayer ?? throw new InvalidOperationException("A log-variance output needs a Gaussian head.");
            string layer = prefix + "log_variance";
            string weight = g.Initializer(layer + ".weight", lv.weight!);
            g.Dense(layer, lastHidden, weight, transposeWeight: true, Bias(g, layer, lv.bias), Activation.Linear, logVariance);
        }
        return weights;
    }

    /// <summary>The dense decoder of <paramref name="layers"/> from <paramref name="code"/>; its result is named <paramref name="output"/> when set.</summary>
    private static string DecodeDense(GraphBuilder g, IDenseLayers layers, string prefix, Dictionary<Linear, string> encoderWeights, string code, string? output)
    {
        var decoder = layers.DecoderLayers;
        string r = code;
        for (int j = 0; j < decoder.Count; j++)
        {
            var (module, activation) = decoder[j];
            string layer = $"{prefix}decoder.linear{j}";
            string? name = j == decoder.Count - 1 ? output : null;
            r = module switch
            {
                // Tied: y = x W_enc + b, i.e. Gemm with the encoder layer's own [out, in] weight untransposed; the bias is the decoder's.
                TiedLinear tied => g.Dense(layer, r, encoderWeights[tied.Source], transposeWeight: false, Bias(g, layer, tied.Bias), activation, name),
                Linear linear => g.Dense(layer, r, g.Initializer(layer + ".weight", linear.weight!), transposeWeight: true, Bias(g, layer, linear.bias), activation, name),
                _ => throw new NotSupportedException($"Decoder layer {j} is a {module.GetType().Name}, which the ONNX exporter does not know."),
            };
        }
        return r;
    }

    private static string? Bias(GraphBuilder g, string layer, Tensor? bias) => bias is null ? null : g.Initializer(layer + ".bias", bias);

    /// <summary>
    /// Flat rows to the encoder's last feature map flattened channel-major, as ConvolutionalAutoencoderNetwork.Features
    /// computes it: interleaved (or one-channel) rows are read as [N, H, W, C] and transposed to NCHW, planar rows are
    /// [N, C, H, W] already; then every encoder module in order.
    /// </summary>
    private static string ConvolutionalFeatures(GraphBuilder g, ConvolutionalAutoencoderNetwork network, string input, string? output)
    {
        var image = network.Plan.Image;
        string x = network.PixelMajor
            ? g.Node("encoder.image", "Transpose", new[] { g.Reshape("encoder.image", input, 0, image.Height, image.Width, image.Channels) }, null, new OnnxAttribute("perm", Ints: new[] { 0L, 3, 1, 2 }))
            : g.Reshape("encoder.image", input, 0, image.Channels, image.Height, image.Width);
        x = ConvolutionalStack(g, "encoder", network.EncoderModules, network.Plan.Encoder, network, x);
        return g.Node("encoder.flatten", "Flatten", new[] { x }, output, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>The code map's features (flattened channel-major) back to flat rows in the declared pixel order.</summary>
    private static string ConvolutionalRows(GraphBuilder g, ConvolutionalAutoencoderNetwork network, string features, string output)
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
    private static string ConvolutionalStack(GraphBuilder g, string side, Sequential modules, IReadOnlyList<PlannedLayer> plan, ConvolutionalAutoencoderNetwork network, string x)
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

    private static string Pool(GraphBuilder g, string scope, string x, int size) => g.Node(scope, "MaxPool", new[] { x }, null,
        new OnnxAttribute("kernel_shape", Ints: new long[] { size, size }), new OnnxAttribute("strides", Ints: new long[] { size, size }));

    /// <summary>
    /// Nearest-neighbour upsampling to the planned size, with the very source pixel the library's Upsample module picks
    /// for each output pixel: the module is run on an image of pixel numbers (float64, exact), the rows and columns it
    /// picked become two Gather index lists. (ONNX's Resize computes its own scale and can round differently.)
    /// </summary>
    private static string Upsample(GraphBuilder g, string scope, string x, Upsample module, PlannedLayer layer)
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

    /// <summary>
    /// Flat rows (step by step) to the encoder's last layer's final state [N, directions x hidden], as
    /// RecurrentAutoencoderNetwork.Features computes it: the window as [steps, N, features] through one ONNX LSTM or GRU
    /// node per layer, each layer reading the previous one's outputs (both directions side by side), and the last
    /// layer's final states (forward, then reverse) side by side per row.
    /// </summary>
    private static string RecurrentFeatures(GraphBuilder g, RecurrentAutoencoderNetwork network, string input)
    {
        var r = network.Spec.Recurrent;
        string x = g.Node("encoder.sequence", "Transpose", new[] { g.Reshape("encoder.sequence", input, 0, r.Steps, r.Features) }, null,
            new OnnxAttribute("perm", Ints: new[] { 1L, 0, 2 }));
        string final = x;
        for (int layer = 0; layer < r.Layers; layer++)
        {
            var (y, yh) = Cell(g, "encoder", network.EncoderCell, r.Cell, layer, r.Bidirectional, r.HiddenSize, x);
            x = StepOutputs(g, $"encoder.l{layer}", y);
            final = yh;
        }
        // Y_h: [directions, N, hidden] -> [N, directions x hidden].
        string perRow = g.Node("encoder.state", "Transpose", new[] { final }, null, new OnnxAttribute("perm", Ints: new[] { 1L, 0, 2 }));
        return g.Node("encoder.state", "Flatten", new[] { perRow }, null, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>
    /// The repeat-vector decoder, as RecurrentAutoencoderNetwork.Rows computes it: the state-sized vector repeated at
    /// every step, the decoder's layers, then the per-step linear layer and the output activation, flattened step by step.
    /// </summary>
    private static string RecurrentRows(GraphBuilder g, RecurrentAutoencoderNetwork network, string state, string output)
    {
        var r = network.Spec.Recurrent;
        string once = g.Node("decoder.repeat", "Unsqueeze", new[] { state, g.Ints("decoder.repeat.axes", new[] { 0L }) });
        string x = g.Node("decoder.repeat", "Expand", new[] { once, g.Ints("decoder.repeat.shape", new long[] { r.Steps, 1, 1 }) });
        for (int layer = 0; layer < r.Layers; layer++)
        {
            var (y, _) = Cell(g, "decoder", network.DecoderCell, r.Cell, layer, bidirectional: false, r.HiddenSize, x);
            x = StepOutputs(g, $"decoder.l{layer}", y);
        }
        string batchFirst = g.Node("output", "Transpose", new[] { x }, null, new OnnxAttribute("perm", Ints: new[] { 1L, 0, 2 })); // [N, steps, hidden]
        var linear = network.OutputLayer;
        using var weightT = linear.weight!.t();
        string product = g.Node("output", "MatMul", new[] { batchFirst, g.Initializer("output.weight_transposed", weightT) });
        string shifted = g.Node("output", "Add", new[] { product, g.Initializer("output.bias", linear.bias!) });
        string activated = g.Activate("output", shifted, network.OutputActivation, null);
        return g.Node("output", "Flatten", new[] { activated }, output, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>An LSTM/GRU node's Y [steps, directions, N, hidden] as the next layer's input [steps, N, directions x hidden].</summary>
    private static string StepOutputs(GraphBuilder g, string scope, string y)
    {
        string t = g.Node(scope, "Transpose", new[] { y }, null, new OnnxAttribute("perm", Ints: new[] { 0L, 2, 1, 3 }));
        return g.Reshape(scope, t, 0, 0, -1);
    }

    /// <summary>
    /// One layer of a cell stack as an ONNX LSTM or GRU node; returns its Y and Y_h. libtorch's gate blocks are reordered
    /// to ONNX's: LSTM (i, f, g, o) to (i, o, f, c); GRU (r, z, n) to (z, r, h), with linear_before_reset = 1, which is
    /// libtorch's GRU (the reset gate multiplies the hidden product with its bias). W, R and B hold the directions in
    /// order (forward, then reverse), B each direction's input bias then hidden bias.
    /// </summary>
    private static (string Y, string Yh) Cell(GraphBuilder g, string side, nn.Module cells, RecurrentCell cell, int layer, bool bidirectional, int hidden, string x)
    {
        var parameters = cells.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        long[] order = cell == RecurrentCell.Lstm ? new[] { 0L, 3, 1, 2 } : new[] { 1L, 0, 2 };
        Tensor Reorder(string name)
        {
            var p = parameters.TryGetValue(name, out var found) ? found
                : throw new InvalidOperationException($"The {side}'s {cell} has no parameter '{name}'.");
            var blocks = p.detach().chunk(order.Length, 0);
            return cat(order.Select(i => blocks[i]).ToArray(), 0);
        }
        var suffixes = bidirectional ? new[] { $"_l{layer}", $"_l{layer}_reverse" } : new[] { $"_l{layer}" };
        string scope = $"{side}.l{layer}";
        string w = g.Initializer(scope + ".W", stack(suffixes.Select(s => Reorder("weight_ih" + s)).ToArray(), 0));
        string rec = g.Initializer(scope + ".R", stack(suffixes.Select(s => Reorder("weight_hh" + s)).ToArray(), 0));
        string b = g.Initializer(scope + ".B", stack(suffixes.Select(s => cat(new[] { Reorder("bias_ih" + s), Reorder("bias_hh" + s) }, 0)).ToArray(), 0));
        var attributes = new List<OnnxAttribute> { new("hidden_size", Int: hidden) };
        if (bidirectional) attributes.Add(new OnnxAttribute("direction", Text: "bidirectional"));
        if (cell == RecurrentCell.Gru) attributes.Add(new OnnxAttribute("linear_before_reset", Int: 1));
        string op = cell == RecurrentCell.Lstm ? "LSTM" : "GRU";
        var outputs = g.Nodes(scope, op, new[] { x, w, rec, b }, 2, attributes.ToArray());
        return (outputs[0], outputs[1]);
    }

    /// <summary>Collects nodes, initializers, inputs and outputs, giving every value, node and initializer a unique name.</summary>
    private sealed class GraphBuilder
    {
        private readonly HashSet<string> used = new(StringComparer.Ordinal);
        private readonly List<OnnxNode> nodes = new();
        private readonly List<OnnxTensor> initializers = new();
        private readonly List<OnnxValueInfo> inputs = new(), outputs = new();
        private readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);

        /// <summary>The column names are reserved first: no internal name can take one.</summary>
        public GraphBuilder(IEnumerable<string> columnNames)
        {
            foreach (var name in columnNames) used.Add(name);
        }

        /// <summary><paramref name="name"/>, or name_1, name_2, ... when it is taken.</summary>
        private string Unique(string name)
        {
            string candidate = name;
            for (int k = 1; !used.Add(candidate); k++) candidate = $"{name}_{k}";
            return candidate;
        }

        public string Initializer(string name, Tensor value)
        {
            using var contiguous = value.detach().cpu().to_type(ScalarType.Float32).contiguous();
            var values = TensorSpans.ToArray<float>(contiguous);
            string unique = Unique(name);
            initializers.Add(new OnnxTensor(unique, value.shape.ToArray(), values));
            return unique;
        }

        /// <summary>A rank-0 float constant, shared by every node that needs it.</summary>
        private string Constant(string name, float value)
        {
            if (constants.TryGetValue(name, out var existing)) return existing;
            string unique = Unique(name);
            initializers.Add(new OnnxTensor(unique, Array.Empty<long>(), new[] { value }));
            return constants[name] = unique;
        }

        /// <summary>A rank-1 int64 constant (a shape, axes or indices), shared by every node that needs the same values.</summary>
        public string Ints(string name, long[] values)
        {
            string key = "int64:" + string.Join(",", values);
            if (constants.TryGetValue(key, out var existing)) return existing;
            string unique = Unique(name);
            initializers.Add(new OnnxTensor(unique, new long[] { values.Length }, null, values));
            return constants[key] = unique;
        }

        /// <summary>A Reshape of <paramref name="x"/> to <paramref name="shape"/> (0 keeps that dimension of the input: the batch).</summary>
        public string Reshape(string scope, string x, params long[] shape) => Node(scope, "Reshape", new[] { x, Ints(scope + ".shape", shape) });

        /// <summary>One node with <paramref name="count"/> fresh outputs; returns them.</summary>
        public string[] Nodes(string scope, string opType, string[] nodeInputs, int count, params OnnxAttribute[] attributes)
        {
            var results = Enumerable.Range(0, count).Select(k => Unique($"{scope}.{opType}.output{k}")).ToArray();
            nodes.Add(new OnnxNode(Unique($"{scope}.{opType}"), opType, nodeInputs, results, attributes));
            return results;
        }

        /// <summary>One node; its output is <paramref name="output"/> (a column) or a fresh name. Returns the output.</summary>
        public string Node(string scope, string opType, string[] nodeInputs, string? output = null, params OnnxAttribute[] attributes)
        {
            string result = output ?? Unique($"{scope}.{opType}.output");
            nodes.Add(new OnnxNode(Unique($"{scope}.{opType}"), opType, nodeInputs, new[] { result }, attributes));
            return result;
        }

        /// <summary>y = activation(x W^T + b) (or x W + b when <paramref name="transposeWeight"/> is false, for a tied decoder layer).</summary>
        public string Dense(string layer, string x, string weight, bool transposeWeight, string? bias, Activation activation, string? output)
        {
            var gemmInputs = bias is null ? new[] { x, weight } : new[] { x, weight, bias };
            string a = Node(layer, "Gemm", gemmInputs, activation == Activation.Linear ? output : null, new OnnxAttribute("transB", Int: transposeWeight ? 1 : 0));
            return Activate(layer, a, activation, output);
        }

        /// <summary>The activation of <paramref name="x"/>, with the constants the library uses (Activations.Create).</summary>
        public string Activate(string layer, string x, Activation activation, string? output)
        {
            switch (activation)
            {
                case Activation.Linear: return x;
                case Activation.ReLU: return Node(layer, "Relu", new[] { x }, output);
                case Activation.LeakyReLU: return Node(layer, "LeakyRelu", new[] { x }, output, new OnnxAttribute("alpha", Float: 0.01f));
                // torch.nn.SELU's constants (alpha 1.6732632423543772, scale 1.0507009873554805) as float32, which is what ONNX's attributes hold.
                case Activation.SELU: return Node(layer, "Selu", new[] { x }, output, new OnnxAttribute("alpha", Float: 1.6732632423543772f), new OnnxAttribute("gamma", Float: 1.0507009873554805f));
                case Activation.Tanh: return Node(layer, "Tanh", new[] { x }, output);
                case Activation.Sigmoid: return Node(layer, "Sigmoid", new[] { x }, output);
                case Activation.GELU:
                    // torch.nn.GELU() is the exact GELU (approximate = "none"): x * 0.5 * (1 + erf(x / sqrt 2)).
                    string scaled = Node(layer, "Mul", new[] { x, Constant("gelu.sqrt_half", 0.70710678118654752f) });
                    string erf = Node(layer, "Erf", new[] { scaled });
                    string onePlus = Node(layer, "Add", new[] { erf, Constant("gelu.one", 1f) });
                    string product = Node(layer, "Mul", new[] { x, onePlus });
                    return Node(layer, "Mul", new[] { product, Constant("gelu.half", 0.5f) }, output);
                default: throw new NotSupportedException($"Activation {activation} has no ONNX form in this exporter.");
            }
        }

        /// <summary>A graph input [N, <paramref name="width"/>].</summary>
        public void Input(string name, int width) => inputs.Add(new OnnxValueInfo(name, new[] { new OnnxDim(0, BatchDimension), new OnnxDim(width) }));

        /// <summary>A graph output [N, <paramref name="width"/>], or [N] when <paramref name="width"/> is null (one value per row).</summary>
        public void Output(string name, int? width) => outputs.Add(new OnnxValueInfo(name,
            width is { } w ? new[] { new OnnxDim(0, BatchDimension), new OnnxDim(w) } : new[] { new OnnxDim(0, BatchDimension) }));

        public OnnxGraph Build(string name) => new(name, nodes, initializers, inputs, outputs);
    }
}
