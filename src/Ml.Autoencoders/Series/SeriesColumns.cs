using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

namespace Ml.Autoencoders.Series;

/// <summary>
/// The columns of a series that the sliding-window transform reads: <see cref="float"/> scalars or known-size
/// <see cref="float"/> vectors, checked against a schema, and a reader that copies one time step's values into a span.
/// </summary>
internal sealed class SeriesColumns
{
    /// <summary>Values per window at most (as a recurrent body allows per row).</summary>
    public const int MaxWindowValues = 1 << 24;

    private SeriesColumns(DataViewSchema.Column[] columns, int[] widths)
    {
        Columns = columns;
        Widths = widths;
        Features = widths.Sum();
    }

    /// <summary>The input columns, in the order their values go into a step.</summary>
    public DataViewSchema.Column[] Columns { get; }

    /// <summary>Values each column gives per step.</summary>
    public int[] Widths { get; }

    /// <summary>Values per time step: the sum of <see cref="Widths"/>.</summary>
    public int Features { get; }

    /// <summary>Finds and checks the series columns of <paramref name="options"/> in <paramref name="schema"/>.</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing, is not float (scalar or known-size vector), or the window would be too large.</exception>
    public static SeriesColumns Check(DataViewSchema schema, SlidingWindowOptions options)
    {
        var columns = new DataViewSchema.Column[options.InputColumnNames.Length];
        var widths = new int[columns.Length];
        for (int i = 0; i < columns.Length; i++)
        {
            string name = options.InputColumnNames[i];
            var column = schema.GetColumnOrNull(name)
                ?? throw new AutoencoderSchemaException(name, $"Input column '{name}' was not found. Available columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.", "inputColumnNames");
            widths[i] = column.Type switch
            {
                NumberDataViewType t when t == NumberDataViewType.Single => 1,
                VectorDataViewType { IsKnownSize: true } v when v.ItemType == NumberDataViewType.Single => v.Size,
                VectorDataViewType v when v.ItemType == NumberDataViewType.Single => throw new AutoencoderSchemaException(name,
                    $"Input column '{name}' is a variable-size vector; each time step needs the same number of values (a Single scalar or a known-size vector of Single).", "inputColumnNames"),
                _ => throw new AutoencoderSchemaException(name,
                    $"Input column '{name}' must be Single (float), a scalar or a known-size vector; it is {column.Type}. Use ConvertType to Single.", "inputColumnNames"),
            };
            columns[i] = column;
        }
        var result = new SeriesColumns(columns, widths);
        if ((long)result.Features * options.WindowSize > MaxWindowValues)
            throw new AutoencoderSchemaException(options.InputColumnNames[0],
                $"A window of {options.WindowSize} steps x {result.Features} values per step holds {(long)result.Features * options.WindowSize} values; at most {MaxWindowValues}.", "windowSize");
        return result;
    }

    /// <summary>Checks the series columns as <see cref="SchemaShape"/> knows them (the vectors' sizes are not known there).</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing or is not a float scalar or known-size float vector.</exception>
    public static void Check(SchemaShape schema, SlidingWindowOptions options)
    {
        foreach (string name in options.InputColumnNames)
        {
            var matches = schema.Where(c => c.Name == name).ToList();
            if (matches.Count == 0)
                throw new AutoencoderSchemaException(name, $"Input column '{name}' was not found. Available columns: {string.Join(", ", schema.Select(c => $"'{c.Name}'"))}.", "inputColumnNames");
            var column = matches[^1];
            if (column.ItemType != NumberDataViewType.Single || column.IsKey || column.Kind == SchemaShape.Column.VectorKind.VariableVector)
                throw new AutoencoderSchemaException(name,
                    $"Input column '{name}' must be Single (float), a scalar or a known-size vector; it is {(column.Kind == SchemaShape.Column.VectorKind.VariableVector ? "a variable-size vector of " : "")}{column.ItemType}. Use ConvertType to Single.", "inputColumnNames");
        }
    }

    /// <summary>Reads one time step of the series' columns from a cursor.</summary>
    public sealed class Reader
    {
        private readonly SeriesColumns series;
        private readonly ValueGetter<float>?[] scalars;
        private readonly ValueGetter<VBuffer<float>>?[] vectors;
        private VBuffer<float> buffer;

        public Reader(SeriesColumns series, DataViewRow row)
        {
            this.series = series;
            scalars = new ValueGetter<float>?[series.Columns.Length];
            vectors = new ValueGetter<VBuffer<float>>?[series.Columns.Length];
            for (int i = 0; i < series.Columns.Length; i++)
            {
                if (series.Columns[i].Type is VectorDataViewType) vectors[i] = row.GetGetter<VBuffer<float>>(series.Columns[i]);
                else scalars[i] = row.GetGetter<float>(series.Columns[i]);
            }
        }

        /// <summary>
        /// Copies the current row's values into <paramref name="step"/> (<see cref="Features"/> values), column after
        /// column; throws on NaN or infinity, naming the column, the row and the value.
        /// </summary>
        /// <exception cref="AutoencoderDataException">A value is NaN or infinite.</exception>
        public void Read(Span<float> step, long row)
        {
            int at = 0;
            for (int i = 0; i < scalars.Length; i++)
            {
                int width = series.Widths[i];
                var target = step.Slice(at, width);
                if (scalars[i] is { } scalar)
                {
                    float value = 0;
                    scalar(ref value);
                    target[0] = value;
                }
                else
                {
                    vectors[i]!(ref buffer);
                    if (buffer.Length != width)
                        throw new AutoencoderDataException(series.Columns[i].Name, row, $"Row {row} of column '{series.Columns[i].Name}' has {buffer.Length} values; its type says {width}.");
                    buffer.CopyTo(target);
                }
                for (int k = 0; k < width; k++)
                    if (!float.IsFinite(target[k]))
                        throw new AutoencoderDataException(series.Columns[i].Name, row,
                            $"Row {row} of column '{series.Columns[i].Name}' holds {target[k]}{(width > 1 ? $" at index {k}" : "")}; the sliding-window transform needs finite values " +
                            "(fill the gap first, for example with ReplaceMissingValues, or cut the series there).");
                at += width;
            }
        }
    }
}
