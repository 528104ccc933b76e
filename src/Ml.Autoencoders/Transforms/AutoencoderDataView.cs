using Microsoft.ML;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// The lazy output of <see cref="AutoencoderTransformer.Transform"/>: the input columns plus the
/// autoencoder's. A cursor that asks for none of the new columns is the source cursor, untouched.
/// </summary>
internal sealed class AutoencoderDataView : AppendingDataView
{
    private readonly AutoencoderTransformer parent;
    private readonly AutoencoderTransformer.OutputColumn[] outputs;
    private readonly int sourceCount;

    public AutoencoderDataView(AutoencoderTransformer parent, IDataView source, DataViewSchema schema)
        : base(source, parent.InputColumnName, schema)
    {
        this.parent = parent;
        sourceCount = source.Schema.Count;
        outputs = AutoencoderTransformer.OutputColumns(parent.Outputs, parent.OptionsView).ToArray();
    }

    protected override DataViewRowCursor CreateCursor(DataViewRowCursor sourceCursor, DataViewSchema.Column inputColumn,
        IReadOnlyList<DataViewSchema.Column> sourceColumns, IReadOnlySet<int> active)
    {
        var activeOutputs = active.Order().Select(i => (outputs[i], sourceCount + i)).ToArray();
        return new BatchedCursor(parent, sourceCursor, Schema, inputColumn, sourceColumns, activeOutputs, Capacity(parent.TransformBatchSize));
    }
}
