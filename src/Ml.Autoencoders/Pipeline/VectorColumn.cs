using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>Checks and reads a known-size <see cref="float"/> vector column of an <see cref="IDataView"/>.</summary>
internal static class VectorColumn
{
    /// <summary>Finds the column and checks its type; returns its index and size.</summary>
    public static (int Index, int Size) Check(DataViewSchema schema, string name, int? expectedSize)
    {
        var column = Find(schema, name);
        return CheckType(name, column.Type, expectedSize, column.Index);
    }

    /// <summary>
    /// Checks an image column against the declared shape: the vector must hold channels x height x width values, and
    /// when its type records three dimensions (ExtractPixels writes (C, H, W) for planar and (H, W, C) for interleaved
    /// pixels) they must be the declared shape in the declared order, so scrambled images never train silently.
    /// </summary>
    public static (int Index, int Size) CheckImage(DataViewSchema schema, string name, Networks.ImageShape shape, Networks.PixelOrder order)
    {
        var column = Find(schema, name);
        var (index, size) = CheckType(name, column.Type, null, column.Index);
        if (size != shape.Size)
            throw new AutoencoderSchemaException(name,
                $"Input column '{name}' has {size} values per row; the image shape {shape} (channels x height x width) needs {shape.Size}. " +
                "Check the size given to ResizeImages and the colours ExtractPixels extracts (colorsToExtract), or fix the body's ImageShape.", "inputColumnName");
        var dims = ((VectorDataViewType)column.Type).Dimensions;
        if (dims.Length == 3)
        {
            int[] planar = { shape.Channels, shape.Height, shape.Width }, interleaved = { shape.Height, shape.Width, shape.Channels };
            bool isPlanar = dims.SequenceEqual(planar), isInterleaved = dims.SequenceEqual(interleaved);
            bool fits = order == Networks.PixelOrder.Planar ? isPlanar || (shape.Channels == 1 && isInterleaved) : isInterleaved || (shape.Channels == 1 && isPlanar);
            if (!fits)
                throw new AutoencoderSchemaException(name, (isPlanar || isInterleaved)
                    ? $"Input column '{name}' holds {(isPlanar ? "planar" : "interleaved")} pixels (its type has dimensions {string.Join(" x ", dims)}), but the body's PixelOrder is {order}. " +
                      $"Set PixelOrder = {(isPlanar ? "Planar" : "Interleaved")}, or change interleavePixelColors in ExtractPixels."
                    : $"Input column '{name}' has dimensions {string.Join(" x ", dims)}; the image shape {shape} in {order} order needs {string.Join(" x ", order == Networks.PixelOrder.Planar ? planar : interleaved)}.", "inputColumnName");
        }
        return (index, size);
    }

    /// <summary>When <paramref name="body"/> reads images, the column must hold images of its shape and pixel order (<see cref="CheckImage"/>).</summary>
    public static void CheckImageInput(DataViewSchema schema, string name, Networks.BodyOptions? body)
    {
        if (body?.Image is { } image) CheckImage(schema, name, image.Shape, image.Order);
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name) => schema.GetColumnOrNull(name)
        ?? throw new AutoencoderSchemaException(name, $"Input column '{name}' was not found. Available columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.", "inputColumnName");

