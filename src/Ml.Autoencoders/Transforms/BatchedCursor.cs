using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// The autoencoder's look-ahead cursor: a batch of input rows goes into native buffers, one forward pass computes
/// the batch, then the rows are served one by one.
/// </summary>
internal sealed class BatchedCursor : LookAheadCursor
{
    private readonly ValueGetter<VBuffer<float>> inputGetter;
    private readonly Dictionary<int, AutoencoderOutputs> outputs = new();
    private readonly OutputBuffers buffers;
    private VBuffer<float> inputValue;

    public BatchedCursor(
        AutoencoderTransformer parent,
        DataViewRowCursor source,
        DataViewSchema schema,
        DataViewSchema.Column inputColumn,
        IReadOnlyList<DataViewSchema.Column> sourceColumns,
        IReadOnlyList<(AutoencoderTransformer.OutputColumn Column, int Index)> activeOutputs,
        int capacity)
        : base(source, schema, sourceColumns, capacity)
    {
        inputGetter = source.GetGetter<VBuffer<float>>(inputColumn);
        foreach (var (column, index) in activeOutputs) outputs[index] = column.Kind;
        buffers = new OutputBuffers(parent, capacity, outputs.Values.Aggregate((AutoencoderOutputs)0, (a, b) => a | b));
    }

    protected override void Capture(int slot, long row)
    {
        inputGetter(ref inputValue);
        buffers.SetInput(slot, inputValue, row);
    }

    protected override void Compute(int rows, long firstRow) => buffers.Compute(rows, firstRow);

    protected override bool IsOutputActive(DataViewSchema.Column column) => outputs.ContainsKey(column.Index);

    protected override Delegate CreateOutputGetter(DataViewSchema.Column column, Func<int> slot) => buffers.CreateGetter(outputs[column.Index], slot);

    protected override void DisposeBuffers() => buffers.Dispose();
}
