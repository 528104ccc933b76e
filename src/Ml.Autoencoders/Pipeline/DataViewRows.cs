using Microsoft.ML;

namespace Ml.Autoencoders.Pipeline;

/// <summary>Streams the dense, checked rows of one float vector column of a data view.</summary>
internal sealed class DataViewRows
{
    private readonly IDataView data;

    private readonly string consumer;

    public DataViewRows(IDataView data, string columnName, int size, string consumer = "the autoencoder")
    {
        this.data = data;
        ColumnName = columnName;
        Size = size;
        this.consumer = consumer;
    }

    public string ColumnName { get; }

    public int Size { get; }

    /// <summary>
    /// Rows with their zero-based position in this pass; the memory is reused for the next row. With
    /// <paramref name="shuffle"/>, a source that can shuffle (<see cref="IDataView.CanShuffle"/>) is asked for a cursor
    /// in its own random order (ML.NET's binary loader reads its blocks in random order); other sources are read in order.
    /// </summary>
    public IEnumerable<(long Row, ReadOnlyMemory<float> Values)> Read(CancellationToken cancellation, Random? shuffle = null)
    {
        var column = data.Schema[ColumnName];
        using var cursor = data.GetRowCursor(new[] { column }, shuffle is not null && data.CanShuffle ? shuffle : null);
        var reader = InputRowReader.Create(cursor, column, consumer);
        var buffer = new float[Size];
        long row = 0;
        while (cursor.MoveNext())
        {
            if ((row & 1023) == 0) cancellation.ThrowIfCancellationRequested();
            reader.Read(buffer, row);
            yield return (row, buffer);
            row++;
        }
    }
}

/// <summary>Where one checked pass puts the rows it caches.</summary>
internal interface IRowCache
{
    long Count { get; }
    long Bytes { get; }
    void Add(ReadOnlySpan<float> row);
    void Clear();
    /// <summary>The cached rows as one [Count, size] CPU tensor; the cache is empty afterwards.</summary>
    TorchSharp.torch.Tensor ToTensor();
}

/// <summary>
/// Rows written straight into one preallocated native tensor: used when the row count is known before the
/// pass, so the data is held once, in native memory, with no managed copy.
/// </summary>
internal sealed unsafe class NativeRows : IRowCache
{
    private readonly int size;
    private readonly long capacity;
    private TorchSharp.torch.Tensor? rows;
    private float* pointer;

    public NativeRows(int size, long capacity)
    {
        this.size = size;
        this.capacity = capacity;
        rows = TorchSharp.torch.empty(new[] { capacity, size }, dtype: TorchSharp.torch.ScalarType.Float32).DetachFromDisposeScope();
        using var first = rows.narrow(0, 0, Math.Min(1, capacity));
        pointer = capacity == 0 ? null : (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(Runtime.TensorSpans.AsSpan<float>(first)));
    }

    public long Count { get; private set; }

    public long Bytes => Count * size * sizeof(float);

    public void Add(ReadOnlySpan<float> row)
    {
        if (Count >= capacity)
            throw new InvalidOperationException($"The data view announced {capacity} rows but delivers more.");
        row.CopyTo(new Span<float>(pointer + Count * size, size));
        Count++;
    }

    public void Clear()
    {
        rows?.Dispose();
        rows = null;
        pointer = null;
        Count = 0;
    }

    public TorchSharp.torch.Tensor ToTensor()
    {
        var all = rows ?? throw new InvalidOperationException("The cache was cleared.");
        var result = Count == capacity ? all : all.narrow(0, 0, Count).clone();
        if (!ReferenceEquals(result, all)) all.Dispose();
        rows = null;
        pointer = null;
        return result;
    }
}

/// <summary>Rows gathered into fixed-size managed blocks, then copied once into one native tensor (row count unknown in advance).</summary>
internal sealed class RowBlocks : IRowCache
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

    /// <summary>The cached rows as one managed array (Count x size, row-major); the cache is empty afterwards.</summary>
    public float[] ToArray()
    {
        var all = new float[Count * size];
        for (int b = 0; b < blocks.Count; b++)
        {
            int rows = (int)Math.Min(BlockRows, Count - (long)b * BlockRows);
            blocks[b].AsSpan(0, rows * size).CopyTo(all.AsSpan((int)((long)b * BlockRows * size)));
        }
        Clear();
        return all;
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
