namespace Ml.Autoencoders.Networks;

/// <summary>What the encoder produces at the bottleneck.</summary>
public enum LatentHead
{
    /// <summary>A deterministic code (plain, denoising, sparse, contractive, stacked autoencoders).</summary>
    Deterministic,
    /// <summary>
    /// A Gaussian posterior: a mean and a log-variance per latent unit, sampled by reparameterisation in training
    /// (the variational autoencoder). The latent-code column is the mean, so <c>Transform</c> stays deterministic.
    /// </summary>
    Gaussian,
}
