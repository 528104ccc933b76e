using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// Holds one source column's values for the rows of a batch, so a look-ahead cursor can serve them
/// row by row after it has moved past them. Vector values are deep-copied: a source getter may reuse its buffers.
/// </summary>
internal abstract class ColumnCache
{
    public abstract void Capture(int slot);

    public abstract Delegate CreateGetter(Func<int> slot);

    public static ColumnCache Create(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        var cacheType = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(VectorColumnCache<>).MakeGenericType(raw.GetGenericArguments()[0])
            : typeof(ValueColumnCache<>).MakeGenericType(raw);
        return (ColumnCache)Activator.CreateInstance(cacheType, cursor, column, capacity)!;
    }
}

internal sealed class ValueColumnCache<T> : ColumnCache
{
    private readonly ValueGetter<T> source;
    private readonly T[] values;

    public ValueColumnCache(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    {
        source = cursor.GetGetter<T>(column);
        values = new T[capacity];
    }

    public override void Capture(int slot) => source(ref values[slot]);

    public override Delegate CreateGetter(Func<int> slot) => (ValueGetter<T>)((ref T value) => value = values[slot()]);
}

internal sealed class VectorColumnCache<T> : ColumnCache
{
    private readonly ValueGetter<VBuffer<T>> source;
    private readonly VBuffer<T>[] values;
    private VBuffer<T> scratch;

    public VectorColumnCache(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    {
        source = cursor.GetGetter<VBuffer<T>>(column);
        values = new VBuffer<T>[capacity];
    }

    public override void Capture(int slot)
    {
        source(ref scratch);
        scratch.CopyTo(ref values[slot]);
    }

    public override Delegate CreateGetter(Func<int> slot) =>
        (ValueGetter<VBuffer<T>>)((ref VBuffer<T> value) => values[slot()].CopyTo(ref value));
}
