using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Onnx;

/// <summary>
/// Builds the ONNX graph of a dense autoencoder, layer by layer, from the live network: the same weights, the same
/// activations, the same code (the posterior mean for a Gaussian head), the same reconstruction (decoded from that
/// code) and the same per-row error, mean((reconstruction - input)^2) over the features, that
/// <see cref="AutoencoderModel"/>'s forward pass computes. Only standard operators of the default domain appear
/// (Gemm, Relu, LeakyRelu, Selu, Tanh, Sigmoid, Erf, Mul, Add, Sub, ReduceMean): no functions, no subgraphs,
/// no custom domains, no external data.
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
    /// <exception cref="NotSupportedException">The body is convolutional, or the weights exceed the 2 GiB protobuf limit.</exception>
    /// <exception cref="ArgumentException">Two of the exported column names are equal.</exception>
    public static OnnxModel Build(AutoencoderTransformer transformer, AutoencoderOnnxParts parts)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        if (!Enum.IsDefined(parts)) throw new ArgumentOutOfRangeException(nameof(parts), parts, "Choose Encoder or Autoencoder.");
        var network = transformer.Model.Network; // ObjectDisposedException once the model is disposed
        if (network is not IDenseLayers layers)
            throw new NotSupportedException(
                $"ONNX export covers dense autoencoders only; this model has a convolutional body ({network.Description}). " +
                "Score it with Transform, or train a dense body (AutoencoderOptions.Body = null) to export it.");

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
            var weights = new Dictionary<Linear, string>(ReferenceEqualityComparer.Instance);
            var encoder = layers.EncoderLayers;
            string h = input, lastHidden = input;
            for (int i = 0; i < encoder.Count; i++)
            {
                var (linear, activation) = encoder[i];
                string layer = gaussian && i == encoder.Count - 1 ? "mean" : $"encoder.linear{i}";
                lastHidden = h;
                string weight = g.Initializer(layer + ".weight", linear.weight!);
                weights[linear] = weight;
                h = g.Dense(layer, h, weight, transposeWeight: true, Bias(g, layer, linear.bias), activation, i == encoder.Count - 1 ? latent : null);
            }
            g.Output(latent, network.LatentDimension);
            if (whole)
            {
                if (gaussian)
                {
                    var lv = layers.LogVarianceLayer!;
                    string weight = g.Initializer("log_variance.weight", lv.weight!);
                    g.Dense("log_variance", lastHidden, weight, transposeWeight: true, Bias(g, "log_variance", lv.bias), Activation.Linear, logVariance);
                }
                var decoder = layers.DecoderLayers;
                string r = latent;
                for (int j = 0; j < decoder.Count; j++)
                {
                    var (module, activation) = decoder[j];
                    string layer = $"decoder.linear{j}";
                    string? output = j == decoder.Count - 1 ? reconstruction : null;
                    r = module switch
                    {
                        // Tied: y = x W_enc + b, i.e. Gemm with the encoder layer's own [out, in] weight untransposed; the bias is the decoder's.
                        TiedLinear tied => g.Dense(layer, r, weights[tied.Source], transposeWeight: false, Bias(g, layer, tied.Bias), activation, output),
                        Linear linear => g.Dense(layer, r, g.Initializer(layer + ".weight", linear.weight!), transposeWeight: true, Bias(g, layer, linear.bias), activation, output),
                        _ => throw new NotSupportedException($"Decoder layer {j} is a {module.GetType().Name}, which the ONNX exporter does not know."),
                    };
                }
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

    private static string? Bias(GraphBuilder g, string layer, Tensor? bias) => bias is null ? null : g.Initializer(layer + ".bias", bias);

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
            var values = TensorSpans.ToArray<float>(value.detach().to_type(ScalarType.Float32));
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
        private string Activate(string layer, string x, Activation activation, string? output)
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
