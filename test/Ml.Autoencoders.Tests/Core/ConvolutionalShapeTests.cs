using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Shape inference of convolutional bodies: every stride, padding and pooling lands where the formula says, the
/// mirrored decoder returns to the exact input size (odd sizes included), and every impossible shape is refused at
/// construction with an error that names the layer.
/// </summary>
[TestClass]
public sealed class ConvolutionalShapeTests
{
    private static ConvolutionalOptions Conv(ImageShape shape, params ConvolutionLayer[] layers) => new() { ImageShape = shape, EncoderLayers = layers.ToList() };

    /// <summary>The network's real tensors have the planned shapes: encoder maps, code, and a reconstruction of the input's size.</summary>
    [TestMethod]
    [DataRow(1, 28, 28, 2, 1, 1, DecoderUpsampling.TransposedConvolution)]
    [DataRow(1, 27, 29, 2, 1, 1, DecoderUpsampling.TransposedConvolution)]
    [DataRow(3, 13, 7, 2, 0, 1, DecoderUpsampling.TransposedConvolution)]
    [DataRow(2, 31, 17, 3, 2, 1, DecoderUpsampling.TransposedConvolution)]
    [DataRow(1, 28, 28, 1, 1, 2, DecoderUpsampling.TransposedConvolution)]
    [DataRow(1, 29, 23, 1, 1, 2, DecoderUpsampling.NearestNeighbour)]
    [DataRow(3, 15, 11, 2, 1, 1, DecoderUpsampling.NearestNeighbour)]
    public void MirroredDecoderRestoresTheExactInputShape(int channels, int height, int width, int stride, int padding, int pool, DecoderUpsampling upsampling)
    {
        var shape = new ImageShape(channels, height, width);
        var options = Conv(shape, new ConvolutionLayer(4, 3, stride, padding, pool), new ConvolutionLayer(5, 3, stride, padding));
        options.Upsampling = upsampling;
        var plan = ConvolutionPlan.Create(options);

        int h = height, w = width;
        foreach (var layer in options.EncoderLayers)
        {
            h = (h + 2 * layer.EffectivePadding - layer.KernelSize) / layer.Stride + 1;
            w = (w + 2 * layer.EffectivePadding - layer.KernelSize) / layer.Stride + 1;
            h /= layer.PoolSize;
            w /= layer.PoolSize;
        }
        Assert.AreEqual((5, h, w), (plan.CodeChannels, plan.CodeHeight, plan.CodeWidth), "code map from the convolution formula");

        using var network = new ConvolutionalAutoencoderNetwork(new ConvNetworkSpec(options, Activation.Sigmoid, null));
        using var scope = NewDisposeScope();
        var x = rand(3, shape.Size);
        Assert.AreEqual(5L * h * w, network.Encode(x).shape[1]);
        CollectionAssert.AreEqual(new long[] { 3, shape.Size }, network.forward(x).shape);
    }

    /// <summary>
    /// A written decoder's output-padding default gives Keras "same" sizes (x stride), so the Keras net maps 28 -> 7 -> 28
    /// with transposed convolutions, classic or not; the default adds batch normalisation.
    /// </summary>
    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void DenoisingDecoderEndsAtTheImage(bool classic)
    {
        var options = AutoencoderPresets.ConvolutionalDenoising(new ImageShape(1, 28, 28), classic: classic).Body as ConvolutionalOptions ?? throw new AssertFailedException("not convolutional");
        var plan = ConvolutionPlan.Create(options);
        Assert.AreEqual((8, 7, 7), (plan.CodeChannels, plan.CodeHeight, plan.CodeWidth));
        CollectionAssert.AreEqual(new[] { (14, 14), (28, 28), (28, 28) }, plan.Decoder.Select(l => l.Output).ToArray());
        Assert.AreEqual(2, plan.Decoder.Count(l => l.Kind == PlannedKind.TransposedConvolution));
        Assert.AreEqual(!classic, options.BatchNormalization);
    }

