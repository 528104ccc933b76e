using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Series;

/// <summary>
/// What the library's series transformers share (<see cref="SlidingWindowTransformer"/>: steps to windows;
/// <see cref="TimeStepErrorTransformer"/>: windows back to steps): they change the number of rows, so they are
/// <see cref="ITransformer"/>s whose <see cref="Transform"/> gives a new, lazy <see cref="IDataView"/>, but not
/// row-to-row mappers: ML.NET's <see cref="PredictionEngine{TSrc, TDst}"/> cannot run them (nor a chain that holds
/// one; <c>CreatePredictionEngine</c> throws ML.NET's <see cref="ArgumentOutOfRangeException"/> "Must be a row to row
/// mapper"). They take part in <see cref="EstimatorChain{TLastTransformer}"/>, <c>Fit</c>, <c>Transform</c>, <c>Preview</c>,
/// <c>CreateEnumerable</c> and <c>mlContext.Model.Save</c>/<c>Load</c> like the library's other transformers, and save to
/// a file of their own. They hold no native memory.
/// </summary>
public abstract class SeriesTransformer : ITransformer
{
    private protected SeriesTransformer()
    {
    }

    /// <summary>What the transformer is called in messages ("the sliding-window transform").</summary>
    private protected abstract string Description { get; }

    /// <summary>False: one output row is made from several input rows (or the other way round); see <see cref="GetRowToRowMapper"/>.</summary>
    public bool IsRowToRowMapper => false;

    /// <summary>Not available: the transformer changes the number of rows, which a row-to-row mapper (and so a <see cref="PredictionEngine{TSrc, TDst}"/>) cannot.</summary>
    /// <exception cref="NotSupportedException">Always; the message says what to use instead.</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException(
        $"{char.ToUpperInvariant(Description[0])}{Description[1..]} makes its rows from several rows of its input, so it is not a row-to-row mapping: " +
        "ML.NET's PredictionEngine cannot run it, nor a chain that contains it. Call Transform on a data view of the series " +
        "(and read the result with CreateEnumerable or GetColumn), or build the prediction engine on the stages after it.");

    /// <summary>The schema of <see cref="Transform"/>'s output for an input of <paramref name="inputSchema"/>.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">An input column is missing or has the wrong type.</exception>
    public abstract DataViewSchema GetOutputSchema(DataViewSchema inputSchema);

    /// <summary>The new rows, computed lazily when a cursor reads them.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">An input column is missing or has the wrong type.</exception>
    public abstract IDataView Transform(IDataView input);

    /// <summary>Writes the transformer to a file in the library's own format, atomically (a temporary file renamed over the target).</summary>
    /// <exception cref="IOException">The file cannot be written; a file already there is left as it was.</exception>
    public void Save(string path) => AtomicFile.Write(path, Save);

    /// <summary>Writes the transformer to a stream in the library's own format (see the derived class for the layout).</summary>
    public abstract void Save(Stream stream);

    /// <summary>Part of <see cref="ICanSaveModel"/>: lets <c>mlContext.Model.Save</c> store this transformer.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => MlNetModelBridge.Save(this, ctx, BridgeKind);

    /// <summary>How the ML.NET model bridge carries the derived transformer.</summary>
    private protected abstract MlNetModelBridge.Kind BridgeKind { get; }
}
