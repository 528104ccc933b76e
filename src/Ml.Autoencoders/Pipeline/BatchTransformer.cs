using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// What the library's downstream transformers (k-NN, t-SNE, anomaly detector, fine-tuned classifier) share: new
/// columns computed lazily, a batch of rows at a time, from one float vector column; a row-to-row mapper for
/// <see cref="PredictionEngine{TSrc, TDst}"/>; saving to the library's own format and through <c>mlContext.Model.Save</c>.
/// </summary>
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
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return new MappedDataView(BatchMapper, input);
    }

    /// <summary>A row-to-row mapper (used by <see cref="PredictionEngine{TSrc, TDst}"/>): a row's columns are computed on the first getter call.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new MappedRowMapper(BatchMapper, inputSchema);

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
