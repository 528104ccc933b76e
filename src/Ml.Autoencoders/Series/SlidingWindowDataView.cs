using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

namespace Ml.Autoencoders.Series;

/// <summary>
/// The windows of a series: one row per window, computed lazily by one cursor that reads the series once, in order,
/// keeping the last <c>WindowSize</c> steps in a ring. Not shuffleable (a window is defined by the order of the series);
/// ML.NET's <c>ShuffleRows</c> and cache checkpoint work on it as on any view.
/// </summary>
internal sealed class SlidingWindowDataView : IDataView
{
    private readonly SlidingWindowOptions options;
    private readonly IDataView source;
    private readonly SeriesColumns series;

    public SlidingWindowDataView(SlidingWindowOptions options, IDataView source, SeriesColumns series)
    {
        this.options = options;
        this.source = source;
        this.series = series;
        Schema = OutputSchema(options, series.Features);
    }

    /// <summary>The two columns of every window view: the window (dimensions steps x features) and its first step.</summary>
    public static DataViewSchema OutputSchema(SlidingWindowOptions options, int features)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, options.WindowSize, features));
        builder.AddColumn(options.WindowStartColumnName, NumberDataViewType.Int64);
        return builder.ToSchema();
    }

    /// <summary>Windows in a series of <paramref name="steps"/> steps: those that start at 0, stride, 2 x stride, ... and end inside it.</summary>
    public static long WindowCount(long steps, int windowSize, int stride) => steps < windowSize ? 0 : (steps - windowSize) / stride + 1;

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => source.GetRowCount() is { } steps ? WindowCount(steps, options.WindowSize, options.Stride) : null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly SlidingWindowDataView parent;
        private readonly DataViewRowCursor input;
        private readonly SeriesColumns.Reader reader;
        private readonly bool windowActive, startActive;
        private readonly int windowSize, stride, features;
        private readonly float[] ring; // step t lives at (t % windowSize) * features
        private long stepsRead;        // rows of the series read so far
        private long position = -1;
        private bool done;

        public Cursor(SlidingWindowDataView parent, IReadOnlySet<int> active)
        {
            this.parent = parent;
            windowActive = active.Contains(0);
            startActive = active.Contains(1);
            windowSize = parent.options.WindowSize;
            stride = parent.options.Stride;
            features = parent.series.Features;
            ring = new float[checked(windowSize * features)];
            // Every series column is read even when only the window starts are asked for: a NaN or a short series must fail the same way whatever is read.
            input = parent.source.GetRowCursor(parent.series.Columns);
            reader = new SeriesColumns.Reader(parent.series, input);
        }

        public override DataViewSchema Schema => parent.Schema;

        public override long Position => position;

        public override long Batch => 0;

        private long Start => position * stride;

        public override bool MoveNext()
        {
            if (done) return false;
            long start = (position + 1) * stride, end = start + windowSize;
            while (stepsRead < end)
            {
                if (!input.MoveNext())
                {
                    done = true;
                    if (position < 0)
                        throw new AutoencoderDataException(parent.series.Columns[0].Name, null,
                            $"The series has {stepsRead} rows; a window of {windowSize} steps needs at least {windowSize}. Use a smaller windowSize or a longer series.");
                    return false;
                }
                reader.Read(ring.AsSpan((int)(stepsRead % windowSize) * features, features), stepsRead);
                stepsRead++;
            }
            position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == 0 && windowActive && typeof(TValue) == typeof(VBuffer<float>))
            {
                ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
                {
                    CheckPosition();
                    var editor = VBufferEditor.Create(ref value, ring.Length);
                    int first = (int)(Start % windowSize) * features, head = ring.Length - first;
                    ring.AsSpan(first).CopyTo(editor.Values);
                    ring.AsSpan(0, first).CopyTo(editor.Values[head..]);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }
            if (column.Index == 1 && startActive && typeof(TValue) == typeof(long))
            {
                ValueGetter<long> getter = (ref long value) =>
                {
                    CheckPosition();
                    value = Start;
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }
            if (column.Index is 0 or 1 && IsColumnActive(column))
                throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; it was asked for as {typeof(TValue).Name}.");
            throw new InvalidOperationException($"Column '{column.Name}' was not asked for when the cursor was created.");
        }

        private void CheckPosition()
        {
            if (position < 0 || done) throw new InvalidOperationException("The cursor is not on a window: call MoveNext first (and only while it returns true).");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) =>
        {
            CheckPosition();
            value = new DataViewRowId((ulong)position, 0);
        };

        public override bool IsColumnActive(DataViewSchema.Column column) => column.Index switch
        {
            0 => windowActive,
            1 => startActive,
            _ => false,
        };

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }
}
