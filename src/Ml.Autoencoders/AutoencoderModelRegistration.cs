using Microsoft.ML;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders;

/// <summary>
/// The list of transformers that <c>mlContext.Model.Save</c>/<c>Load</c> carry, and an explicit registration call that is no
/// longer needed.
/// </summary>
/// <remarks>
/// <c>mlContext.Model.Load</c> reads models that contain the library's transformers in any <see cref="MLContext"/> and any
/// process with no call: a saved model names this assembly as its loader, and ML.NET registers that assembly in the loading
/// context's <see cref="Microsoft.ML.Runtime.ComponentCatalog"/> by itself (see MlNetModelLoaders.cs). <see cref="Register(MLContext)"/> stays for
/// callers of earlier versions; it does what ML.NET's documented
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(AutoencoderTransformer).Assembly)</c> does, which works too.
/// The bridge relies on ML.NET internals (those of Microsoft.ML 5.0.1 and 6.0.0); <see cref="AutoencoderTransformer.Save(string)"/>
/// and <see cref="AutoencoderTransformer.Load(string, Runtime.ComputeDevice)"/> need none of them.
/// To save without risking an earlier file at the path (ML.NET's <c>Model.Save(model, schema, filePath)</c> empties the
/// file before a failing transformer can object), use <see cref="AtomicModelSaveCatalog.SaveAtomically"/>.
/// </remarks>
public static class AutoencoderModelRegistration
{
    /// <summary>Every transformer the library's ML.NET model bridge carries: a new stage adds its kind here.</summary>
    internal static readonly MlNetModelBridge.Kind[] Kinds =
    [
        AutoencoderTransformer.Bridge,
        Neighbors.KNearestNeighborsPredictionTransformer.Bridge,
        Embedding.TsneTransformer.Bridge,
        Anomaly.AutoencoderAnomalyTransformer.Bridge,
        Classification.AutoencoderClassifierTransformer.Bridge,
        Series.SlidingWindowTransformer.Bridge,
        Series.TimeStepErrorTransformer.Bridge,
    ];

    /// <summary>
    /// Registers the library's loaders in <paramref name="mlContext"/>'s component catalog. Not needed: <c>Model.Load</c> does
    /// it by itself. Kept for callers of earlier versions; equivalent to
    /// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(AutoencoderTransformer).Assembly)</c>. Idempotent and thread-safe.
    /// </summary>
    /// <param name="mlContext">The context that will call <c>Model.Load</c>.</param>
    /// <returns>The same <paramref name="mlContext"/>, for chaining.</returns>
    /// <exception cref="NotSupportedException">The referenced Microsoft.ML lacks an internal member the bridge needs (it knows 5.0.1 and 6.0.0).</exception>
    public static MLContext Register(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        MlNetModelBridge.EnsureSupported();
        mlContext.ComponentCatalog.RegisterAssembly(typeof(AutoencoderModelRegistration).Assembly);
        return mlContext;
    }
}
