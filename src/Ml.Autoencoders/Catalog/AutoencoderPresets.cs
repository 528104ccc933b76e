using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Training;
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

    /// <summary>
    /// Convolutional autoencoder for images of <paramref name="imageShape"/>: one 3x3 convolution of stride 2 per entry
    /// of <paramref name="channels"/> (16 and 8 by default: 1x28x28 becomes an 8x7x7 code map), LeakyReLU, and a decoder that
    /// mirrors the encoder with <paramref name="upsampling"/>; the code is the last feature map. Without
    /// <paramref name="denseCode"/> the code column has channels x height x width values of that map; with it a dense
    /// code of <paramref name="denseCode"/> units sits in the middle.
    /// </summary>
    public static AutoencoderOptions Convolutional(ImageShape imageShape, int[]? channels = null, DecoderUpsampling upsampling = DecoderUpsampling.TransposedConvolution,
        PixelOrder pixelOrder = PixelOrder.Planar, int? denseCode = null)
    {
        ArgumentNullException.ThrowIfNull(imageShape);
        return new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = imageShape,
                PixelOrder = pixelOrder,
                EncoderLayers = (channels ?? new[] { 16, 8 }).Select(c => new ConvolutionLayer(c, KernelSize: 3, Stride: 2)).ToList(),
                Upsampling = upsampling,
                DenseCode = denseCode is not null,
            },
            HiddenLayerSizes = Array.Empty<int>(),
            LatentDimension = denseCode ?? AutoencoderOptions.Defaults.LatentDimension,
        };
    }

    /// <summary>
    /// Convolutional denoising autoencoder: encoder Conv 16 and 8 channels, 3x3, stride 2 (1x28x28 becomes an 8x7x7 code
    /// map); decoder back up in two stride-2 steps to 8 and 16 channels, then a 3x3 Conv to the image's channels with a
    /// sigmoid; Gaussian noise of <paramref name="noiseFactor"/> clipped to [0, 1] in training; MSE; Adam; batch 128.
    /// Inputs in [0, 1] (ExtractPixels with <c>scaleImage: 1f / 255</c>).
    /// <para>
    /// <paramref name="classic"/> = true is the Keras tutorial's recipe exactly: transposed convolutions, ReLU, Adam at
    /// 1e-3 constant. The default adds batch normalisation after every hidden convolution and uses Adam at 2e-3 with a
    /// cosine schedule, which denoised better at the same speed in the benchmark (bench/README.md). Nearest-neighbour
    /// upsampling + convolution instead of the transposed convolutions (<see cref="DecoderLayerKind.UpsampleConvolution"/>)
    /// is slower and is not the default. <paramref name="channels"/> sets the encoder's channels (the decoder mirrors
    /// them); wider channels denoise better at a fraction of the speed. Each entry halves the image (stride 2), so the
    /// height and width must be divisible by 2 per entry for the decoder to end at the image shape.
    /// </para>
    /// </summary>
    public static AutoencoderOptions ConvolutionalDenoising(ImageShape imageShape, double noiseFactor = 0.6, PixelOrder pixelOrder = PixelOrder.Planar, bool classic = false,
        int[]? channels = null)
    {
        ArgumentNullException.ThrowIfNull(imageShape);
        channels ??= new[] { 16, 8 };
        DecoderLayer Grow(int c) => new(c, DecoderLayerKind.TransposedConvolution, 3, 2);
        return new AutoencoderOptions
        {
            Body = new ConvolutionalOptions
            {
                ImageShape = imageShape,
                PixelOrder = pixelOrder,
                EncoderLayers = channels.Select(c => new ConvolutionLayer(c, 3, 2)).ToList(),
                DecoderLayers = channels.Reverse().Select(Grow).Append(new DecoderLayer(imageShape.Channels, DecoderLayerKind.UpsampleConvolution, 3, 1)).ToList(),
                BatchNormalization = !classic,
                Activation = Activation.ReLU,
            },
            HiddenLayerSizes = Array.Empty<int>(),
            Corruption = new GaussianNoise { Factor = noiseFactor, ClipMin = 0, ClipMax = 1 },
            OutputActivation = Activation.Sigmoid,
            BatchSize = 128,
            LearningRate = classic ? 1e-3 : 2e-3,
            LearningRateSchedule = classic ? LearningRateSchedule.Constant : LearningRateSchedule.Cosine,
        };
    }

    /// <summary>
    /// Deep convolutional autoencoder with a dense code: 3x3 convolutions of stride 2 with <paramref name="channels"/>
    /// (16, 32, 64, 128 by default), LeakyReLU, flattened into a <paramref name="codeSize"/>-unit sigmoid code (256 by
    /// default) and back through a mirrored transposed-convolution decoder. Odd sizes are handled (28 -> 14 -> 7 -> 4 -> 2
    /// and back to 28 exactly).
    /// </summary>
    public static AutoencoderOptions DeepConvolutional(ImageShape imageShape, int[]? channels = null, int codeSize = 256, PixelOrder pixelOrder = PixelOrder.Planar)
    {
        var options = Convolutional(imageShape, channels ?? new[] { 16, 32, 64, 128 }, DecoderUpsampling.TransposedConvolution, pixelOrder, codeSize);
        options.CodeActivation = Activation.Sigmoid;
        return options;
    }

    /// <summary>
    /// Convolutional variational autoencoder (the Keras VAE example's shape): 3x3 stride-2 convolutions with
    /// <paramref name="channels"/> (32, 64 by default), LeakyReLU, a dense ReLU layer of 16, a Gaussian latent head of
    /// <paramref name="latentDimension"/> units (2 by default: a plane to plot and to decode as a grid), and the mirror
    /// back through transposed convolutions to a sigmoid image; Bernoulli reconstruction summed per image + KL (inputs in
    /// [0, 1]). <c>Model.Sample</c> and <c>Model.Decode</c> generate images.
    /// </summary>
    public static AutoencoderOptions ConvolutionalVariational(ImageShape imageShape, int latentDimension = 2, int[]? channels = null, PixelOrder pixelOrder = PixelOrder.Planar)
    {
        var options = Convolutional(imageShape, channels ?? new[] { 32, 64 }, DecoderUpsampling.TransposedConvolution, pixelOrder, latentDimension);
        options.HiddenLayerSizes = new[] { 16 };
        options.HiddenActivation = Activation.ReLU;
        options.LatentHead = LatentHead.Gaussian;
        options.Loss = ReconstructionLoss.BinaryCrossEntropy;
        options.OutputActivation = Activation.Sigmoid;
        options.Outputs = AutoencoderOutputs.All | AutoencoderOutputs.LatentLogVariance;
        return options;
    }
}
