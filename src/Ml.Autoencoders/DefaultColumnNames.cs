namespace Ml.Autoencoders;

/// <summary>
/// The default names of the columns every stage of the library reads and appends (as ML.NET's own defaults:
/// "Features", "Label", "Score", "PredictedLabel"), in one place: catalog methods and options take their defaults
/// from here.
/// </summary>
public static class DefaultColumnNames
{
    /// <summary>The input vector column of every stage: "Features".</summary>
    public const string Features = "Features";

    /// <summary>The label column the k-NN trainer and the fine-tuned classifier learn from: "Label".</summary>
    public const string Label = "Label";

    /// <summary>The score column the k-NN trainer, the anomaly detector and the fine-tuned classifier append: "Score".</summary>
    public const string Score = "Score";

    /// <summary>The predicted-label column the k-NN trainer, the anomaly detector and the fine-tuned classifier append: "PredictedLabel".</summary>
    public const string PredictedLabel = "PredictedLabel";

    /// <summary>The autoencoder's latent-code column: "LatentCode".</summary>
    public const string LatentCode = "LatentCode";

    /// <summary>The autoencoder's reconstruction column: "Reconstruction".</summary>
    public const string Reconstruction = "Reconstruction";

    /// <summary>The autoencoder's reconstruction-error column: "ReconstructionError".</summary>
    public const string ReconstructionError = "ReconstructionError";

    /// <summary>A variational autoencoder's posterior log-variance column: "LatentLogVariance".</summary>
    public const string LatentLogVariance = "LatentLogVariance";

    /// <summary>A variational autoencoder's sampled-code column: "SampledLatentCode".</summary>
    public const string SampledLatentCode = "SampledLatentCode";

    /// <summary>The t-SNE coordinates column: "Tsne".</summary>
    public const string Tsne = "Tsne";
}
