using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>A column a batch mapper appends: a float vector, a float scalar, a key (<see cref="uint"/>) or a Boolean scalar.</summary>
/// <remarks>
/// A variable-length key vector (a reconstructed token sequence) holds <see cref="Slots"/> keys per row, 0 after its
/// end; its getter serves the keys before the first 0. With <see cref="KeyValuesFromInput"/> the column carries the
/// input column's KeyValues annotation (so <c>MapKeyToValue</c> turns it back into text).
/// </remarks>
internal sealed record MappedColumn(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations = null, int? Slots = null, bool KeyValuesFromInput = false)
{
    /// <summary>Values per row.</summary>
    public int Width => Slots ?? (Type is VectorDataViewType v ? v.Size : 1);

    /// <summary>True for a key column or a vector of keys (values are <see cref="uint"/>, 0 = missing).</summary>
    public bool IsKey => Type is KeyDataViewType or VectorDataViewType { ItemType: KeyDataViewType };

    /// <summary>True for a Boolean column.</summary>
    public bool IsBoolean => Type is BooleanDataViewType;
}

/// <summary>
/// A stage that maps a known-size float vector column to new columns a batch of rows at a time (the autoencoder's
/// outputs, k-NN scores, t-SNE coordinates, anomaly scores, class probabilities). <see cref="MappedDataView"/>, its
/// cursor and <see cref="MappedRowMapper"/> do the ML.NET plumbing for all five stages.
/// </summary>
internal interface IBatchMapper
{
    /// <summary>The input vector column.</summary>
    string InputColumnName { get; }

    /// <summary>Values per input row.</summary>
    int InputSize { get; }

    /// <summary>
    /// The key count of a token input (a vector of keys of any length, read as key values padded with 0 to
    /// <see cref="InputSize"/>); null for a float vector input.
    /// </summary>
    int? InputKeyCount => null;

    /// <summary>Rows per batch in cursors (read when a cursor is created).</summary>
    int BatchSize { get; }

    /// <summary>What the stage is called in error messages ("the k-NN model").</summary>
    string Consumer { get; }

    /// <summary>The appended columns, in order.</summary>
    IReadOnlyList<MappedColumn> Columns { get; }

    /// <summary>
    /// True when a cursor should keep its input rows in a native CPU tensor (<see cref="MappedBatch.InputTensor"/>), so a
    /// TorchSharp model reads them without a second copy per batch.
    /// </summary>
    bool NativeInputs => false;

    /// <summary>Frees the stage's native memory once, waiting for batches being mapped; later use throws.</summary>
    NativeLifetime Lifetime { get; }

    /// <summary>
    /// Fills <paramref name="batch"/> for <paramref name="rows"/> input rows (row-major in <paramref name="inputs"/>),
    /// the first of which is row <paramref name="firstRow"/> of the data view. Only active columns need values.
    /// </summary>
    void Map(ReadOnlySpan<float> inputs, int rows, long firstRow, MappedBatch batch);
}

/// <summary>
/// The buffers of one cursor (or one mapped row): the batch's input rows (managed, or a native tensor) and one output
/// array per appended column (float, uint or bool), null when the column is inactive. Concurrent cursors never share one.
/// </summary>
internal sealed class MappedBatch : IDisposable
{
    private readonly float[]? managedInputs;
    private readonly TorchSharp.torch.Tensor? inputTensor;
    private readonly unsafe float* inputPointer;
    private readonly int inputSize;
    private readonly bool[] computing;
    private float[]? scratch;
    private readonly bool disposedByOwner;
    private IDisposable? workspace;