    /// <summary>The deep conv autoencoder: 28 -> 14 -> 7 -> 4 -> 2, a 256-unit dense code, and back to 28 exactly.</summary>
    [TestMethod]
    public void DeepConvolutionalPresetHasADenseCodeAndOddSizes()
    {
        var options = AutoencoderPresets.DeepConvolutional(new ImageShape(1, 28, 28));
        var plan = ConvolutionPlan.Create((ConvolutionalOptions)options.Body!);
        CollectionAssert.AreEqual(new[] { (14, 14), (7, 7), (4, 4), (2, 2) }, plan.Encoder.Select(l => l.Output).ToArray());
        CollectionAssert.AreEqual(new[] { (4, 4), (7, 7), (14, 14), (28, 28) }, plan.Decoder.Select(l => l.Output).ToArray());
        var spec = (ConvNetworkSpec)options.Spec(28 * 28, Activation.Sigmoid);
        using var network = new ConvolutionalAutoencoderNetwork(spec);
        Assert.AreEqual(256, network.LatentDimension);
        Assert.AreEqual(128 * 2 * 2, spec.Core!.InputSize);
        using var scope = NewDisposeScope();
        var code = network.Encode(rand(2, 784));
        Assert.IsTrue(code.min().item<float>() >= 0 && code.max().item<float>() <= 1, "sigmoid code");
    }

    /// <summary>
    /// The convolutional VAE preset trains end to end on images and generates: samples from the prior and decoded codes
    /// are images of the input's size in (0, 1), and the ELBO's terms (reconstruction, KL) are both reported.
    /// </summary>
    [TestMethod]
    public void ConvolutionalVariationalPresetTrainsAndGenerates()
    {
        var ml = new MLContext(seed: 1);
        var shape = new ImageShape(1, 8, 8);
        var rows = Synthetic.LowRank(96, shape.Size, 3, seed: 4);
        var options = AutoencoderPresets.ConvolutionalVariational(shape, latentDimension: 2, channels: new[] { 4, 8 });
        options.Epochs = 6;
        options.BatchSize = 16;
        options.LearningRate = 5e-3;
        using var model = ml.Transforms.Autoencoder(options).Fit(ml.ToDataView(rows)).Model;
        Assert.IsTrue(model.IsVariational);
        Assert.AreEqual(2, model.LatentDimension);
        Assert.IsTrue(model.History.Epochs[^1].TrainLoss < model.History.Epochs[0].TrainLoss, "the negative ELBO falls");
        CollectionAssert.AreEquivalent(new[] { "reconstruction", "kl" }, model.History.Epochs[^1].Terms.Keys.ToArray());
        var samples = model.Sample(5, seed: 2);
        Assert.AreEqual(5, samples.Length);
        Assert.IsTrue(samples.All(s => s.Length == shape.Size && s.All(v => v > 0 && v < 1)));
        var (mean, logVariance) = model.EncodeDistribution(rows.Take(3).ToArray());
        Assert.AreEqual(2, mean[0].Length);
        Assert.AreEqual(2, logVariance[0].Length);
        StringAssert.Contains(model.Architecture, "Gaussian");
    }

