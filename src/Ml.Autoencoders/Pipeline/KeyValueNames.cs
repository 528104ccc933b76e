using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// The key values of a label column (what <c>MapValueToKey</c> recorded), kept so predictions carry them: the
/// PredictedLabel column gets them as its KeyValues annotation (so <c>MapKeyToValue</c> works) and the Score
/// column gets their text as slot names. Text, floating-point, integer and Boolean values are supported.
/// </summary>
internal sealed class KeyValueNames
{
    /// <summary>ML.NET's annotation name for key values (see <see cref="AnnotationKinds"/>).</summary>
    internal const string KeyValuesKind = AnnotationKinds.KeyValues;

    private enum Kind { Text = 1, Single, Double, Int32, UInt32, Int64, UInt64, Boolean }

    private static readonly (Kind Kind, DataViewType Type)[] Types =
    {
        (Kind.Text, TextDataViewType.Instance), (Kind.Single, NumberDataViewType.Single), (Kind.Double, NumberDataViewType.Double),
        (Kind.Int32, NumberDataViewType.Int32), (Kind.UInt32, NumberDataViewType.UInt32), (Kind.Int64, NumberDataViewType.Int64),
        (Kind.UInt64, NumberDataViewType.UInt64), (Kind.Boolean, BooleanDataViewType.Instance),
    };

    private readonly Kind kind;
    private readonly string[] text; // invariant text of each value (slot names, and the stored form)

    private KeyValueNames(Kind kind, string[] text)
    {
        this.kind = kind;
        this.text = text;
    }

    /// <summary>Text of each class, in key order.</summary>
    public IReadOnlyList<string> Names => text;

    /// <summary>The key values of <paramref name="column"/>, or null when it has none or of an unsupported type.</summary>
    public static KeyValueNames? From(DataViewSchema.Column column, int classCount)
    {
        var annotation = column.Annotations.Schema.GetColumnOrNull(KeyValuesKind);
        if (annotation is not { Type: VectorDataViewType { Size: var size } vector } || size != classCount) return null;
        foreach (var (kind, type) in Types)
            if (vector.ItemType.Equals(type))
                return new KeyValueNames(kind, kind switch
                {
                    Kind.Text => Read<ReadOnlyMemory<char>>(column, m => m.ToString()),
                    Kind.Single => Read<float>(column, v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                    Kind.Double => Read<double>(column, v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                    Kind.Int32 => Read<int>(column, v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    Kind.UInt32 => Read<uint>(column, v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    Kind.Int64 => Read<long>(column, v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    Kind.UInt64 => Read<ulong>(column, v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    _ => Read<bool>(column, v => v ? "True" : "False"),
                });
        return null;
    }

    private static string[] Read<T>(DataViewSchema.Column column, Func<T, string> format)
    {
        VBuffer<T> values = default;
        column.Annotations.GetValue(KeyValuesKind, ref values);
        return values.DenseValues().Select(format).ToArray();
    }

    /// <summary>The KeyValues annotation for a key column over these classes.</summary>
    public DataViewSchema.Annotations KeyValuesAnnotation()
    {
        var builder = new DataViewSchema.Annotations.Builder();
        var type = new VectorDataViewType((PrimitiveDataViewType)Types.First(t => t.Kind == kind).Type, text.Length);
        switch (kind)
        {
            case Kind.Text: Add(builder, type, text.Select(t => t.AsMemory())); break;
            case Kind.Single: Add(builder, type, text.Select(t => float.Parse(t, System.Globalization.CultureInfo.InvariantCulture))); break;
            case Kind.Double: Add(builder, type, text.Select(t => double.Parse(t, System.Globalization.CultureInfo.InvariantCulture))); break;
            case Kind.Int32: Add(builder, type, text.Select(t => int.Parse(t, System.Globalization.CultureInfo.InvariantCulture))); break;
            case Kind.UInt32: Add(builder, type, text.Select(t => uint.Parse(t, System.Globalization.CultureInfo.InvariantCulture))); break;
            case Kind.Int64: Add(builder, type, text.Select(t => long.Parse(t, System.Globalization.CultureInfo.InvariantCulture))); break;
            case Kind.UInt64: Add(builder, type, text.Select(t => ulong.Parse(t, System.Globalization.CultureInfo.InvariantCulture))); break;
            default: Add(builder, type, text.Select(t => t == "True")); break;
        }
        return builder.ToAnnotations();
    }

    private static void Add<T>(DataViewSchema.Annotations.Builder builder, VectorDataViewType type, IEnumerable<T> values)
    {
        var buffer = new VBuffer<T>(type.Size, values.ToArray());
        builder.Add(KeyValuesKind, type, (ref VBuffer<T> v) => buffer.CopyTo(ref v));
    }

    /// <summary>Writes the kind and the values (as invariant text).</summary>
    public static void Write(BinaryWriter writer, KeyValueNames? names)
    {
        writer.Write(names is null ? 0 : (int)names.kind);
        if (names is null) return;
        foreach (var t in names.text)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(t);
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote, for <paramref name="classCount"/> classes; damaged data raises the format exception.</summary>
    public static KeyValueNames? Read(BinaryReader reader, int classCount)
    {
        int k = reader.ReadInt32();
        if (k == 0) return null;
        if (!Enum.IsDefined((Kind)k)) throw new AutoencoderModelFormatException($"Unknown key value type {k} in the k-NN model.");
        var text = new string[classCount];
        var strict = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        for (int i = 0; i < classCount; i++)
        {
            int length = reader.ReadInt32();
            if (length < 0 || length > reader.BaseStream.Length - reader.BaseStream.Position)
                throw new AutoencoderModelFormatException($"Class name {i} in the k-NN model claims {length} bytes; the file is too short for them.");
            text[i] = strict.GetString(reader.ReadBytes(length));
        }
        var names = new KeyValueNames((Kind)k, text);
        try
        {
            names.KeyValuesAnnotation(); // every value must parse back to its type
        }
        catch (FormatException e)
        {
            throw new AutoencoderModelFormatException("A class name in the k-NN model does not parse as its declared type.", e);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("A class name in the k-NN model is not valid UTF-8.", e);
        }
        catch (OverflowException e)
        {
            throw new AutoencoderModelFormatException("A class name in the k-NN model does not fit its declared type.", e);
        }
        return names;
    }
}
