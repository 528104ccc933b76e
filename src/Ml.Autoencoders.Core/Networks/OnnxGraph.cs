using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>A float, int, ints or string attribute of an ONNX node (never a graph or a tensor).</summary>
internal sealed record OnnxAttribute(string Name, float? Float = null, long? Int = null, long[]? Ints = null, string? Text = null);

/// <summary>
/// What a body needs to describe its forward pass as an ONNX graph of the default operator domain: weights, int64
/// constants and nodes, every value named uniquely by the graph. The ONNX exporter (in the ML.NET adapter) implements it
/// and writes the file; each body knows only its own layers (<see cref="IOnnxBody"/>).
/// </summary>
internal interface IOnnxGraph
{
    /// <summary>A float32 initializer holding <paramref name="value"/> (copied now); returns its unique name.</summary>
    string Initializer(string name, Tensor value);

    /// <summary>A rank-1 int64 constant (a shape, axes or indices); returns its name.</summary>
    string Ints(string name, long[] values);

    /// <summary>One node; its output is <paramref name="output"/> (a column) or a fresh name. Returns the output.</summary>
    string Node(string scope, string opType, string[] inputs, string? output = null, params OnnxAttribute[] attributes);

    /// <summary>One node with <paramref name="count"/> fresh outputs; returns them.</summary>
    string[] Nodes(string scope, string opType, string[] inputs, int count, params OnnxAttribute[] attributes);

    /// <summary>A Reshape of <paramref name="x"/> to <paramref name="shape"/> (0 keeps that dimension of the input: the batch).</summary>
    string Reshape(string scope, string x, params long[] shape);

    /// <summary><paramref name="activation"/> of <paramref name="x"/>, with the constants the library uses; the identity returns <paramref name="x"/>.</summary>
    string Activate(string scope, string x, Activation activation, string? output);
}

/// <summary>
/// A capability of bodies built around the dense code (<c>AroundDenseCode</c>) whose own layers have an ONNX form: how
/// flat rows become the features the dense code reads, and how the features come back as rows, written as nodes that
/// compute what the network's forward pass computes. A body without it (a custom body) is refused by the exporter.
/// </summary>
internal interface IOnnxBody
{
    /// <summary>The dense code between the body's encoder and decoder; null when the features are the code.</summary>
    IDenseLayers? DenseCode { get; }

    /// <summary>Nodes from the rows <paramref name="input"/> [N, input size] to the features [N, features], named <paramref name="output"/> when set.</summary>
    string ExportFeatures(IOnnxGraph graph, string input, string? output);

    /// <summary>Nodes from the features <paramref name="features"/> back to rows [N, input size], named <paramref name="output"/>.</summary>
    string ExportRows(IOnnxGraph graph, string features, string output);
}
