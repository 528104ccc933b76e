using Microsoft.ML;
using Ml.Autoencoders;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Series;
using Ml.Autoencoders.Transforms;

// How mlContext.Model.Load finds the library's loaders with no call from the user. A model saved through the bridge names
// this assembly as its loader assembly; ML.NET's ModelLoadContext loads that assembly by name and calls
// ComponentCatalog.RegisterAssembly on it before it looks the loader signature up, and RegisterAssembly reads exactly these
// attributes (ML.NET's own LoadableClassAttribute, one per transformer kind the bridge carries). The attribute and the types
// it names are internal to Microsoft.ML.Core: MlNetLoaderReference.targets lets the compiler see them, and
// IgnoresAccessChecksTo lets the runtime hand the attributes to ML.NET (it hides attributes whose type the decorated
// assembly cannot access). A new kind adds a line here; MlNetModelBridge.Save refuses a kind that has none.
[assembly: LoadableClass("Ml.Autoencoders autoencoder", typeof(AutoencoderTransformer), typeof(MlNetModelLoader<AutoencoderTransformer>),
    null, typeof(SignatureLoadModel), nameof(AutoencoderTransformer), AutoencoderTransformer.LoaderSignature)]
[assembly: LoadableClass("Ml.Autoencoders k-NN classifier", typeof(KNearestNeighborsPredictionTransformer), typeof(MlNetModelLoader<KNearestNeighborsPredictionTransformer>),
    null, typeof(SignatureLoadModel), nameof(KNearestNeighborsPredictionTransformer), KNearestNeighborsPredictionTransformer.LoaderSignature)]
[assembly: LoadableClass("Ml.Autoencoders t-SNE transform", typeof(TsneTransformer), typeof(MlNetModelLoader<TsneTransformer>),
    null, typeof(SignatureLoadModel), nameof(TsneTransformer), TsneTransformer.LoaderSignature)]
[assembly: LoadableClass("Ml.Autoencoders anomaly detector", typeof(AutoencoderAnomalyTransformer), typeof(MlNetModelLoader<AutoencoderAnomalyTransformer>),
    null, typeof(SignatureLoadModel), nameof(AutoencoderAnomalyTransformer), AutoencoderAnomalyTransformer.LoaderSignature)]
[assembly: LoadableClass("Ml.Autoencoders fine-tuned classifier", typeof(AutoencoderClassifierTransformer), typeof(MlNetModelLoader<AutoencoderClassifierTransformer>),
    null, typeof(SignatureLoadModel), nameof(AutoencoderClassifierTransformer), AutoencoderClassifierTransformer.LoaderSignature)]
[assembly: LoadableClass("Ml.Autoencoders sliding-window transform", typeof(SlidingWindowTransformer), typeof(MlNetModelLoader<SlidingWindowTransformer>),
    null, typeof(SignatureLoadModel), nameof(SlidingWindowTransformer), SlidingWindowTransformer.LoaderSignature)]
[assembly: LoadableClass("Ml.Autoencoders per-time-step error transform", typeof(TimeStepErrorTransformer), typeof(MlNetModelLoader<TimeStepErrorTransformer>),
    null, typeof(SignatureLoadModel), nameof(TimeStepErrorTransformer), TimeStepErrorTransformer.LoaderSignature)]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]

namespace Ml.Autoencoders;

/// <summary>The loader ML.NET calls for a saved <typeparamref name="T"/> (named by the attributes above).</summary>
/// <typeparam name="T">One of the transformers in <see cref="AutoencoderModelRegistration.Kinds"/>.</typeparam>
internal static class MlNetModelLoader<T>
    where T : class
{
    private static readonly MlNetModelBridge.Kind Kind = AutoencoderModelRegistration.Kinds.Single(k => k.Transformer == typeof(T));

    /// <summary>
    /// What ML.NET invokes (by reflection) with the model's <see cref="ModelLoadContext"/>: it looks for a static method named
    /// <c>Create</c> declared on the loader type, taking the parameters of <see cref="SignatureLoadModel"/> and returning exactly
    /// the loadable type.
    /// </summary>
    internal static T Create(ModelLoadContext ctx) => (T)MlNetModelBridge.Load(ctx, Kind);
}
