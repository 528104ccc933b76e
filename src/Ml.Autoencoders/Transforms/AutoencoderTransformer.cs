using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// A fitted autoencoder stage. <see cref="Transform"/> appends, lazily and in batches of
/// <see cref="AutoencoderOptions.TransformBatchSize"/> rows, the columns chosen in
/// <see cref="AutoencoderOptions.Outputs"/>. The model is also usable directly through <see cref="Model"/>.
/// </summary>
/// <remarks>
/// <para>Cursors and prediction engines go through the library's one plumbing stack (shared with the k-NN, t-SNE,
/// anomaly and classifier stages): each cursor and each mapped row has its own buffers, so any number of them may run
/// at once over one transformer.</para>
/// <para>Not <see cref="IDisposable"/> on purpose: ML.NET's <see cref="PredictionEngine{TSrc, TDst}"/> (which owns its
/// transformer by default) and <see cref="TransformerChain{TLastTransformer}"/> dispose the disposable transformers they
/// hold, which would free a model still shared with other engines and pipelines. The native weights are freed by the
/// garbage collector, or at once with <see cref="Release"/>, as for every transformer of the library
/// (<c>Model.Dispose()</c> does the same).</para>
/// </remarks>
public sealed class AutoencoderTransformer : ITransformer
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencoderTransform";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer (signatures are 8 characters for the model, at most 24 for the loader).</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(AutoencoderTransformer), "MLAEXFRM", LoaderSignature, "AutoencoderModel.bin", "autoencoder",
        (t, s) => AutoencoderModelFile.Save((AutoencoderTransformer)t, s), s => AutoencoderModelFile.Load(s, ComputeDevice.Auto));

    private readonly AutoencoderOptions options;
    private readonly AutoencoderMapper mapper;
    private int transformBatchSize;

    internal AutoencoderTransformer(AutoencoderModel model, AutoencoderOptions options, int inputSize)
    {
        Model = model;
        this.options = options;
        InputSize = inputSize;
        transformBatchSize = options.TransformBatchSize;
        mapper = new AutoencoderMapper(this, options,
            new NativeLifetime(nameof(AutoencoderTransformer), "Release() or Model.Dispose()", model.Dispose, () => model.IsDisposed));
    }

    /// <summary>
    /// Rows per forward pass in cursors created from now on (initially <see cref="AutoencoderOptions.TransformBatchSize"/>).
    /// Results do not depend on it; larger batches are faster and use more memory.
    /// </summary>
    public int TransformBatchSize
    {
        get => transformBatchSize;
        set => transformBatchSize = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Expected at least one row per batch.");
    }

    /// <summary>The trained network: encode, decode, reconstruct arrays; the training history.</summary>
    public AutoencoderModel Model { get; }

    /// <summary>The per-epoch training record.</summary>
    public TrainingHistory History => Model.History;

    /// <summary>Name of the input column.</summary>
    public string InputColumnName => options.InputColumnName;

    /// <summary>Values per input row.</summary>
    public int InputSize { get; }

    /// <summary>Columns this transformer appends.</summary>
    public AutoencoderOutputs Outputs => options.Outputs;

    /// <summary>A copy of the options the model was trained with (the output activation as chosen at training).</summary>
    public AutoencoderOptions Options => options.Clone();

    internal AutoencoderOptions OptionsView => options;

    /// <summary>Always true: a <see cref="PredictionEngine{TSrc, TDst}"/> can be built on this transformer.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema with the new columns appended.</summary>
    /// <exception cref="AutoencoderSchemaException">The input column is missing, of the wrong type or size.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInput(inputSchema);
        return BatchMapperSchema.OutputSchema(mapper, inputSchema);
    }

    /// <summary>Appends the output columns to <paramref name="input"/>. Nothing is computed until a cursor asks for them.</summary>
    /// <exception cref="AutoencoderSchemaException">The input column is missing, of the wrong type or size.</exception>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="Release"/>).</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return new MappedDataView(mapper, input);
    }

    /// <summary>A row-to-row mapper (used by <see cref="PredictionEngine{TSrc, TDst}"/>): a row's outputs are computed on the first getter call.</summary>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="Release"/>).</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return new MappedRowMapper(mapper, inputSchema);
    }

    /// <summary>A body that reads images needs images of its shape and pixel order (the size check is the pipeline's).</summary>
    private void CheckInput(DataViewSchema schema) => VectorColumn.CheckImageInput(schema, InputColumnName, options.Body);

    /// <summary>
    /// Frees the native weights at once (after the batches being computed finish); the library's one way to free a
    /// transformer, the same as <c>Model.Dispose()</c>. Afterwards <see cref="Transform"/>, cursors and prediction engines
    /// throw <see cref="ObjectDisposedException"/>. Calling it again does nothing.
    /// </summary>
    public void Release() => mapper.Lifetime.Release();

    /// <summary>True once <see cref="Release"/> (or <c>Model.Dispose()</c>) freed the native weights.</summary>
    public bool IsReleased => mapper.Lifetime.IsReleased;

    /// <summary>Writes the model to one self-describing file (see <see cref="AutoencoderModelFile"/>).</summary>
    /// <exception cref="InvalidOperationException">A weight is NaN or infinite; an existing file at <paramref name="path"/> is left as it was.</exception>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="path"/>, the reason and keeps the original as the inner exception); a file already there is left as it was.</exception>
    public void Save(string path) => AutoencoderModelFile.Save(this, path);

    /// <summary>Writes the model to a stream in the library's own format.</summary>
    /// <exception cref="InvalidOperationException">A weight is NaN or infinite (nothing is written).</exception>
    public void Save(Stream stream) => AutoencoderModelFile.Save(this, stream);

    /// <summary>Loads a model saved by <see cref="Save(string)"/>, onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file is damaged, truncated or not a model file.</exception>
    public static AutoencoderTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto) => AutoencoderModelFile.Load(path, device);

    /// <summary>Loads a model from a stream written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a model.</exception>
    public static AutoencoderTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) => AutoencoderModelFile.Load(stream, device);

    /// <summary>Part of <see cref="ICanSaveModel"/>: lets <c>mlContext.Model.Save</c> store this transformer (see docs/persistence.md).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => MlNetModelBridge.Save(this, ctx, Bridge);


    internal readonly record struct OutputColumn(string Name, AutoencoderOutputs Kind)
    {
        public bool IsVector => Kind != AutoencoderOutputs.ReconstructionError;
    }

    /// <summary>Every single output column kind, in the order columns are appended.</summary>
    internal static readonly AutoencoderOutputs[] OutputKinds =
    {
        AutoencoderOutputs.LatentCode, AutoencoderOutputs.Reconstruction, AutoencoderOutputs.ReconstructionError,
        AutoencoderOutputs.LatentLogVariance, AutoencoderOutputs.SampledLatentCode,
    };

    internal static IEnumerable<OutputColumn> OutputColumns(AutoencoderOutputs outputs, AutoencoderOptions o) =>
        OutputKinds.Where(kind => outputs.HasFlag(kind)).Select(kind => new OutputColumn(o.ColumnName(kind), kind));
}