    /// <param name="columns">The mapper's columns.</param>
    /// <param name="capacity">Rows the buffers hold.</param>
    /// <param name="active">Positions of the columns to compute.</param>
    /// <param name="inputSize">Values per input row.</param>
    /// <param name="nativeInputs">Whether the input rows live in a native tensor (the owner must dispose the batch).</param>
    /// <param name="disposedByOwner">
    /// Whether the owner disposes the batch (a cursor does; ML.NET never disposes a mapped row), so that the batch may keep
    /// a mapper's native <see cref="Workspace{T}"/>.
    /// </param>
    public MappedBatch(IReadOnlyList<MappedColumn> columns, int capacity, IReadOnlySet<int> active, int inputSize = 0, bool nativeInputs = false, bool disposedByOwner = false)
    {
        this.disposedByOwner = disposedByOwner;
        Columns = columns;
        Capacity = capacity;
        this.inputSize = inputSize;
        Values = new Array?[columns.Count];
        computing = new bool[columns.Count];
        for (int c = 0; c < columns.Count; c++)
            if (active.Contains(c))
            {
                Values[c] = columns[c].IsKey ? new uint[capacity * columns[c].Width]
                    : columns[c].IsBoolean ? new bool[capacity * columns[c].Width]
                    : new float[capacity * columns[c].Width];
                computing[c] = true;
            }
        if (nativeInputs)
        {
            // Rows are written straight into a native tensor: no second copy per batch, and libtorch's own 64-byte
            // alignment, so results are bit-identical whichever buffer computes them (kernels take different paths for
            // differently aligned memory).
            inputTensor = TorchSharp.torch.empty(new long[] { capacity, inputSize }, dtype: TorchSharp.torch.ScalarType.Float32).DetachFromDisposeScope();
            unsafe
            {
                inputPointer = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(Runtime.TensorSpans.AsSpan<float>(inputTensor)));
            }
        }
        else
        {
            managedInputs = new float[checked(capacity * inputSize)];
        }
    }

    public IReadOnlyList<MappedColumn> Columns { get; }

    /// <summary>Rows the buffers hold.</summary>
    public int Capacity { get; }

    public Array?[] Values { get; }

    /// <summary>Where the input row of slot <paramref name="slot"/> goes.</summary>
    public unsafe Span<float> InputRow(int slot)
    {
        if ((uint)slot >= (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(slot));
        return managedInputs is null ? new Span<float>(inputPointer + (long)slot * inputSize, inputSize) : managedInputs.AsSpan(slot * inputSize, inputSize);
    }

    /// <summary>The input rows of the first <paramref name="rows"/> slots, row-major.</summary>
    public unsafe ReadOnlySpan<float> Inputs(int rows) =>
        managedInputs is null ? new ReadOnlySpan<float>(inputPointer, rows * inputSize) : managedInputs.AsSpan(0, rows * inputSize);

    /// <summary>True when the input rows live in a native tensor (<see cref="InputTensor"/>).</summary>
    public bool HasInputTensor => inputTensor is not null;

    /// <summary>
    /// The native tensor [rows, input size] of the first <paramref name="rows"/> slots (a view in the caller's dispose
    /// scope when fewer than <see cref="Capacity"/>), or null when the inputs are managed.
    /// </summary>
    public TorchSharp.torch.Tensor? InputTensor(int rows) =>
        inputTensor is null ? null : rows == Capacity ? inputTensor : inputTensor.narrow(0, 0, rows);

    /// <summary>
    /// Limits the next <see cref="IBatchMapper.Map"/> to the active columns whose bit is set in <paramref name="columns"/>
    /// (bit c = appended column c; a prediction engine asks getters only for the columns it reads).
    /// </summary>
    public void ComputeOnly(ulong columns)
    {
        for (int c = 0; c < Values.Length; c++) computing[c] = Values[c] is not null && (columns >> c & 1) != 0;
    }

    /// <summary>
    /// A float work area of at least <paramref name="length"/> values that lives as long as this batch (one per cursor or
    /// mapped row), so a mapper need not allocate one per batch. Its contents are not kept from one call to the next.
    /// </summary>
    public float[] Scratch(int length) => scratch is { } s && s.Length >= length ? s : scratch = new float[length];

    /// <summary>
    /// A work area of the mapper's own (native memory: a product matrix, say) that lives as long as this batch, made by
    /// <paramref name="create"/> on first use and disposed with the batch; null for a batch nobody disposes (a mapped
    /// row), which then holds no native memory and the mapper allocates per call.
    /// </summary>
    public T? Workspace<T>(Func<T> create) where T : class, IDisposable
    {
        if (!disposedByOwner) return null;
        return workspace as T ?? (T)(workspace = create());
    }

    /// <summary>Whether the mapper must fill column <paramref name="column"/> in this call.</summary>
    public bool IsActive(int column) => computing[column];

    /// <summary>The float values of column <paramref name="column"/> (all rows), or an empty span when inactive.</summary>
    public Span<float> Floats(int column) => computing[column] && Values[column] is float[] f ? f : Span<float>.Empty;

    /// <summary>The key values of column <paramref name="column"/> (all rows), or an empty span when inactive.</summary>
    public Span<uint> Keys(int column) => computing[column] && Values[column] is uint[] k ? k : Span<uint>.Empty;

    /// <summary>The Boolean values of column <paramref name="column"/> (all rows), or an empty span when inactive.</summary>
    public Span<bool> Bools(int column) => computing[column] && Values[column] is bool[] b ? b : Span<bool>.Empty;

    public Delegate CreateGetter(int column, Func<int> slot)
    {
        var spec = Columns[column];
        int width = spec.Width;
        return Values[column] switch
        {
            uint[] keys when spec.Type is VectorDataViewType => (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> value) =>
            {
                var row = keys.AsSpan(slot() * width, width);
                int length = row.IndexOf(0u) is var end and >= 0 ? end : width;
                var editor = VBufferEditor.Create(ref value, length);
                row[..length].CopyTo(editor.Values);
                value = editor.Commit();
            }),
            uint[] keys => (ValueGetter<uint>)((ref uint value) => value = keys[slot()]),
            bool[] flags => (ValueGetter<bool>)((ref bool value) => value = flags[slot()]),
            float[] floats when spec.Type is VectorDataViewType => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                var editor = VBufferEditor.Create(ref value, width);
                floats.AsSpan(slot() * width, width).CopyTo(editor.Values);
                value = editor.Commit();
            }),
            float[] floats => (ValueGetter<float>)((ref float value) => value = floats[slot()]),
            _ => throw new InvalidOperationException($"Column '{spec.Name}' was not requested."),
        };
    }

    /// <summary>Frees the native input tensor and the mapper's workspace (cursors call it on dispose).</summary>
    public void Dispose()
    {
        inputTensor?.Dispose();
        workspace?.Dispose();
        workspace = null;
    }
}

