using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Onnx;

/// <summary>
/// Builds the ONNX graph of a dense, convolutional or recurrent autoencoder, layer by layer, from the live network: the
/// same weights, the same activations, the same code (the posterior mean for a Gaussian head), the same reconstruction
/// (decoded from that code) and the same per-row error, mean((reconstruction - input)^2) over the features, that
/// <see cref="AutoencoderModel"/>'s forward pass computes. Dense layers (a dense body, or the dense code inside another)
/// are written here; a body around the dense code writes its own layers through <see cref="IOnnxGraph"/>
/// (<see cref="IOnnxBody"/>): a convolutional body reads its flat rows as NCHW inside the graph and gives them back in
/// the same pixel order, a recurrent body runs ONNX's LSTM and GRU operators with libtorch's gate blocks reordered. Only standard operators of
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
        if (network is not (IDenseLayers or IOnnxBody))
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
                case IOnnxBody body:
                {
                    var core = body.DenseCode;
                    string features = body.ExportFeatures(g, input, core is null ? latent : null);
                    var tied = core is null ? null : EncodeDense(g, core, "core.", features, latent, logVarianceOutput);
                    if (whole) decoded = body.ExportRows(g, core is null ? latent : DecodeDense(g, core, "core.", tied!, latent, null), reconstruction);
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

    /// <summary>Collects nodes, initializers, inputs and outputs, giving every value, node and initializer a unique name.</summary>
    private sealed class GraphBuilder : IOnnxGraph
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
