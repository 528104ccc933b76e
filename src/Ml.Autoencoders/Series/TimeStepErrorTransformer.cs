using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Series;

/// <summary>
/// Takes scored windows back to the time steps of the series (<see cref="TimeStepErrorSeries"/>): one output row per
/// time step, with the step (<see cref="long"/>), the mean over the windows that cover it of the squared error at that
/// step (<see cref="float"/>; NaN where no window covers it) and the number of those windows (<see cref="int"/>).
/// </summary>
/// <remarks>
/// <para>A cursor over the output reads all the windows first (in any order), holding two numbers per time step, then
/// serves the steps in order; each new cursor reads the windows again (put a cache checkpoint before it, or read the
/// output once into memory, when the windows are expensive to score). Not a row-to-row mapping (see
/// <see cref="SeriesTransformer"/>).</para>
/// <para>A NaN or infinite value in the windows, a negative window start, or a window that ends beyond
/// <see cref="TimeStepErrorOptions.SeriesLength"/> throw <see cref="AutoencoderDataException"/> naming the column and the row.</para>
/// </remarks>
public sealed class TimeStepErrorTransformer : SeriesTransformer
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencodersStepErrors";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer.</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(TimeStepErrorTransformer), "MLAESTEP", LoaderSignature, "TimeStepErrors.bin", "per-time-step error transform",
        (t, s) => ((TimeStepErrorTransformer)t).Save(s), s => Load(s));

    /// <summary>The file as a kind of <see cref="ArtifactContainer"/>: version 1, a JSON header and no sections.</summary>
    internal static readonly ArtifactKind Kind = new("per-time-step error transform", "MLAESTEP"u8.ToArray(), 1, new Dictionary<int, ArtifactLayout>());

    private readonly TimeStepErrorOptions options;

    internal TimeStepErrorTransformer(TimeStepErrorOptions options)
    {
        this.options = options.Clone();
        this.options.Validate();
    }

    private protected override string Description => "the per-time-step error transform";

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    /// <summary>A copy of the options.</summary>
    public TimeStepErrorOptions Options => options.Clone();

    /// <summary>The time-step, error and window-count columns.</summary>
    /// <exception cref="AutoencoderSchemaException">An input column is missing or has the wrong type, or the window size is neither given nor in the window column's dimensions.</exception>
    public override DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Inputs.Check(inputSchema, options);
        return OutputSchema(options);
    }

    /// <summary>One row per time step, computed when a cursor reads them (see the remarks).</summary>
    /// <exception cref="AutoencoderSchemaException">An input column is missing or has the wrong type, or the window size is neither given nor in the window column's dimensions.</exception>
    public override IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new View(options, input, Inputs.Check(input.Schema, options));
    }

    /// <summary>Reads every window of <paramref name="input"/> and returns the per-step errors as arrays.</summary>
    /// <exception cref="AutoencoderSchemaException">An input column is missing or has the wrong type.</exception>
    /// <exception cref="AutoencoderDataException">A value is not finite, a window start is negative or a window ends beyond the series length.</exception>
    public TimeStepErrorSeries Compute(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Inputs.Check(input.Schema, options).Read(input, options);
    }

    private static DataViewSchema OutputSchema(TimeStepErrorOptions options)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(options.TimeStepColumnName, NumberDataViewType.Int64);
        builder.AddColumn(options.ErrorColumnName, NumberDataViewType.Single);
        builder.AddColumn(options.WindowCountColumnName, NumberDataViewType.Int32);
        return builder.ToSchema();
    }

    /// <summary>Writes the transformer to a stream in the library's container (magic "MLAESTEP", version 1): a JSON header with the options, no sections, a SHA-256.</summary>
    public override void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArtifactContainer.Write(stream, Kind, ArtifactContainer.WriteHeader(new FileHeader { Options = options }), []);
    }

    /// <summary>Loads a transformer written by <see cref="SeriesTransformer.Save(string)"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not a per-time-step error transform.</exception>
    public static TimeStepErrorTransformer Load(string path) => TransformerFile.LoadFile(path, Kind, Load);

    /// <summary>Loads a transformer written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a per-time-step error transform.</exception>
    public static TimeStepErrorTransformer Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var artifact = ArtifactContainer.Read(ArtifactContainer.ReadAll(stream, Kind.Name), Kind);
        artifact.Expect(0, Kind.Name);
        var options = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind).Options
            ?? throw new AutoencoderModelFormatException($"the {Kind.Name} header lacks its Options.");
        foreach (var (field, name) in new[]
        {
            (nameof(options.WindowStartColumnName), options.WindowStartColumnName), (nameof(options.TimeStepColumnName), options.TimeStepColumnName),
            (nameof(options.ErrorColumnName), options.ErrorColumnName), (nameof(options.WindowCountColumnName), options.WindowCountColumnName),
            (nameof(options.FeatureColumnName), options.FeatureColumnName), (nameof(options.ReconstructionColumnName), options.ReconstructionColumnName),
        })
            TransformerFile.Name(name, field, Kind.Name);
        if (options.SquaredErrorsColumnName is { } squared) TransformerFile.Name(squared, nameof(options.SquaredErrorsColumnName), Kind.Name);
        try
        {
            return new TimeStepErrorTransformer(options);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException($"Invalid options in the {Kind.Name}: {e.Message}", e);
        }
    }

    /// <summary>The JSON header of the file.</summary>
    private sealed class FileHeader
    {
        public TimeStepErrorOptions? Options { get; set; }
    }

    /// <summary>The input columns, checked: window starts, and squared errors or windows and reconstructions, and the window size.</summary>
    private sealed record Inputs(DataViewSchema.Column Start, DataViewSchema.Column First, DataViewSchema.Column? Second, int WindowSize, int Width)
    {
        public static Inputs Check(DataViewSchema schema, TimeStepErrorOptions options)
        {
            var start = Find(schema, options.WindowStartColumnName, "windowStartColumnName");
            if (start.Type != NumberDataViewType.Int64 && start.Type != NumberDataViewType.Int32)
                throw new AutoencoderSchemaException(start.Name, $"Window-start column '{start.Name}' must be Int64 or Int32 (the window's first time step); it is {start.Type}.", "windowStartColumnName");
            DataViewSchema.Column first, second;
            if (options.SquaredErrorsColumnName is { } squared)
            {
                first = Find(schema, squared, "squaredErrorsColumnName");
                int size = VectorColumn.Check(schema, squared, null).Size;
                return new Inputs(start, first, null, StepsOf(options, schema, first, size), size);
            }
            first = Find(schema, options.FeatureColumnName, "featureColumnName");
            int width = VectorColumn.Check(schema, first.Name, null).Size;
            second = Find(schema, options.ReconstructionColumnName, "reconstructionColumnName");
            VectorColumn.Check(schema, second.Name, width);
            return new Inputs(start, first, second, StepsOf(options, schema, first, width), width);
        }

        private static DataViewSchema.Column Find(DataViewSchema schema, string name, string parameter) => schema.GetColumnOrNull(name)
            ?? throw new AutoencoderSchemaException(name, $"Column '{name}' was not found. Available columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.", parameter);

        /// <summary>
        /// The window size: given, else the first of the (steps, features) dimensions of the window column (which
        /// SlidingWindows writes and the autoencoder and the detector pass through), else of the column read.
        /// </summary>
        private static int StepsOf(TimeStepErrorOptions options, DataViewSchema schema, DataViewSchema.Column column, int size)
        {
            static int? Steps(DataViewSchema.Column? c) => c?.Type is VectorDataViewType { Dimensions: { Length: 2 } dims } ? dims[0] : null;
            int steps = options.WindowSize ?? Steps(schema.GetColumnOrNull(options.FeatureColumnName)) ?? Steps(column) ?? throw new AutoencoderSchemaException(column.Name,
                $"Neither column '{options.FeatureColumnName}' nor column '{column.Name}' records the window's steps (as dimensions steps x features, which SlidingWindows writes); give windowSize.", "windowSize");
            if (size % steps != 0)
                throw new AutoencoderSchemaException(column.Name, $"Column '{column.Name}' has {size} values per row, not a whole number of steps of a {steps}-step window.", "windowSize");
            return steps;
        }

        /// <summary>Reads every window and accumulates the per-step errors.</summary>
        public TimeStepErrorSeries Read(IDataView input, TimeStepErrorOptions options)
        {
            var accumulator = new TimeStepErrorSeries.Accumulator(WindowSize, Width / WindowSize, options.SeriesLength);
            var columns = Second is { } reconstruction ? new[] { Start, First, reconstruction } : new[] { Start, First };
            using var cursor = input.GetRowCursor(columns);
            var getStart = StartGetter(cursor);
            var getFirst = cursor.GetGetter<VBuffer<float>>(First);
            var getSecond = Second is { } second ? cursor.GetGetter<VBuffer<float>>(second) : null;
            VBuffer<float> firstBuffer = default, secondBuffer = default;
            var x = new float[Width];
            var r = Second is null ? null : new float[Width];
            long row = -1;
            while (cursor.MoveNext())
            {
                row++;
                long start = getStart();
                getFirst(ref firstBuffer);
                VectorColumn.CopyDense(firstBuffer, x, First.Name, row, "the per-time-step error transform");
                try
                {
                    if (getSecond is null)
                    {
                        accumulator.AddSquaredErrors(start, x, row);
                    }
                    else
                    {
                        getSecond(ref secondBuffer);
                        VectorColumn.CopyDense(secondBuffer, r, Second!.Value.Name, row, "the per-time-step error transform");
                        accumulator.AddReconstruction(start, x, r, row);
                    }
                }
                catch (ArgumentException e)
                {
                    throw new AutoencoderDataException(Start.Name, row, $"Row {row} of column '{Start.Name}': {e.Message}");
                }
            }
            return accumulator.Result();
        }

        private Func<long> StartGetter(DataViewRow row)
        {
            if (Start.Type == NumberDataViewType.Int64)
            {
                var getter = row.GetGetter<long>(Start);
                long value = 0;
                return () => { getter(ref value); return value; };
            }
            var narrow = row.GetGetter<int>(Start);
            int small = 0;
            return () => { narrow(ref small); return small; };
        }
    }

    /// <summary>The time steps: a view whose cursors read all the windows, then serve one row per step.</summary>
    private sealed class View(TimeStepErrorOptions options, IDataView source, Inputs inputs) : IDataView
    {
        public bool CanShuffle => false;

        public DataViewSchema Schema { get; } = OutputSchema(options);

        public long? GetRowCount() => null;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(this, inputs.Read(source, options), columnsNeeded.Select(c => c.Index).ToHashSet());

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];
    }

    private sealed class Cursor(View parent, TimeStepErrorSeries steps, IReadOnlySet<int> active) : DataViewRowCursor
    {
        private long position = -1;

        public override DataViewSchema Schema => parent.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (position >= steps.Length) return false;
            position++;
            return position < steps.Length;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' was not asked for when the cursor was created.");
            Delegate getter = column.Index switch
            {
                0 when typeof(TValue) == typeof(long) => (ValueGetter<long>)((ref long value) => value = At()),
                1 when typeof(TValue) == typeof(float) => (ValueGetter<float>)((ref float value) => value = steps.Errors[At()]),
                2 when typeof(TValue) == typeof(int) => (ValueGetter<int>)((ref int value) => value = steps.WindowCounts[At()]),
                _ => throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; it was asked for as {typeof(TValue).Name}."),
            };
            return (ValueGetter<TValue>)getter;
        }

        private int At() => position >= 0 && position < steps.Length
            ? (int)position
            : throw new InvalidOperationException("The cursor is not on a time step: call MoveNext first (and only while it returns true).");

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) => value = new DataViewRowId((ulong)At(), 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);
    }
}