/// <summary>Schema checks and output schema of a batch mapper.</summary>
internal static class BatchMapperSchema
{
    public static DataViewSchema OutputSchema(IBatchMapper mapper, DataViewSchema input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (mapper.InputKeyCount is { } keys) VectorColumn.CheckTokens(input, mapper.InputColumnName, keys);
        else VectorColumn.Check(input, mapper.InputColumnName, mapper.InputSize);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        foreach (var column in mapper.Columns)
        {
            if (!column.KeyValuesFromInput)
            {
                builder.AddColumn(column.Name, column.Type, column.Annotations);
                continue;
            }
            var annotations = new DataViewSchema.Annotations.Builder();
            annotations.Add(input[mapper.InputColumnName].Annotations, name => name == AnnotationKinds.KeyValues);
            builder.AddColumn(column.Name, column.Type, annotations.ToAnnotations());
        }
        return builder.ToSchema();
    }

    /// <summary>The output schema of a view or row mapper about to compute: refused once the stage was released.</summary>
    /// <exception cref="ObjectDisposedException">The stage's native memory was released.</exception>
    public static DataViewSchema OutputSchemaForUse(IBatchMapper mapper, DataViewSchema input)
    {
        mapper.Lifetime.ThrowIfReleased();
        return OutputSchema(mapper, input);
    }
}

/// <summary>The lazy output of a batch mapper: input columns plus the appended ones, computed a batch at a time when asked for.</summary>
internal sealed class MappedDataView : AppendingDataView
{
    private readonly IBatchMapper mapper;

    public MappedDataView(IBatchMapper mapper, IDataView source)
        : base(source, mapper.InputColumnName, BatchMapperSchema.OutputSchemaForUse(mapper, source.Schema))
    {
        this.mapper = mapper;
    }

    protected override DataViewRowCursor CreateCursor(DataViewRowCursor sourceCursor, DataViewSchema.Column inputColumn,
        IReadOnlyList<DataViewSchema.Column> sourceColumns, IReadOnlySet<int> active) =>
        new MappedCursor(mapper, sourceCursor, Schema, inputColumn, sourceColumns, active, Capacity(mapper.BatchSize));
}

/// <summary>Reads a batch of source rows, maps it in one call, then serves the rows one by one.</summary>
internal sealed class MappedCursor : LookAheadCursor
{
    private readonly IBatchMapper mapper;
    private readonly InputRowReader input;
    private readonly int sourceCount;
    private readonly MappedBatch batch;

