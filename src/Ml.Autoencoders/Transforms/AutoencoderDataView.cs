using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// The lazy output of <see cref="AutoencoderTransformer.Transform"/>: the input columns plus the
/// autoencoder's. A cursor that asks for none of the new columns is the source cursor, untouched.
/// </summary>
internal sealed class AutoencoderDataView : IDataView
{
    private readonly AutoencoderTransformer parent;
    private readonly IDataView source;
    private readonly AutoencoderTransformer.OutputColumn[] outputs;

    public AutoencoderDataView(AutoencoderTransformer parent, IDataView source, DataViewSchema schema)
    {
        this.parent = parent;
        this.source = source;
        Schema = schema;
        outputs = AutoencoderTransformer.OutputColumns(parent.Outputs, parent.OptionsView).ToArray();
    }

    /// <summary>Rows keep the source's order; shuffling belongs before or after this stage.</summary>
    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        int sourceCount = source.Schema.Count;
        var activeOutputs = outputs.Select((o, i) => (o, index: sourceCount + i)).Where(x => needed.Contains(x.index)).ToArray();
        var sourceColumns = needed.Where(i => i < sourceCount).Select(i => source.Schema[i]).ToList();
        if (activeOutputs.Length == 0)
            return new PassThroughCursor(source.GetRowCursor(sourceColumns), Schema);

        var inputColumn = source.Schema[parent.InputColumnName];
        var all = sourceColumns.Append(inputColumn).DistinctBy(c => c.Index).ToList();
        return new BatchedCursor(parent, source.GetRowCursor(all), Schema, inputColumn, sourceColumns, activeOutputs);
    }

    /// <summary>One cursor: the batching cursor keeps the order of rows and its batches intact.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };
}
