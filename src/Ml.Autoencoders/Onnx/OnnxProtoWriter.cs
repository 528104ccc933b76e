using System.Buffers.Binary;
using Google.Protobuf;
using Ml.Autoencoders.Networks;
using static Google.Protobuf.WireFormat;

namespace Ml.Autoencoders.Onnx;

// Why the protobuf is written by hand with Google.Protobuf's CodedOutputStream rather than through an ONNX package:
// an exported autoencoder needs eight ONNX messages and a handful of their fields (listed below with their numbers
// from onnx/onnx.proto3), all of them plain data. Google.Protobuf is Google's own, well-kept runtime and the one
// ML.NET's OnnxTransformer already depends on, so the library gains no second serializer and no code generated
// from a .proto; the ONNX packages on NuGet either are far larger (Microsoft.ML.OnnxConverter, whose protobuf
// classes are internal) or wrap generated classes pinned to older protobuf runtimes (OnnxSharp 0.3).
// Fields are written in ascending field-number order, as protoc would; every parser accepts any order.

/// <summary>An ONNX model: one graph in the default operator domain.</summary>
internal sealed record OnnxModel(long IrVersion, long OpsetVersion, string ProducerName, string ProducerVersion, string DocString, OnnxGraph Graph,
    IReadOnlyList<KeyValuePair<string, string>> Metadata);

/// <summary>An ONNX graph: nodes in topological order, float32 initializers, typed inputs and outputs.</summary>
internal sealed record OnnxGraph(string Name, IReadOnlyList<OnnxNode> Nodes, IReadOnlyList<OnnxTensor> Initializers,
    IReadOnlyList<OnnxValueInfo> Inputs, IReadOnlyList<OnnxValueInfo> Outputs);

/// <summary>One operator of the default ("ai.onnx") domain.</summary>
internal sealed record OnnxNode(string Name, string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, IReadOnlyList<OnnxAttribute> Attributes);

/// <summary>
/// A float32 tensor (<see cref="Values"/>) or an int64 tensor (<see cref="Int64Values"/>: shapes, axes and indices),
/// stored as little-endian raw data inside the model (never external data).
/// </summary>
internal sealed record OnnxTensor(string Name, long[] Dims, float[]? Values, long[]? Int64Values = null);

/// <summary>A float32 tensor value: its name and shape; a dimension is a size, or a symbol when <see cref="OnnxDim.Symbol"/> is set.</summary>
internal sealed record OnnxValueInfo(string Name, IReadOnlyList<OnnxDim> Shape);

/// <summary>One dimension of a value's shape: a fixed size or a symbolic name such as "N".</summary>
internal readonly record struct OnnxDim(long Size, string? Symbol = null);

/// <summary>Serializes <see cref="OnnxModel"/> as an ONNX ModelProto.</summary>
internal static class OnnxProtoWriter
{
    private const int FloatDataType = 1, Int64DataType = 7;      // TensorProto.DataType.FLOAT, INT64
    private const int AttributeFloat = 1, AttributeInt = 2, AttributeString = 3, AttributeInts = 7; // AttributeProto.AttributeType

    /// <summary>Writes <paramref name="model"/> to <paramref name="stream"/> (left open).</summary>
    public static void Write(OnnxModel model, Stream stream)
    {
        using var output = new CodedOutputStream(stream, leaveOpen: true);
        // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7,
        // opset_import = 8, metadata_props = 14.
        Int64(output, 1, model.IrVersion);
        String(output, 2, model.ProducerName);
        String(output, 3, model.ProducerVersion);
        String(output, 6, model.DocString);
        Message(output, 7, o => Graph(o, model.Graph));
        // OperatorSetIdProto: domain = 1 (empty: the default "ai.onnx" domain, so not written), version = 2.
        Message(output, 8, o => Int64(o, 2, model.OpsetVersion));
        foreach (var (key, value) in model.Metadata)
            Message(output, 14, o => { String(o, 1, key); String(o, 2, value); }); // StringStringEntryProto: key = 1, value = 2
        output.Flush();
    }

    /// <summary>GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.</summary>
    private static void Graph(CodedOutputStream o, OnnxGraph graph)
    {
        foreach (var node in graph.Nodes) Message(o, 1, n => Node(n, node));
        String(o, 2, graph.Name);
        foreach (var tensor in graph.Initializers) Message(o, 5, t => Tensor(t, tensor));
        foreach (var input in graph.Inputs) Message(o, 11, v => ValueInfo(v, input));
        foreach (var output in graph.Outputs) Message(o, 12, v => ValueInfo(v, output));
    }

