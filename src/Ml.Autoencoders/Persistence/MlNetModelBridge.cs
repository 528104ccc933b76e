using Microsoft.ML;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Persistence;

/// <summary>Placeholder for the mlContext.Model.Save/Load bridge (work in progress).</summary>
internal static class MlNetModelBridge
{
    public static void Save(AutoencoderTransformer transformer, ModelSaveContext ctx) =>
        throw new NotSupportedException("mlContext.Model.Save is not supported yet for AutoencoderTransformer; use AutoencoderTransformer.Save(path).");
}
