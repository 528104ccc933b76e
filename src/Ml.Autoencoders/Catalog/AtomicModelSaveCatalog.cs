using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;

namespace Microsoft.ML;

/// <summary>
/// A failure-safe <c>mlContext.Model.Save</c> to a file, on <see cref="ModelOperationsCatalog"/> (<c>mlContext.Model</c>).
/// </summary>
/// <remarks>
/// ML.NET's <c>Model.Save(model, inputSchema, filePath)</c> creates (empties) the file before any transformer is asked to
/// save itself, so a save that fails part way (a disposed model, non-finite weights, a full disk) leaves a stub where
/// the previous model was. <see cref="SaveAtomically"/> writes the same zip to a temporary file beside the target and
/// renames it over the target only once it is complete: a failed save leaves the previous file as it was.
/// </remarks>
public static class AtomicModelSaveCatalog
{
    /// <summary>
    /// Saves <paramref name="model"/> and <paramref name="inputSchema"/> to <paramref name="filePath"/> exactly as
    /// <c>mlContext.Model.Save(model, inputSchema, filePath)</c> does (load it with <c>mlContext.Model.Load</c>), but
    /// atomically: a temporary file in the same directory is written and then renamed over the target, so the file at
    /// <paramref name="filePath"/> is either the previous one, untouched, or the complete new model.
    /// </summary>
    /// <param name="catalog">The model operations catalog.</param>
    /// <param name="model">The trained model (any ML.NET transformer or chain, with or without this library's transformers).</param>
    /// <param name="inputSchema">The schema of the data the model is applied to (may be null, as for <c>Model.Save</c>).</param>
    /// <param name="filePath">The model file to write (replaced if it exists, only once the new one is complete).</param>
    /// <exception cref="InvalidOperationException">A transformer of the model cannot be saved (disposed, non-finite weights, ...); the file is left as it was.</exception>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="filePath"/>); a file already there is left as it was.</exception>
    /// <example><code>
    /// mlContext.Model.SaveAtomically(model, data.Schema, "model.zip");
    /// var loaded = mlContext.Model.Load("model.zip", out var schema);
    /// </code></example>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        AtomicFile.Write(filePath, stream =>
        {
            bool outer = MlNetModelBridge.SavingAtomically;
            MlNetModelBridge.SavingAtomically = true;
            try
            {
                catalog.Save(model, inputSchema, stream);
            }
            finally
            {
                MlNetModelBridge.SavingAtomically = outer;
            }
        });
    }
}