    /// <summary>NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5 (domain = 7 left empty: the default domain).</summary>
    private static void Node(CodedOutputStream o, OnnxNode node)
    {
        foreach (var input in node.Inputs) String(o, 1, input, always: true);
        foreach (var output in node.Outputs) String(o, 2, output, always: true);
        String(o, 3, node.Name);
        String(o, 4, node.OpType);
        foreach (var attribute in node.Attributes) Message(o, 5, a => Attribute(a, attribute));
    }

    /// <summary>AttributeProto: name = 1, f = 2, i = 3, s = 4, ints = 8, type = 20.</summary>
    private static void Attribute(CodedOutputStream o, OnnxAttribute attribute)
    {
        String(o, 1, attribute.Name);
        int type;
        if (attribute.Float is { } f)
        {
            o.WriteTag(2, WireType.Fixed32);
            o.WriteFloat(f);
            type = AttributeFloat;
        }
        else if (attribute.Int is { } i)
        {
            o.WriteTag(3, WireType.Varint);
            o.WriteInt64(i);
            type = AttributeInt;
        }
        else if (attribute.Text is { } text)
        {
            o.WriteTag(4, WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFromUtf8(text));
            type = AttributeString;
        }
        else if (attribute.Ints is { } ints)
        {
            foreach (long v in ints) // unpacked repeated int64: accepted by every protobuf parser
            {
                o.WriteTag(8, WireType.Varint);
                o.WriteInt64(v);
            }
            type = AttributeInts;
        }
        else throw new InvalidOperationException($"Attribute '{attribute.Name}' has no value.");
        o.WriteTag(20, WireType.Varint);
        o.WriteInt32(type);
    }

    /// <summary>TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (float32 or int64, little-endian).</summary>
    private static void Tensor(CodedOutputStream o, OnnxTensor tensor)
    {
        foreach (long d in tensor.Dims)
        {
            o.WriteTag(1, WireType.Varint);
            o.WriteInt64(d);
        }
        o.WriteTag(2, WireType.Varint);
        byte[] raw;
        if (tensor.Int64Values is { } longs)
        {
            o.WriteInt32(Int64DataType);
            raw = new byte[checked(longs.Length * sizeof(long))];
            for (int i = 0; i < longs.Length; i++)
                BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * sizeof(long)), longs[i]);
        }
        else
        {
            var values = tensor.Values ?? throw new InvalidOperationException($"Tensor '{tensor.Name}' has no values.");
            o.WriteInt32(FloatDataType);
            raw = new byte[checked(values.Length * sizeof(float))];
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), values[i]);
        }
        String(o, 8, tensor.Name);
        o.WriteTag(9, WireType.LengthDelimited);
        o.WriteBytes(UnsafeByteOperations.UnsafeWrap(raw));
    }

    /// <summary>
    /// ValueInfoProto: name = 1, type = 2. TypeProto: tensor_type = 1. TypeProto.Tensor: elem_type = 1, shape = 2.
    /// TensorShapeProto: dim = 1. Dimension: dim_value = 1 or dim_param = 2.
    /// </summary>
    private static void ValueInfo(CodedOutputStream o, OnnxValueInfo value)
    {
        String(o, 1, value.Name);
        Message(o, 2, type => Message(type, 1, tensor =>
        {
            tensor.WriteTag(1, WireType.Varint);
            tensor.WriteInt32(FloatDataType);
            Message(tensor, 2, shape =>
            {
                foreach (var dim in value.Shape)
                    Message(shape, 1, d =>
                    {
                        if (dim.Symbol is { } symbol) String(d, 2, symbol);
                        else Int64(d, 1, dim.Size);
                    });
            });
        }));
    }

    private static void Int64(CodedOutputStream o, int field, long value)
    {
        o.WriteTag(field, WireType.Varint);
        o.WriteInt64(value);
    }

    /// <summary>A string field; empty strings are skipped (proto3's default) unless <paramref name="always"/> (repeated fields keep their positions).</summary>
    private static void String(CodedOutputStream o, int field, string value, bool always = false)
    {
        if (value.Length == 0 && !always) return;
        o.WriteTag(field, WireType.LengthDelimited);
        o.WriteString(value);
    }

    /// <summary>An embedded message: written to a buffer first, then as a length-delimited field.</summary>
    private static void Message(CodedOutputStream o, int field, Action<CodedOutputStream> body)
    {
        using var buffer = new MemoryStream();
        using (var inner = new CodedOutputStream(buffer, leaveOpen: true)) // disposing flushes, and leaves the buffer open
            body(inner);
        o.WriteTag(field, WireType.LengthDelimited);
        o.WriteBytes(UnsafeByteOperations.UnsafeWrap(buffer.GetBuffer().AsMemory(0, checked((int)buffer.Length))));
    }
}