    /// <summary>
    /// Checks a token column: a vector of keys (any length, as ML.NET's text transforms make it) whose key type has
    /// <paramref name="expectedKeys"/> keys when given (a fitted model's vocabulary); returns its index and key count.
    /// </summary>
    public static (int Index, int KeyCount) CheckTokens(DataViewSchema schema, string name, int? expectedKeys)
    {
        var column = Find(schema, name);
        if (column.Type is not VectorDataViewType { ItemType: KeyDataViewType key })
            throw new AutoencoderSchemaException(name, $"Input column '{name}' must be a vector of keys (a token sequence) for a token-sequence body; it is {column.Type}. " +
                "Use TokenizeIntoCharactersAsKeys, or TokenizeIntoWords followed by MapValueToKey.", "inputColumnName");
        if (key.Count == 0 || key.Count > 1 << 24)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' has a key type of {key.Count} keys; a token-sequence body reads 1 to {1 << 24} keys.", "inputColumnName");
        if (expectedKeys is { } expected && (int)key.Count != expected)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' has a key type of {key.Count} keys; the model was trained on {expected}. " +
                "Map the text with the key mapping the model was trained with (the same fitted MapValueToKey or TokenizeIntoCharactersAsKeys).", "inputColumnName");
        return (column.Index, (int)key.Count);
    }

    /// <summary>Checks a token column as <see cref="SchemaShape"/> knows it: a vector (of any length) of keys.</summary>
    public static void CheckTokens(SchemaShape schema, string name)
    {
        var matches = schema.Where(c => c.Name == name).ToList();
        if (matches.Count == 0)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' was not found. Available columns: {string.Join(", ", schema.Select(c => $"'{c.Name}'"))}.", "inputColumnName");
        var column = matches[^1];
        if (column.Kind == SchemaShape.Column.VectorKind.Scalar || !column.IsKey)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' must be a vector of keys (a token sequence) for a token-sequence body; it is {Describe(column)}. " +
                "Use TokenizeIntoCharactersAsKeys, or TokenizeIntoWords followed by MapValueToKey.", "inputColumnName");
    }

    /// <summary>Checks the shape of a column as <see cref="SchemaShape"/> knows it (no size available there).</summary>
    public static void Check(SchemaShape schema, string name)
    {
        var matches = schema.Where(c => c.Name == name).ToList();
        if (matches.Count == 0)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' was not found. Available columns: {string.Join(", ", schema.Select(c => $"'{c.Name}'"))}.", "inputColumnName");
        var column = matches[^1];
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' must be a known-size vector of Single (float); it is {Describe(column)}. " +
                "Use Concatenate to build a vector, ConvertType to Single, or ExtractPixels for images.", "inputColumnName");
    }

    private static (int, int) CheckType(string name, DataViewType type, int? expectedSize, int index)
    {
        if (type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' must be a known-size vector of Single (float); it is {type}. " +
                "Use Concatenate to build a vector, ConvertType to Single, or ExtractPixels for images.", "inputColumnName");
        if (!vector.IsKnownSize)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' is a variable-size vector; the autoencoder needs a known size. " +
                "Give the size in the schema (for example [VectorType(784)] or TextLoader ranges).", "inputColumnName");
        if (expectedSize is { } size && vector.Size != size)
            throw new AutoencoderSchemaException(name, $"Input column '{name}' has {vector.Size} values per row; the model was trained on {size}.", "inputColumnName");
        return (index, vector.Size);
    }

    private static string Describe(SchemaShape.Column c) => c.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => $"a scalar {c.ItemType}",
        SchemaShape.Column.VectorKind.VariableVector => $"a variable-size vector of {c.ItemType}",
        _ => $"a vector of {c.ItemType}",
    };

    /// <summary>
    /// Reads each row's vector densely into <paramref name="destination"/>; throws on NaN or infinity,
    /// naming the row and the feature.
    /// </summary>
    public static void CopyDense(in VBuffer<float> source, Span<float> destination, string columnName, long row, string consumer = "the autoencoder")
    {
        if (source.Length != destination.Length)
            throw new AutoencoderDataException(columnName, row, $"Row {row} of column '{columnName}' has {source.Length} values; expected {destination.Length}.");
        var values = source.GetValues();
        int bad;
        if (source.IsDense)
        {
            bad = Runtime.FiniteValues.CopyAndFindNonFinite(values, destination); // one pass: copy and check
        }
        else
        {
            destination.Clear();
            var indices = source.GetIndices();
            for (int i = 0; i < indices.Length; i++) destination[indices[i]] = values[i];
            bad = IndexOfNonFinite(destination);
        }
        if (bad >= 0)
            throw new AutoencoderDataException(columnName, row,
                $"Row {row} of column '{columnName}' holds {destination[bad]} at index {bad}; {consumer} needs finite values " +
                "(replace missing values first, for example with ReplaceMissingValues).");
    }

    /// <summary>
    /// The check <see cref="CopyDense"/> makes, for rows handed over as an array (row-major, <paramref name="width"/>
    /// values each): throws <see cref="AutoencoderDataException"/> naming the row, the index and the value of the first
    /// NaN or infinity. <paramref name="columnName"/> is the column the rows stand for; <paramref name="argumentName"/>
    /// the parameter that holds them.
    /// </summary>
    internal static void CheckFinite(ReadOnlySpan<float> rows, int width, string columnName, string argumentName, string consumer)
    {
        int bad = IndexOfNonFinite(rows);
        if (bad < 0) return;
        long row = bad / width;
        throw new AutoencoderDataException(columnName, row,
            $"Row {row} of '{argumentName}' holds {rows[bad]} at index {bad % width}; {consumer} needs finite values " +
            "(replace missing values first, for example with ReplaceMissingValues).");
    }

    /// <summary>Smallest and largest value of a (finite) row, vectorised.</summary>
    internal static (float Min, float Max) Range(ReadOnlySpan<float> values)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated && values.Length >= System.Numerics.Vector<float>.Count)
        {
            var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(values);
            var vMin = new System.Numerics.Vector<float>(float.PositiveInfinity);
            var vMax = new System.Numerics.Vector<float>(float.NegativeInfinity);
            foreach (var v in vectors)
            {
                vMin = System.Numerics.Vector.Min(vMin, v);
                vMax = System.Numerics.Vector.Max(vMax, v);
            }
            for (int k = 0; k < System.Numerics.Vector<float>.Count; k++)
            {
                min = Math.Min(min, vMin[k]);
                max = Math.Max(max, vMax[k]);
            }
            i = vectors.Length * System.Numerics.Vector<float>.Count;
        }
        for (; i < values.Length; i++)
        {
            min = Math.Min(min, values[i]);
            max = Math.Max(max, values[i]);
        }
        return (min, max);
    }

    /// <summary>Index of the first NaN or infinity, or -1 (vectorised, <see cref="Runtime.FiniteValues"/>).</summary>
    internal static int IndexOfNonFinite(ReadOnlySpan<float> values) => Runtime.FiniteValues.IndexOfNonFinite(values);
}
