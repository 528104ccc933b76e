using Microsoft.ML;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders;

/// <summary>
/// Makes <c>mlContext.Model.Load</c> able to read models that contain an <see cref="AutoencoderTransformer"/>.
/// </summary>
/// <remarks>
/// ML.NET finds the loader of a third-party transformer only in the component catalog of the loading
/// <see cref="MLContext"/>, and ML.NET 5.0.1 offers no public way for a library to put it there by itself.
/// Call <see cref="Register(MLContext)"/> once on each context that loads such a model (for example in a new
/// process) before <c>mlContext.Model.Load</c>. The context that saved a model can load it back without the call.
/// The bridge relies on ML.NET internals (Microsoft.ML 5.0.1 exactly); <see cref="AutoencoderTransformer.Save(string)"/>
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
    ];

    /// <summary>Registers the loader of <see cref="AutoencoderTransformer"/> in <paramref name="mlContext"/>. Idempotent and thread-safe.</summary>
    /// <param name="mlContext">The context that will call <c>Model.Load</c>.</param>
    /// <returns>The same <paramref name="mlContext"/>, for chaining.</returns>
    /// <exception cref="NotSupportedException">The referenced Microsoft.ML lacks an internal member the bridge needs (it targets 5.0.1).</exception>
    public static MLContext Register(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        MlNetModelBridge.RegisterLoader(mlContext.ComponentCatalog, Kinds);
        return mlContext;
    }
}
