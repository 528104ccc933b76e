namespace Ml.Autoencoders.Transforms;

/// <summary>Default names of the columns an autoencoder reads and appends (the same as <see cref="DefaultColumnNames"/>).</summary>
public static class AutoencoderColumnNames
{
    /// <summary>Default input column: a known-size vector of <see cref="float"/>.</summary>
    public const string Features = DefaultColumnNames.Features;

    /// <summary>Default latent-code column (vector of <see cref="float"/>, length = latent dimension).</summary>
    public const string LatentCode = DefaultColumnNames.LatentCode;

    /// <summary>Default reconstruction column (vector of <see cref="float"/>, same length as the input).</summary>
    public const string Reconstruction = DefaultColumnNames.Reconstruction;

    /// <summary>Default reconstruction-error column (<see cref="float"/> per row: mean squared error over the features).</summary>
    public const string ReconstructionError = DefaultColumnNames.ReconstructionError;

    /// <summary>Default column of a variational autoencoder's posterior log-variance (vector, length = latent dimension).</summary>
    public const string LatentLogVariance = DefaultColumnNames.LatentLogVariance;

    /// <summary>Default column of a variational autoencoder's sampled code z = μ + σ·ε (vector, length = latent dimension).</summary>
    public const string SampledLatentCode = DefaultColumnNames.SampledLatentCode;
}

/// <summary>Which columns <c>Transform</c> appends.</summary>
[Flags]
public enum AutoencoderOutputs
{
    /// <summary>The latent code (for a variational autoencoder: the posterior mean, deterministic).</summary>
    LatentCode = 1,
    /// <summary>The reconstruction of the input.</summary>
    Reconstruction = 2,
    /// <summary>The per-row reconstruction error (mean squared error over the features).</summary>
    ReconstructionError = 4,
    /// <summary>The three columns every autoencoder has: code, reconstruction and error.</summary>
    All = LatentCode | Reconstruction | ReconstructionError,
    /// <summary>The posterior log-variance (variational autoencoders only).</summary>
    LatentLogVariance = 8,
    /// <summary>
    /// A code sampled from the posterior, z = μ + σ·ε (variational autoencoders only). ε is keyed on the seed and the
    /// row's position in the data view, so reading the same view twice gives the same samples.
    /// </summary>
    SampledLatentCode = 16,
    /// <summary>Every column a variational autoencoder can append.</summary>
    AllVariational = All | LatentLogVariance | SampledLatentCode,
}

/// <summary>How <c>Fit</c> holds the training rows.</summary>
public enum DataCaching
{
    /// <summary>Cache in one native buffer when the rows fit in <c>MaxCacheBytes</c>; stream otherwise.</summary>
    Auto,
    /// <summary>Always cache in one native buffer (one pass over the data).</summary>
    Memory,
    /// <summary>Read the data view afresh every epoch, shuffling through a bounded shuffle buffer.</summary>
    Stream,
}
