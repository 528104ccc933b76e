using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// What the library's downstream transformers (k-NN, t-SNE, anomaly detector, fine-tuned classifier) share: new
/// columns computed lazily, a batch of rows at a time, from one float vector column; a row-to-row mapper for
/// <see cref="PredictionEngine{TSrc, TDst}"/>; saving to the library's own format and through <c>mlContext.Model.Save</c>;
/// one way to free the native memory (<see cref="Release"/>).
/// </summary>
/// <remarks>
/// <para>Each cursor and each mapped row has its own buffers and inference only reads the fitted state, so any number of
/// cursors and prediction engines may run at once over one transformer.</para>
/// <para>Not <see cref="IDisposable"/> on purpose: ML.NET's <see cref="PredictionEngine{TSrc, TDst}"/> (which owns its
/// transformer by default) and <see cref="TransformerChain{TLastTransformer}"/> dispose the disposable transformers they
/// hold, which would free a model still shared with other engines and pipelines. The garbage collector frees the native
/// memory, or <see cref="Release"/> at once.</para>
/// </remarks>
public abstract class BatchTransformer : ITransformer
{
    private protected BatchTransformer()
    {
    }

    /// <summary>The mapper that computes the new columns.</summary>
    private protected abstract IBatchMapper BatchMapper { get; }

    /// <summary>Checks the input beyond the column's size (an image layout, for example) before any cursor exists.</summary>
    private protected virtual void CheckInput(DataViewSchema schema)
    {
    }

    /// <summary>Always true: a <see cref="PredictionEngine{TSrc, TDst}"/> can be built on this transformer.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema with the new columns appended.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">The input column is missing or not a float vector of the trained size.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInput(inputSchema);
        return BatchMapperSchema.OutputSchema(BatchMapper, inputSchema);
    }

    /// <summary>Appends the new columns to <paramref name="input"/>; nothing is computed until a cursor asks for them.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">The input column is missing or not a float vector of the trained size.</exception>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="Release"/>).</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return new MappedDataView(BatchMapper, input);
    }

    /// <summary>A row-to-row mapper (used by <see cref="PredictionEngine{TSrc, TDst}"/>): a row's columns are computed on the first getter call.</summary>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="Release"/>).</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new MappedRowMapper(BatchMapper, inputSchema);

    /// <summary>
    /// Frees the transformer's native memory at once (after the batches being computed finish); the one way to free
    /// every transformer of the library (the derived class names the older, equivalent calls). Afterwards
    /// <see cref="Transform"/>, cursors and prediction engines throw <see cref="ObjectDisposedException"/>. Calling it
    /// again does nothing.
    /// </summary>
    public void Release() => BatchMapper.Lifetime.Release();

    /// <summary>True once <see cref="Release"/> (or an equivalent older call) freed the native memory.</summary>
    public bool IsReleased => BatchMapper.Lifetime.IsReleased;

    /// <summary>Writes the transformer to a file in the library's own format, atomically (a temporary file renamed over the target).</summary>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="path"/>, the reason and keeps the original as the inner exception); a file already there is left as it was.</exception>
    public void Save(string path) => AtomicFile.Write(path, Save);

    /// <summary>Writes the transformer to a stream in the library's own format (see the derived class for the layout).</summary>
    public abstract void Save(Stream stream);

    /// <summary>Part of <see cref="ICanSaveModel"/>: lets <c>mlContext.Model.Save</c> store this transformer.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => MlNetModelBridge.Save(this, ctx, BridgeKind);

    /// <summary>How the ML.NET model bridge carries the derived transformer.</summary>
    private protected abstract MlNetModelBridge.Kind BridgeKind { get; }
}