    public MappedCursor(IBatchMapper mapper, DataViewRowCursor source, DataViewSchema schema, DataViewSchema.Column inputColumn,
        IReadOnlyList<DataViewSchema.Column> sourceColumns, IReadOnlySet<int> active, int capacity)
        : base(source, schema, sourceColumns, capacity)
    {
        this.mapper = mapper;
        sourceCount = source.Schema.Count;
        input = InputRowReader.Create(source, inputColumn, mapper.Consumer);
        batch = new MappedBatch(mapper.Columns, capacity, active, mapper.InputSize, mapper.NativeInputs, disposedByOwner: true);
    }

    protected override void Capture(int slot, long row)
    {
        input.Read(batch.InputRow(slot), row);
    }

    protected override void Compute(int rows, long firstRow)
    {
        using var use = mapper.Lifetime.Use();
        mapper.Map(batch.Inputs(rows), rows, firstRow, batch);
    }

    protected override bool IsOutputActive(DataViewSchema.Column column) => column.Index >= sourceCount && batch.IsActive(column.Index - sourceCount);

    protected override Delegate CreateOutputGetter(DataViewSchema.Column column, Func<int> slot) => batch.CreateGetter(column.Index - sourceCount, slot);

    protected override void DisposeBuffers() => batch.Dispose();
}

/// <summary>Row-at-a-time mapping for <see cref="PredictionEngine{TSrc, TDst}"/>: a row's outputs are computed on the first getter call.</summary>
internal sealed class MappedRowMapper : IRowToRowMapper
{
    private readonly IBatchMapper mapper;

    public MappedRowMapper(IBatchMapper mapper, DataViewSchema inputSchema)
    {
        // A mapped row keeps its requested columns as bits of one ulong.
        if (mapper.Columns.Count > 64) throw new NotSupportedException($"{mapper.Consumer} appends {mapper.Columns.Count} columns; a row mapper serves at most 64.");
        this.mapper = mapper;
        InputSchema = inputSchema;
        OutputSchema = BatchMapperSchema.OutputSchemaForUse(mapper, inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var list = dependingColumns.ToList();
        var result = list.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (list.Any(c => c.Index >= InputSchema.Count)) result.Add(InputSchema[mapper.InputColumnName]);
        return result.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class Row : DataViewRow
    {
        private readonly MappedRowMapper owner;
        private readonly DataViewRow input;
        private readonly HashSet<int> active;
        private readonly MappedBatch batch;
        private readonly InputRowReader? reader;
        private ulong requested, computed; // bit c = appended column c; a prediction engine asks getters only for what it reads
        private long computedFor = -1;

        public Row(MappedRowMapper owner, DataViewRow input, HashSet<int> active)
        {
            this.owner = owner;
            this.input = input;
            this.active = active;
            int n = owner.InputSchema.Count;
            var mine = active.Where(i => i >= n).Select(i => i - n).ToHashSet();
            // Managed inputs: ML.NET may never dispose a row it got from a mapper, so a row holds no native memory.
            batch = new MappedBatch(owner.mapper.Columns, 1, mine, owner.mapper.InputSize);
            if (mine.Count > 0) reader = InputRowReader.Create(input, owner.InputSchema[owner.mapper.InputColumnName], owner.mapper.Consumer);
        }

        public override DataViewSchema Schema => owner.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int n = owner.InputSchema.Count;
            if (column.Index < n) return input.GetGetter<TValue>(owner.InputSchema[column.Index]);
            if (!active.Contains(column.Index)) throw new InvalidOperationException($"Column '{column.Name}' was not requested for this row.");
            var inner = batch.CreateGetter(column.Index - n, () => 0) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} was asked for.");
            requested |= 1UL << (column.Index - n);
            return (ref TValue value) =>
            {
                EnsureComputed();
                inner(ref value);
            };
        }

        private void EnsureComputed()
        {
            // A prediction engine reuses one row object and moves its input: recompute when the position changes, or when
            // a getter asked for since needs a column the last computation left out.
            if (computedFor == input.Position && computedFor >= 0 && (requested & ~computed) == 0) return;
            var mapper = owner.mapper;
            reader!.Read(batch.InputRow(0), input.Position);
            batch.ComputeOnly(requested);
            using (mapper.Lifetime.Use())
                mapper.Map(batch.Inputs(1), 1, input.Position, batch);
            computedFor = input.Position;
            computed = requested;
        }
    }
}
