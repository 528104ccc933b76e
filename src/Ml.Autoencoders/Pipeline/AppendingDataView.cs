using Microsoft.ML;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// The lazy output of a stage that appends columns computed from one input column: the source's columns plus the new
/// ones. A cursor that asks for none of the new columns is the source cursor, untouched; otherwise the derived view
/// makes a look-ahead cursor over the source columns asked for plus the input column.
/// </summary>
internal abstract class AppendingDataView : IDataView
{
    private readonly IDataView source;
    private readonly string inputColumnName;

    protected AppendingDataView(IDataView source, string inputColumnName, DataViewSchema schema)
    {
        this.source = source;
        this.inputColumnName = inputColumnName;
        Schema = schema;
    }

    /// <summary>Rows keep the source's order; shuffling belongs before or after this stage.</summary>
    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => source.GetRowCount();

    /// <summary>
    /// Rows per look-ahead batch: <paramref name="batchSize"/>, or the source's row count when it is known and smaller
    /// (the batches are the same; the buffers are not larger than the data, whatever batch size a model file stored).
    /// </summary>
    protected int Capacity(int batchSize) => source.GetRowCount() is long rows && rows < batchSize ? (int)Math.Max(1, rows) : batchSize;

    /// <summary>
    /// A cursor computing the new columns <paramref name="active"/> (positions among the appended columns) over
    /// <paramref name="sourceCursor"/>, serving <paramref name="sourceColumns"/> as they are.
    /// </summary>
    protected abstract DataViewRowCursor CreateCursor(DataViewRowCursor sourceCursor, DataViewSchema.Column inputColumn,
        IReadOnlyList<DataViewSchema.Column> sourceColumns, IReadOnlySet<int> active);

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        int sourceCount = source.Schema.Count;
        var active = needed.Where(i => i >= sourceCount).Select(i => i - sourceCount).ToHashSet();
        var sourceColumns = needed.Where(i => i < sourceCount).Select(i => source.Schema[i]).ToList();
        if (active.Count == 0)
            return new PassThroughCursor(source.GetRowCursor(sourceColumns), Schema);
        var inputColumn = source.Schema[inputColumnName];
        var all = sourceColumns.Append(inputColumn).DistinctBy(c => c.Index).ToList();
        return CreateCursor(source.GetRowCursor(all), inputColumn, sourceColumns, active);
    }

    /// <summary>One cursor: the look-ahead cursor keeps the order of rows and its batches intact.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };
}
