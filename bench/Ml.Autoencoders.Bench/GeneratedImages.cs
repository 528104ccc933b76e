using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// A data view of <c>rows</c> synthetic 28x28 "images" made on the fly from the row index: nothing is held per row, so
/// a cursor can run over millions of rows in constant memory. Row i is one of ten smooth prototype patterns (its
/// Label, a key of 10 values), scaled and with noise read from a fixed table at an offset, all chosen by a hash of
/// (seed, i), clipped to [0, 1]. Reading a row twice gives the same values.
/// </summary>
internal sealed class GeneratedImages : IDataView
{
    public const int Size = 784;
    public const int Classes = 10;
    private const int NoiseMask = (1 << 16) - 1;

    private static readonly float[][] Prototypes = MakePrototypes();
    private static readonly float[] Noise = MakeNoise();

    private readonly long rows;
    private readonly ulong seed;

    public GeneratedImages(long rows, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        this.rows = rows;
        this.seed = seed;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, Size));
        builder.AddColumn("Label", new KeyDataViewType(typeof(uint), Classes));
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    /// <summary>Writes the pixels of row <paramref name="row"/> into <paramref name="destination"/> (784 values).</summary>
    public void Fill(long row, Span<float> destination)
    {
        ulong h = Hash(seed + (ulong)row);
        var prototype = Prototypes[(int)(h % Classes)];
        float scale = 0.6f + 0.4f * ((h >> 24) & 0xFFFF) / 65535f;
        int offset = (int)(h >> 44) & NoiseMask;
        for (int j = 0; j < Size; j++)
        {
            float v = prototype[j] * scale + 0.15f * Noise[(offset + j) & NoiseMask];
            destination[j] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }

    /// <summary>The class of row <paramref name="row"/> (0-9).</summary>
    public uint Label(long row) => (uint)(Hash(seed + (ulong)row) % Classes);

    /// <summary>SplitMix64's finaliser.</summary>
    private static ulong Hash(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static float[][] MakePrototypes()
    {
        var result = new float[Classes][];
        for (int c = 0; c < Classes; c++)
        {
            result[c] = new float[Size];
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    result[c][y * 28 + x] = (float)(0.5 + 0.45 * Math.Sin(0.2 * (c + 1) * x + c) * Math.Cos(0.25 * (c % 3 + 1) * y - 0.5 * c));
        }
        return result;
    }

    private static float[] MakeNoise()
    {
        var random = new Random(1234);
        var noise = new float[NoiseMask + 1];
        for (int i = 0; i < noise.Length; i++) noise[i] = (float)(2 * random.NextDouble() - 1);
        return noise;
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly GeneratedImages parent;
        private readonly HashSet<int> active;
        private long position = -1;

        public Cursor(GeneratedImages parent, HashSet<int> active)
        {
            this.parent = parent;
            this.active = active;
        }

        public override DataViewSchema Schema => parent.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (position + 1 >= parent.rows)
            {
                position = parent.rows;
                return false;
            }
            position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) => value = new DataViewRowId((ulong)position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active.Contains(column.Index)) throw new InvalidOperationException($"Column '{column.Name}' is not active.");
            Delegate getter = column.Index switch
            {
                0 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
                {
                    var editor = VBufferEditor.Create(ref value, Size);
                    parent.Fill(position, editor.Values);
                    value = editor.Commit();
                }),
                1 => (ValueGetter<uint>)((ref uint value) => value = parent.Label(position) + 1),
                _ => throw new ArgumentOutOfRangeException(nameof(column)),
            };
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}, not {typeof(TValue).Name}.");
        }
    }
}
