using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Data;

/// <summary>Streams the dense, checked rows of one float vector column of a data view.</summary>
internal sealed class DataViewRows
{
    private readonly IDataView data;

    public DataViewRows(IDataView data, string columnName, int size)
    {
        this.data = data;
        ColumnName = columnName;
        Size = size;
    }

    public string ColumnName { get; }

    public int Size { get; }

    /// <summary>Rows with their zero-based position; the memory is reused for the next row.</summary>
    public IEnumerable<(long Row, ReadOnlyMemory<float> Values)> Read(CancellationToken cancellation)
    {
        var column = data.Schema[ColumnName];
        using var cursor = data.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var buffer = new float[Size];
        VBuffer<float> value = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            if ((row & 1023) == 0) cancellation.ThrowIfCancellationRequested();
            getter(ref value);
            VectorColumn.CopyDense(value, buffer, ColumnName, row);
            yield return (row, buffer);
            row++;
        }
    }
}

/// <summary>Rows gathered into fixed-size managed blocks, then copied once into one native tensor.</summary>
internal sealed class RowBlocks
{
    private const int BlockRows = 4096;
    private readonly List<float[]> blocks = new();
    private readonly int size;

    public RowBlocks(int size) => this.size = size;

    public long Count { get; private set; }

    public long Bytes => Count * size * sizeof(float);

    public void Add(ReadOnlySpan<float> row)
    {
        int inBlock = (int)(Count % BlockRows);
        if (inBlock == 0) blocks.Add(new float[BlockRows * size]);
        row.CopyTo(blocks[^1].AsSpan(inBlock * size, size));
        Count++;
    }

    public void Clear()
    {
        blocks.Clear();
        Count = 0;
    }

    public TorchSharp.torch.Tensor ToTensor()
    {
        var t = TorchSharp.torch.empty(new long[] { Count, size }, dtype: TorchSharp.torch.ScalarType.Float32);
        for (int b = 0; b < blocks.Count; b++)
        {
            // Block by block through a view: the whole buffer may exceed what one span can address.
            int rows = (int)Math.Min(BlockRows, Count - (long)b * BlockRows);
            using var view = t.narrow(0, (long)b * BlockRows, rows);
            new ReadOnlySpan<float>(blocks[b], 0, rows * size).CopyTo(Ml.Autoencoders.Runtime.TensorSpans.AsSpan<float>(view));
            blocks[b] = Array.Empty<float>();
        }
        Clear();
        return t;
    }
}
