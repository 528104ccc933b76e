using Ml.Autoencoders.Onnx;
using Ml.Autoencoders.Transforms;

namespace Microsoft.ML;

/// <summary>
/// ONNX export on <see cref="ModelOperationsCatalog"/> (<c>mlContext.Model</c>). ML.NET's own <c>ConvertToOnnx</c> cannot
/// export a third-party transformer (see ENVIRONMENT.md); these methods write the autoencoder's graph directly.
/// </summary>
public static class OnnxExportCatalog
{
    /// <summary>
    /// Writes a dense, convolutional or recurrent autoencoder as an ONNX model (IR 8, opset 17, float32, batch dimension
    /// "N"; a convolutional body's rows are reshaped to images inside the graph, a recurrent body runs ONNX's LSTM or GRU
    /// operators over its fixed window). The graph's input is
    /// named after <see cref="AutoencoderTransformer.InputColumnName"/> and its outputs after the transformer's latent-code,
    /// reconstruction and reconstruction-error columns (and the log-variance column of a variational autoencoder), so
    /// <c>mlContext.Transforms.ApplyOnnxModel(file)</c> appends columns of the same names holding the same values.
    /// </summary>
    /// <param name="catalog">The model operations catalog.</param>
    /// <param name="transformer">A fitted autoencoder with a dense, convolutional or recurrent body.</param>
    /// <param name="stream">Where the model is written (left open).</param>
    /// <param name="parts">The encoder only (input to latent code) or the whole autoencoder.</param>
    /// <exception cref="NotSupportedException">The autoencoder has a custom body (user code, with no known ONNX form).</exception>
    /// <exception cref="ArgumentException">Two of the exported column names are equal.</exception>
    /// <example><code>
    /// using (var file = File.Create("encoder.onnx"))
    ///     mlContext.Model.ConvertAutoencoderToOnnx(autoencoder, file, AutoencoderOnnxParts.Encoder);
    /// </code></example>
    public static void ConvertAutoencoderToOnnx(this ModelOperationsCatalog catalog, AutoencoderTransformer transformer, Stream stream,
        AutoencoderOnnxParts parts = AutoencoderOnnxParts.Autoencoder)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(stream);
        AutoencoderOnnxExporter.Write(transformer, parts, stream);
    }

    /// <summary>
    /// Writes an autoencoder as an ONNX model file, atomically: a temporary file beside <paramref name="path"/> is
    /// renamed over it once complete, so a reader never sees half a model. See
    /// <see cref="ConvertAutoencoderToOnnx(ModelOperationsCatalog, AutoencoderTransformer, Stream, AutoencoderOnnxParts)"/>.
    /// </summary>
    /// <param name="catalog">The model operations catalog.</param>
    /// <param name="transformer">A fitted autoencoder with a dense, convolutional or recurrent body.</param>
    /// <param name="path">The model file to write (replaced if it exists).</param>
    /// <param name="parts">The encoder only (input to latent code) or the whole autoencoder.</param>
    /// <exception cref="NotSupportedException">The autoencoder has a custom body (user code, with no known ONNX form).</exception>
    /// <exception cref="ArgumentException">Two of the exported column names are equal.</exception>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="path"/>); a file already there is left as it was.</exception>
    public static void ConvertAutoencoderToOnnx(this ModelOperationsCatalog catalog, AutoencoderTransformer transformer, string path,
        AutoencoderOnnxParts parts = AutoencoderOnnxParts.Autoencoder)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = AutoencoderOnnxExporter.Build(transformer, parts); // refuse before touching the file system
        Ml.Autoencoders.Persistence.AtomicFile.Write(path, stream => OnnxProtoWriter.Write(model, stream));
    }
}