    /// <summary>An encoder that shrinks the map below its kernel is refused, naming the layer and the map it got.</summary>
    [TestMethod]
    public void TooManyStridesNameTheLayer()
    {
        var options = Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(4, 3, 2), new ConvolutionLayer(4, 3, 2, Padding: 0));
        var e = Assert.ThrowsExactly<ArgumentException>(() => options.Validate());
        StringAssert.Contains(e.Message, "Encoder layer 3");
        StringAssert.Contains(e.Message, "4x1x1");
    }

    /// <summary>A written decoder that does not end at the image names its last layer and both shapes.</summary>
    [TestMethod]
    public void DecoderThatMissesTheImageNamesTheLayer()
    {
        var options = Conv(new ImageShape(1, 28, 28), new ConvolutionLayer(8, 3, 2));
        options.DecoderLayers = new List<DecoderLayer> { new(1, DecoderLayerKind.TransposedConvolution, 3, 2, OutputPadding: 0) };
        var e = Assert.ThrowsExactly<ArgumentException>(() => options.Validate());
        StringAssert.Contains(e.Message, "Decoder layer 0");
        StringAssert.Contains(e.Message, "1x27x27");
        StringAssert.Contains(e.Message, "1x28x28");

        options.DecoderLayers = new List<DecoderLayer> { new(3, DecoderLayerKind.TransposedConvolution, 3, 2) };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => options.Validate()).Message, "3x28x28");

        options.DecoderLayers = new List<DecoderLayer> { new(1, DecoderLayerKind.TransposedConvolution, 3, 2, OutputPadding: 2) };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => options.Validate()).Message, "output padding 2");
    }

    /// <summary>Non-positive dimensions, a missing shape, no encoder layers, an even kernel under nearest-neighbour mirroring.</summary>
    [TestMethod]
    public void BadShapesAndLayersAreRefused()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Conv(new ImageShape(0, 28, 28), new ConvolutionLayer(4)).Validate());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Conv(new ImageShape(1, -28, 28), new ConvolutionLayer(4)).Validate());
        Assert.ThrowsExactly<ArgumentNullException>(() => new ConvolutionalOptions { EncoderLayers = { new ConvolutionLayer(4) } }.Validate());
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Conv(new ImageShape(1, 8, 8)).Validate()).Message, "at least one encoder layer");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(0)).Validate()).Message, "Encoder layer 0");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, 3, 0)).Validate()).Message, "stride");
        var even = Conv(new ImageShape(1, 8, 8), new ConvolutionLayer(4, KernelSize: 4, Stride: 2, Padding: 1));
        even.Validate(); // transposed convolutions mirror even kernels
        even.Upsampling = DecoderUpsampling.NearestNeighbour;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => even.Validate()).Message, "odd kernel");
    }

    /// <summary>Options that need dense layers are refused on a convolutional body without a dense code, naming the option.</summary>
    [TestMethod]
    public void DenseOnlyOptionsAreRefusedWithoutADenseCode()
    {
        var shape = new ImageShape(1, 8, 8);
        var withHidden = AutoencoderPresets.Convolutional(shape);
        withHidden.HiddenLayerSizes = new[] { 32 };
        Assert.AreEqual("HiddenLayerSizes", Assert.ThrowsExactly<ArgumentException>(() => withHidden.Validate()).ParamName);
        var gaussian = AutoencoderPresets.Convolutional(shape);
        gaussian.LatentHead = LatentHead.Gaussian;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => gaussian.Validate()).Message, "DenseCode");
        var contractive = AutoencoderPresets.Convolutional(shape, denseCode: 8);
        contractive.Penalties.Add(new Objectives.ContractivePenalty());
        Assert.AreEqual("Penalties", Assert.ThrowsExactly<ArgumentException>(() => contractive.Validate()).ParamName);
        var pretrained = AutoencoderPresets.Convolutional(shape, denseCode: 8);
        pretrained.PretrainEpochs = 1;
        Assert.AreEqual("PretrainEpochs", Assert.ThrowsExactly<ArgumentException>(() => pretrained.Validate()).ParamName);
        var vae = AutoencoderPresets.Convolutional(shape, denseCode: 2);
        vae.LatentHead = LatentHead.Gaussian;
        vae.Validate();
    }

    /// <summary>A vector column whose size is not channels x height x width is refused at Fit, naming the column and both sizes.</summary>
    [TestMethod]
    public void VectorSizeMustMatchTheImageShape()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(Synthetic.LowRank(20, 12, 2));
        var estimator = ml.Transforms.Autoencoder(AutoencoderPresets.Convolutional(new ImageShape(3, 2, 3), channels: new[] { 4 }));
        var e = Assert.ThrowsExactly<AutoencoderSchemaException>(() => estimator.Fit(data));
        Assert.AreEqual("Features", e.ColumnName);
        StringAssert.Contains(e.Message, "12 values");
        StringAssert.Contains(e.Message, "3x2x3");
        StringAssert.Contains(e.Message, "18");
    }
}
