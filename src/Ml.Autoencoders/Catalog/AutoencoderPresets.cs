using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders;

/// <summary>
/// The named variants of the literature as <see cref="AutoencoderOptions"/> over the one options model. Each returns
/// fresh options to adjust or combine further (a denoising sparse autoencoder is <c>Denoising()</c> plus a
/// <see cref="SparsityPenalty"/>); <see cref="AutoencoderOptions.Validate"/> rejects combinations that make no sense.
/// </summary>
public static class AutoencoderPresets
{
    /// <summary>
    /// Denoising autoencoder (Vincent et al. 2008): trained to reconstruct clean rows from rows with Gaussian noise of
    /// <paramref name="noiseFactor"/>, clipped to [<paramref name="clipMin"/>, <paramref name="clipMax"/>] (the classic
    /// Fashion-MNIST setting is 0.6 clipped to [0, 1]; pass nulls for unbounded data).
    /// </summary>
    public static AutoencoderOptions Denoising(double noiseFactor = 0.6, double? clipMin = 0, double? clipMax = 1) => new()
    {
        Corruption = new GaussianNoise { Factor = noiseFactor, ClipMin = clipMin, ClipMax = clipMax },
    };

    /// <summary>
    /// Sparse autoencoder: a code with a sparsity penalty. With <see cref="SparsityKind.KlDivergence"/> (default) the code
    /// is sigmoid and each unit's mean activation is pulled towards <paramref name="targetActivation"/> (Ng's sparse
    /// autoencoder; weight 0.1 by default); with <see cref="SparsityKind.L1"/> the code is ReLU and its L1 norm is
    /// penalised (weight 1e-4 by default: the L1 norm grows with the code width; 1e-3 already silences most of a 64-unit code on Fashion-MNIST).
    /// </summary>
    public static AutoencoderOptions Sparse(int latentDimension = 64, SparsityKind kind = SparsityKind.KlDivergence, double? weight = null, double targetActivation = 0.05) => new()
    {
        LatentDimension = latentDimension,
        CodeActivation = kind == SparsityKind.KlDivergence ? Activation.Sigmoid : Activation.ReLU,
        Penalties = { new SparsityPenalty { Kind = kind, Weight = weight ?? (kind == SparsityKind.KlDivergence ? 0.1 : 1e-4), TargetActivation = targetActivation } },
    };

    /// <summary>Contractive autoencoder (Rifai et al. 2011): the encoder's Jacobian norm is penalised with <paramref name="weight"/>.</summary>
    public static AutoencoderOptions Contractive(int latentDimension = AutoencoderOptions.Defaults.LatentDimension, double weight = 1e-4) => new()
    {
        LatentDimension = latentDimension,
        Penalties = { new ContractivePenalty { Weight = weight } },
    };

    /// <summary>
    /// Variational autoencoder (Kingma &amp; Welling 2014), a β-VAE when <paramref name="klWeight"/> is not 1: a Gaussian
    /// latent head of <paramref name="latentDimension"/> units over ReLU hidden layers (512 by default), Bernoulli
    /// reconstruction (inputs in [0, 1]; use <see cref="ReconstructionLoss.MeanSquaredError"/> otherwise). Appends the
    /// posterior mean as the code, the log-variance, the reconstruction and its error.
    /// </summary>
    public static AutoencoderOptions Variational(int latentDimension = 2, double klWeight = 1, int[]? hiddenLayerSizes = null) => new()
    {
        LatentDimension = latentDimension,
        LatentHead = LatentHead.Gaussian,
        KlWeight = klWeight,
        HiddenLayerSizes = hiddenLayerSizes ?? new[] { 512 },
        HiddenActivation = Activation.ReLU,
        Loss = ReconstructionLoss.BinaryCrossEntropy,
        Outputs = AutoencoderOutputs.All | AutoencoderOutputs.LatentLogVariance,
    };

    /// <summary>
    /// Stacked autoencoder of any depth: SELU hidden and code layers (self-normalising), sigmoid output and Bernoulli
    /// reconstruction (inputs in [0, 1]), optional tied weights, and greedy layer-wise pretraining of
    /// <paramref name="pretrainEpochs"/> epochs per layer before end-to-end fine-tuning (0: end to end only).
    /// </summary>
    public static AutoencoderOptions Stacked(int[]? hiddenLayerSizes = null, int latentDimension = 30, int pretrainEpochs = 0, bool tiedWeights = false) => new()
    {
        HiddenLayerSizes = hiddenLayerSizes ?? new[] { 100 },
        LatentDimension = latentDimension,
        HiddenActivation = Activation.SELU,
        CodeActivation = Activation.SELU,
        OutputActivation = Activation.Sigmoid,
        Loss = ReconstructionLoss.BinaryCrossEntropy,
        PretrainEpochs = pretrainEpochs,
        TiedWeights = tiedWeights,
    };
}
