using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// A data view whose rows are computed from their index when read and never stored: low-rank values in (0, 1) with a
/// little noise, so a data view of any size costs no memory. <see cref="OnRow"/> sees every row read (pass, row), and
/// <see cref="Override"/> may replace a row's values, e.g. to make one pass carry an extreme value.
/// </summary>
internal sealed class GeneratedRows : IDataView
{
    private readonly long rows;
    private readonly int features;
    private readonly float[] basis;
    private int passes;

    public GeneratedRows(long rows, int features, bool announceCount = true, int rank = 4)
    {
        this.rows = rows;
        this.features = features;
        AnnounceCount = announceCount;
        Rank = rank;
        var random = new Random(17);
        basis = Enumerable.Range(0, rank * features).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, features));
        Schema = builder.ToSchema();
    }

    public bool AnnounceCount { get; }

    public int Rank { get; }

    /// <summary>Called for every row whose values are read: (zero-based pass, row index).</summary>
    public Action<int, long>? OnRow { get; set; }

    /// <summary>May change a row's values after they are generated: (pass, row, values).</summary>
    public Action<int, long, float[]>? Override { get; set; }

    /// <summary>Cursors opened so far.</summary>
    public int Passes => passes;

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => AnnounceCount ? rows : null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, Interlocked.Increment(ref passes) - 1, columnsNeeded.Any());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    /// <summary>The values of one row (deterministic in the row index).</summary>
    public void Fill(long row, float[] values)
    {
        Span<float> code = stackalloc float[Rank];
        for (int k = 0; k < Rank; k++) code[k] = Unit(row, k) * 2 - 1;
        for (int j = 0; j < features; j++)
        {
            float a = 0;
            for (int k = 0; k < Rank; k++) a += code[k] * basis[k * features + j];
            values[j] = 1f / (1f + MathF.Exp(-a)) + 0.01f * (Unit(row, Rank + j) - 0.5f);
        }
    }

    private static float Unit(long row, int slot)
    {
        ulong z = unchecked((ulong)row * 0x9E3779B97F4A7C15UL + (ulong)slot * 0xC2B2AE3D27D4EB4FUL + 0x165667B19E3779F9UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (float)((z ^ (z >> 31)) >> 40) / (1 << 24);
    }

    private sealed class Cursor(GeneratedRows parent, int pass, bool active) : DataViewRowCursor
    {
        private readonly float[] values = new float[parent.features];
        private long position = -1;

        public override long Position => position;

        public override long Batch => 0;

        public override DataViewSchema Schema => parent.Schema;

        public override bool IsColumnActive(DataViewSchema.Column column) => active;

        public override bool MoveNext() => ++position < parent.rows;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                parent.Fill(position, values);
                parent.Override?.Invoke(pass, position, values);
                parent.OnRow?.Invoke(pass, position);
                var editor = VBufferEditor.Create(ref value, parent.features);
                values.CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);
    }
}
