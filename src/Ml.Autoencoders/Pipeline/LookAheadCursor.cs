using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// A cursor that reads up to a batch of source rows (capturing each row's input and requested source columns),
/// computes the batch's new columns in one call, then serves the rows one by one. <see cref="MappedCursor"/> (every
/// stage's cursor) says how inputs are captured, computed and served.
/// </summary>
internal abstract class LookAheadCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor source;
    private readonly ValueGetter<DataViewRowId> idGetter;
    private readonly Dictionary<int, ColumnCache> passThrough = new();
    private readonly DataViewRowId[] ids;
    private int filled, slot = -1;
    private long position = -1;
    private bool exhausted;

    protected LookAheadCursor(DataViewRowCursor source, DataViewSchema schema, IReadOnlyList<DataViewSchema.Column> sourceColumns, int capacity)
    {
        this.source = source;
        Schema = schema;
        idGetter = source.GetIdGetter();
        ids = new DataViewRowId[capacity];
        foreach (var column in sourceColumns) passThrough[column.Index] = ColumnCache.Create(source, column, capacity);
    }

    /// <summary>The source cursor (for the derived class's input getter).</summary>
    protected DataViewRowCursor Source => source;

    public override DataViewSchema Schema { get; }

    public override long Position => position;

    public override long Batch => 0;

    /// <summary>Reads the current source row's input into batch slot <paramref name="slot"/>; <paramref name="row"/> is its position.</summary>
    protected abstract void Capture(int slot, long row);

    /// <summary>Computes the new columns of the first <paramref name="rows"/> slots, the first being row <paramref name="firstRow"/>.</summary>
    protected abstract void Compute(int rows, long firstRow);

    /// <summary>Whether <paramref name="column"/> is a new column this cursor computes.</summary>
    protected abstract bool IsOutputActive(DataViewSchema.Column column);

    /// <summary>A getter of new column <paramref name="column"/> reading the slot <paramref name="slot"/> returns.</summary>
    protected abstract Delegate CreateOutputGetter(DataViewSchema.Column column, Func<int> slot);

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
        while (filled < ids.Length && source.MoveNext())
        {
            Capture(filled, source.Position);
            foreach (var cache in passThrough.Values) cache.Capture(filled);
            idGetter(ref ids[filled]);
            filled++;
        }
        if (filled < ids.Length) exhausted = true;
        if (filled == 0) return false;
        Compute(filled, firstRow);
        return true;
    }

    public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) => value = ids[CurrentSlot()];

    public override bool IsColumnActive(DataViewSchema.Column column) => passThrough.ContainsKey(column.Index) || IsOutputActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        Delegate getter;
        if (passThrough.TryGetValue(column.Index, out var cache)) getter = cache.CreateGetter(CurrentSlot);
        else if (IsOutputActive(column)) getter = CreateOutputGetter(column, CurrentSlot);
        else throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} was asked for.");
    }

    private int CurrentSlot()
    {
        if (slot < 0) throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        return slot;
    }

    /// <summary>Frees what the derived cursor holds (called once, on dispose).</summary>
    protected virtual void DisposeBuffers() { }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            source.Dispose();
            DisposeBuffers();
        }
        base.Dispose(disposing);
    }
}
