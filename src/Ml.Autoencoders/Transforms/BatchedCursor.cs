using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// A look-ahead cursor: reads up to a batch of source rows (capturing the requested source columns
/// of each), runs one forward pass for the batch, then serves the rows one by one.
/// </summary>
internal sealed class BatchedCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor source;
    private readonly ValueGetter<VBuffer<float>> inputGetter;
    private readonly ValueGetter<DataViewRowId> idGetter;
    private readonly Dictionary<int, ColumnCache> passThrough = new();
    private readonly Dictionary<int, AutoencoderOutputs> outputs = new();
    private readonly OutputBuffers buffers;
    private readonly DataViewRowId[] ids;
    private VBuffer<float> inputValue;
    private int filled, slot = -1;
    private long position = -1;
    private bool exhausted;

    public BatchedCursor(
        AutoencoderTransformer parent,
        DataViewRowCursor source,
        DataViewSchema schema,
        DataViewSchema.Column inputColumn,
        IReadOnlyList<DataViewSchema.Column> sourceColumns,
        IReadOnlyList<(AutoencoderTransformer.OutputColumn Column, int Index)> activeOutputs)
    {
        this.source = source;
        Schema = schema;
        int capacity = parent.TransformBatchSize;
        inputGetter = source.GetGetter<VBuffer<float>>(inputColumn);
        idGetter = source.GetIdGetter();
        ids = new DataViewRowId[capacity];
        foreach (var column in sourceColumns)
            passThrough[column.Index] = ColumnCache.Create(source, column, capacity);
        foreach (var (column, index) in activeOutputs) outputs[index] = column.Kind;
        buffers = new OutputBuffers(parent, capacity, outputs.Values.Aggregate((AutoencoderOutputs)0, (a, b) => a | b));
    }

    public override DataViewSchema Schema { get; }

    public override long Position => position;

    public override long Batch => 0;

    public override bool MoveNext()
    {
        if (slot + 1 < filled)
        {
            slot++;
            position++;
            return true;
        }
        if (exhausted || !Fill()) return false;
        slot = 0;
        position++;
        return true;
    }

    private bool Fill()
    {
        filled = 0;
        slot = -1;
        long firstRow = position + 1;
        while (filled < buffers.Capacity && source.MoveNext())
        {
            inputGetter(ref inputValue);
            buffers.SetInput(filled, inputValue, source.Position);
            foreach (var cache in passThrough.Values) cache.Capture(filled);
            idGetter(ref ids[filled]);
            filled++;
        }
        if (filled < buffers.Capacity) exhausted = true;
        if (filled == 0) return false;
        buffers.Compute(filled, firstRow);
        return true;
    }

    public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) => value = ids[CurrentSlot()];

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        passThrough.ContainsKey(column.Index) || outputs.ContainsKey(column.Index);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        Delegate getter;
        if (passThrough.TryGetValue(column.Index, out var cache)) getter = cache.CreateGetter(CurrentSlot);
        else if (outputs.TryGetValue(column.Index, out var kind)) getter = buffers.CreateGetter(kind, CurrentSlot);
        else throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} was asked for.");
    }

    private int CurrentSlot()
    {
        if (slot < 0) throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        return slot;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            source.Dispose();
            buffers.Dispose();
        }
        base.Dispose(disposing);
    }
}
