using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Series;

/// <summary>
/// Turns an ordered series (one row per time step; one or more <see cref="float"/> columns) into one row per window:
/// the window's values step by step (a known-size vector of <see cref="SlidingWindowOptions.WindowSize"/> x features,
/// dimensions (window size, features)) and the window's first time step (<see cref="long"/>, the zero-based row
/// position in the series). Windows start at steps 0, stride, 2 x stride, ... and end inside the series, so a series of
/// n steps gives (n - window size) / stride + 1 windows (rounded down); when the stride does not divide n - window size,
/// the last (n - window size) mod stride steps are in no window.
/// </summary>
/// <remarks>
/// <para>The output has only these two columns: the input's other columns describe single steps, not windows. The rows
/// must be in time order; the transform reads them once, in order, keeping the last window's steps.</para>
/// <para>Not a row-to-row mapping (see <see cref="SeriesTransformer"/>): it cannot run in a <see cref="PredictionEngine{TSrc, TDst}"/>.
/// Errors in the data are found when a cursor reaches them: a NaN or an infinity (<see cref="AutoencoderDataException"/>
/// naming the column and the row) and a series shorter than one window (at <see cref="Transform"/> when the input knows
/// its row count, otherwise at the cursor's first <c>MoveNext</c>).</para>
/// </remarks>
public sealed class SlidingWindowTransformer : SeriesTransformer
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencodersWindows";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer.</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(SlidingWindowTransformer), "MLAESWIN", LoaderSignature, "SlidingWindows.bin", "sliding-window transform",
        (t, s) => ((SlidingWindowTransformer)t).Save(s), s => Load(s));

    /// <summary>The file as a kind of <see cref="ArtifactContainer"/>: version 1, a JSON header and no sections.</summary>
    internal static readonly ArtifactKind Kind = new("sliding-window transform", "MLAESWIN"u8.ToArray(), 1, new Dictionary<int, ArtifactLayout>());

    private readonly SlidingWindowOptions options;

    internal SlidingWindowTransformer(SlidingWindowOptions options)
    {
        this.options = options.Clone();
        this.options.Validate();
    }

    private protected override string Description => "the sliding-window transform";

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    /// <summary>A copy of the options.</summary>
    public SlidingWindowOptions Options => options.Clone();

    /// <summary>Time steps per window.</summary>
    public int WindowSize => options.WindowSize;

    /// <summary>Time steps between window starts.</summary>
    public int Stride => options.Stride;

    /// <summary>The window column and the window-start column, for an input of <paramref name="inputSchema"/>.</summary>
    /// <exception cref="AutoencoderSchemaException">A series column is missing or is not Single (scalar or known-size vector).</exception>
    public override DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var series = SeriesColumns.Check(inputSchema, options);
        return SlidingWindowDataView.OutputSchema(options, series.Features);
    }

    /// <summary>The windows of the series in <paramref name="input"/> (rows in time order), computed when a cursor reads them.</summary>
    /// <exception cref="AutoencoderSchemaException">A series column is missing or is not Single (scalar or known-size vector).</exception>
    /// <exception cref="AutoencoderDataException">The input knows its row count and it is smaller than one window.</exception>
    public override IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var series = SeriesColumns.Check(input.Schema, options);
        if (input.GetRowCount() is { } steps && steps < options.WindowSize)
            throw new AutoencoderDataException(options.InputColumnNames[0], null,
                $"The series has {steps} rows; a window of {options.WindowSize} steps needs at least {options.WindowSize}. Use a smaller windowSize or a longer series.");
        return new SlidingWindowDataView(options, input, series);
    }

    /// <summary>
    /// Writes the transformer to a stream in the library's container (magic "MLAESWIN", version 1): a JSON header with
    /// the options, no sections, a SHA-256 of all before it.
    /// </summary>
    public override void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArtifactContainer.Write(stream, Kind, ArtifactContainer.WriteHeader(new FileHeader { Options = options }), []);
    }

    /// <summary>Loads a transformer written by <see cref="SeriesTransformer.Save(string)"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not a sliding-window transform.</exception>
    public static SlidingWindowTransformer Load(string path) => TransformerFile.LoadFile(path, Kind, Load);

    /// <summary>Loads a transformer written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a sliding-window transform.</exception>
    public static SlidingWindowTransformer Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var artifact = ArtifactContainer.Read(ArtifactContainer.ReadAll(stream, Kind.Name), Kind);
        artifact.Expect(0, Kind.Name);
        var options = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind).Options
            ?? throw new AutoencoderModelFormatException($"the {Kind.Name} header lacks its Options.");
        TransformerFile.Name(options.OutputColumnName, nameof(options.OutputColumnName), Kind.Name);
        TransformerFile.Name(options.WindowStartColumnName, nameof(options.WindowStartColumnName), Kind.Name);
        foreach (string name in options.InputColumnNames ?? []) TransformerFile.Name(name, nameof(options.InputColumnNames), Kind.Name);
        try
        {
            return new SlidingWindowTransformer(options);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException($"Invalid options in the {Kind.Name}: {e.Message}", e);
        }
    }

    /// <summary>The JSON header of the file.</summary>
    private sealed class FileHeader
    {
        public SlidingWindowOptions? Options { get; set; }
    }
}
