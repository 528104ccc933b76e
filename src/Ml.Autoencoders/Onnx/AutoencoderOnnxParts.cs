namespace Ml.Autoencoders.Onnx;

/// <summary>Which part of a trained autoencoder an ONNX export holds.</summary>
public enum AutoencoderOnnxParts
{
    /// <summary>
    /// The encoder: the input column in, the latent-code column out (for a variational autoencoder, the posterior mean,
    /// as in <c>Transform</c>).
    /// </summary>
    Encoder,

    /// <summary>
    /// The whole autoencoder: the latent code, the reconstruction and the reconstruction error per row (mean squared
    /// error over the features, as in <c>Transform</c>); a variational autoencoder adds its posterior log-variance.
    /// The sampled-code column is random per row position and is never exported.
    /// </summary>
    Autoencoder,
}
