using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// Builds <see cref="SchemaShape.Column"/> values for <c>GetOutputSchema</c>. ML.NET 5.0.1 keeps that
/// constructor internal; this calls it through <see cref="UnsafeAccessorAttribute"/> (pinned ML.NET
/// version; a missing constructor fails at the first call with <see cref="MissingMethodException"/>).
/// </summary>
internal static class SchemaShapeColumns
{
    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern SchemaShape.Column NewColumn(string name, SchemaShape.Column.VectorKind vecKind, DataViewType itemType, bool isKey, SchemaShape? annotations);

    public static SchemaShape.Column Vector(string name) =>
        NewColumn(name, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, null);

    public static SchemaShape.Column Scalar(string name) =>
        NewColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false, null);

    /// <summary>An Int64 scalar column (a time-step index).</summary>
    public static SchemaShape.Column Int64(string name) =>
        NewColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Int64, false, null);

    /// <summary>An Int32 scalar column (a count).</summary>
    public static SchemaShape.Column Int32(string name) =>
        NewColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Int32, false, null);

    /// <summary>A Boolean scalar column (an anomaly detector's predicted label).</summary>
    public static SchemaShape.Column Boolean(string name) =>
        NewColumn(name, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false, null);

    /// <summary>A key column of <see cref="uint"/> (a predicted label) with the given annotations (the label's KeyValues).</summary>
    public static SchemaShape.Column Key(string name, SchemaShape? annotations) =>
        NewColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, annotations);

    /// <summary>A variable-length vector of keys (a reconstructed token sequence) with the given annotations (the input's KeyValues).</summary>
    public static SchemaShape.Column KeyVector(string name, SchemaShape? annotations) =>
        NewColumn(name, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, annotations);

    /// <summary>The input columns with the new ones appended; a new column replaces an input column of the same name.</summary>
    public static SchemaShape Append(SchemaShape input, IEnumerable<SchemaShape.Column> added)
    {
        var result = input.ToDictionary(c => c.Name);
        foreach (var column in added) result[column.Name] = column;
        return new SchemaShape(result.Values);
    }
}
