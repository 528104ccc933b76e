using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>A float vector column and a key label read into memory: what the supervised trainers (k-NN, fine-tuning) train on.</summary>
internal sealed record LabelledRows(float[] Rows, int[] Labels, int Features, int ClassCount, long SkippedRows, long TotalRows, DataViewSchema.Column LabelColumn)
{
    /// <summary>Rows with a label.</summary>
    public int Count => Labels.Length;

    /// <summary>
    /// Reads every row with a label (key 0, a missing label, is left out and counted); features are checked (size,
    /// finite) with errors naming the row; labels become class indices key − 1.
    /// </summary>
    public static LabelledRows Read(IDataView input, string featureColumnName, string labelColumnName, string consumer, CancellationToken cancellation = default)
    {
        var (featureIndex, features) = VectorColumn.Check(input.Schema, featureColumnName, null);
        var labelColumn = CheckLabel(input.Schema, labelColumnName);
        var featureColumn = input.Schema[featureIndex];
        var rows = new RowBlocks(features);
        var labels = new List<int>();
        var buffer = new float[features];
        long skipped = 0, position = 0;
        using (var cursor = input.GetRowCursor(new[] { featureColumn, labelColumn }))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(featureColumn);
            var getLabel = cursor.GetGetter<uint>(labelColumn);
            VBuffer<float> value = default;
            uint key = 0;
            for (; cursor.MoveNext(); position++)
            {
                if ((position & 1023) == 0) cancellation.ThrowIfCancellationRequested();
                getLabel(ref key);
                if (key == 0)
                {
                    skipped++;
                    continue;
                }
                getFeatures(ref value);
                VectorColumn.CopyDense(value, buffer, featureColumnName, position, consumer);
                rows.Add(buffer);
                labels.Add((int)key - 1);
            }
        }
        if (position == 0)
            throw new AutoencoderDataException(featureColumnName, null, $"The training data has no rows: {consumer} needs labelled rows.");
        int classes = (int)((KeyDataViewType)labelColumn.Type).Count;
        return new LabelledRows(rows.ToArray(), labels.ToArray(), features, classes, skipped, position, labelColumn);
    }

    /// <summary>The label column: a known-count key of <see cref="uint"/>, or a clear error pointing to MapValueToKey.</summary>
    public static DataViewSchema.Column CheckLabel(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new AutoencoderSchemaException(name, $"Label column '{name}' was not found. Available columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.", "labelColumnName");
        if (column.Type is not KeyDataViewType key || key.RawType != typeof(uint) || key.Count is 0 or > int.MaxValue)
            throw new AutoencoderSchemaException(name,
                $"Label column '{name}' must be a key type of known count (UInt32 keys); it is {column.Type}. Use mlContext.Transforms.Conversion.MapValueToKey(\"{name}\") first.", "labelColumnName");
        return column;
    }

    /// <summary>The label as SchemaShape knows it: must be a scalar key; returns its KeyValues annotation shape, if any.</summary>
    public static SchemaShape? CheckLabel(SchemaShape schema, string name)
    {
        var label = schema.FirstOrDefault(c => c.Name == name);
        if (label.Name is null)
            throw new AutoencoderSchemaException(name, $"Label column '{name}' was not found.", "labelColumnName");
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw new AutoencoderSchemaException(name,
                $"Label column '{name}' must be a key type; it is {label.ItemType}. Use mlContext.Transforms.Conversion.MapValueToKey(\"{name}\") first.", "labelColumnName");
        return label.Annotations?.FirstOrDefault(a => a.Name == Pipeline.KeyValueNames.KeyValuesKind) is { Name: not null } keyValues ? new SchemaShape([keyValues]) : null;
    }
}
