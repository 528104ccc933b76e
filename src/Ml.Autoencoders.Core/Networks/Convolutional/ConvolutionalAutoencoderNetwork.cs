using Ml.Autoencoders.Networks.Dense;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>
/// Shape of a convolutional autoencoder: the convolutional options, the activation of the reconstruction, and the
/// dense part between encoder and decoder when <see cref="ConvolutionalOptions.DenseCode"/> is set (its input size is
/// the code map's size, its output activation the convolutional activation).
/// </summary>
internal sealed record ConvNetworkSpec(ConvolutionalOptions Convolution, Activation OutputActivation, DenseNetworkSpec? Core) : IBodySpec
{
    /// <inheritdoc />
    public int InputSize => Convolution.ImageShape!.Size;

    /// <inheritdoc />
    public int LatentDimension => Core?.LatentDimension ?? ConvolutionPlan.Create(Convolution).CodeSize;

    /// <inheritdoc />
    public LatentHead Head => Core?.Head ?? LatentHead.Deterministic;

    /// <inheritdoc />
    public BodyOptions? Options => Convolution;

    /// <inheritdoc />
    public CodeLayers Layers => Core?.Layers ?? new([], [], ConvolutionPlan.Create(Convolution).CodeSize, Convolution.Activation);

    /// <inheritdoc />
    public AutoencoderNetwork Create() => new ConvolutionalAutoencoderNetwork(this);

    /// <inheritdoc />
    public List<(string Name, long[] Shape)> ExpectedTensors() => ConvolutionalAutoencoderNetwork.ExpectedTensors(this);

    /// <summary>
    /// The spec of <paramref name="conv"/> with, when <see cref="ConvolutionalOptions.DenseCode"/> is set, a dense code
    /// (hidden layers, code, head) that reads the encoder's code map and gives it back through the convolutional activation.
    /// </summary>
    public static ConvNetworkSpec Create(ConvolutionalOptions conv, Activation outputActivation, int[] hiddenSizes, Activation[] hiddenActivations,
        int latentDimension, Activation codeActivation, LatentHead head, bool tiedWeights)
    {
        var core = conv.DenseCode
            ? new DenseNetworkSpec(ConvolutionPlan.Create(conv).CodeSize, hiddenSizes, hiddenActivations, latentDimension, codeActivation, conv.Activation, head, tiedWeights)
            : null;
        return new ConvNetworkSpec(conv, outputActivation, core);
    }
}

/// <summary>
/// A convolutional encoder, an optional dense code (any <see cref="DenseAutoencoderNetwork"/>, so a Gaussian head and
/// penalties on the code work as for dense bodies), and the decoder the <see cref="ConvolutionPlan"/> worked out.
/// Rows arrive flat in the declared pixel order and leave in the same order. Layer names are stable
/// ("encoder.conv0", "encoder.bn0", "core.…", "decoder.tconv0", ...) because the model file stores weights by name.
/// </summary>
internal sealed class ConvolutionalAutoencoderNetwork : AroundDenseCode, IOnnxBody
{
    private readonly Sequential encoder;
    private readonly Sequential decoder;
    private readonly DenseAutoencoderNetwork? core;
    private readonly ConvolutionPlan plan;
    private readonly ImageShape image;
    private readonly bool pixelMajor; // interleaved, or one channel: the row is already channels-last memory

    public ConvolutionalAutoencoderNetwork(ConvNetworkSpec spec) : base(nameof(ConvolutionalAutoencoderNetwork))
    {
        Spec = spec;
        var conv = spec.Convolution;
        plan = ConvolutionPlan.Create(conv);
        image = plan.Image;
        pixelMajor = conv.PixelOrder == PixelOrder.Interleaved || image.Channels == 1;
        if (spec.Core is { } c && c.InputSize != plan.CodeSize)
            throw new ArgumentException($"The dense code reads {c.InputSize} values; the encoder's code map has {plan.CodeSize}.");

        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < plan.Encoder.Count; i++)
        {
            var l = plan.Encoder[i];
            layers.Add(($"conv{i}", new Convolution(l.InChannels, l.OutChannels, l.KernelSize, l.Stride, l.Padding)));
            AddNormalisedActivation(layers, i, l.OutChannels, conv);
            if (l.PoolSize > 1) layers.Add(($"pool{i}", nn.MaxPool2d(l.PoolSize)));
        }
        encoder = nn.Sequential(layers);

        core = spec.Core is { } coreSpec ? new DenseAutoencoderNetwork(coreSpec) : null;

        layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int j = 0; j < plan.Decoder.Count; j++)
        {
            var l = plan.Decoder[j];
            if (l.UpsampleTo is { } size) layers.Add(($"up{j}", nn.Upsample(size: new long[] { size.Height, size.Width }, mode: UpsampleMode.Nearest)));
            layers.Add(l.Kind == PlannedKind.Convolution
                ? ($"conv{j}", new Convolution(l.InChannels, l.OutChannels, l.KernelSize, l.Stride, l.Padding))
                : ($"tconv{j}", new TransposedConvolution(l.InChannels, l.OutChannels, l.KernelSize, l.Stride, l.Padding, l.OutputPadding)));
            if (j < plan.Decoder.Count - 1)
                AddNormalisedActivation(layers, j, l.OutChannels, conv);
            else if (spec.OutputActivation != Activation.Linear)
                layers.Add(("output_act", Activations.Create(spec.OutputActivation)));
        }
        decoder = nn.Sequential(layers);
        RegisterComponents();
    }

    private static void AddNormalisedActivation(List<(string, nn.Module<Tensor, Tensor>)> layers, int index, int channels, ConvolutionalOptions conv)
    {
        if (conv.BatchNormalization) layers.Add(($"bn{index}", nn.BatchNorm2d(channels)));
        if (conv.Activation != Activation.Linear) layers.Add(($"act{index}", Activations.Create(conv.Activation)));
    }

    public ConvNetworkSpec Spec { get; }

    /// <inheritdoc />
    public override IBodySpec BodySpec => Spec;

    /// <inheritdoc />
    public override ImageShape? ImageShape => Spec.Convolution.ImageShape;

    /// <summary>
    /// The state-dict entries (name and shape, in state-dict order) a network of <paramref name="spec"/> has, worked out
    /// from its <see cref="ConvolutionPlan"/> without allocating anything (the model file checks its tensor table against
    /// this before building a network). Shape problems raise <see cref="ArgumentException"/> as the constructor would.
    /// </summary>
    internal static List<(string Name, long[] Shape)> ExpectedTensors(ConvNetworkSpec spec)
    {
        var conv = spec.Convolution;
        var plan = ConvolutionPlan.Create(conv);
        if (spec.Core is { } c && c.InputSize != plan.CodeSize)
            throw new ArgumentException($"The dense code reads {c.InputSize} values; the encoder's code map has {plan.CodeSize}.");
        // TorchSharp's state dict lists every parameter first, then every buffer (batch-norm statistics).
        var tensors = new List<(string, long[])>();
        var buffers = new List<(string, long[])>();
        void Normalised(string module, int index, int channels)
        {
            if (!conv.BatchNormalization) return;
            tensors.Add(($"{module}.bn{index}.weight", new long[] { channels }));
            tensors.Add(($"{module}.bn{index}.bias", new long[] { channels }));
            buffers.Add(($"{module}.bn{index}.running_mean", new long[] { channels }));
            buffers.Add(($"{module}.bn{index}.running_var", new long[] { channels }));
            buffers.Add(($"{module}.bn{index}.num_batches_tracked", Array.Empty<long>()));
        }
        for (int i = 0; i < plan.Encoder.Count; i++)
        {
            var l = plan.Encoder[i];
            tensors.Add(($"encoder.conv{i}.weight", new long[] { l.OutChannels, l.InChannels, l.KernelSize, l.KernelSize }));
            tensors.Add(($"encoder.conv{i}.bias", new long[] { l.OutChannels }));
            Normalised("encoder", i, l.OutChannels);
        }
        for (int j = 0; j < plan.Decoder.Count; j++)
        {
            var l = plan.Decoder[j];
            string name = l.Kind == PlannedKind.Convolution ? $"decoder.conv{j}" : $"decoder.tconv{j}";
            tensors.Add(($"{name}.weight", l.Kind == PlannedKind.Convolution
                ? new long[] { l.OutChannels, l.InChannels, l.KernelSize, l.KernelSize }
                : new long[] { l.InChannels, l.OutChannels, l.KernelSize, l.KernelSize }));
            tensors.Add(($"{name}.bias", new long[] { l.OutChannels }));
            if (j < plan.Decoder.Count - 1) Normalised("decoder", j, l.OutChannels);
        }
        if (spec.Core is { } core) tensors.AddRange(DenseAutoencoderNetwork.ExpectedTensors(core, "core."));
        tensors.AddRange(buffers);
        return tensors;
    }

    public ConvolutionPlan Plan => plan;

    /// <summary>The encoder's modules in order (conv{i}, bn{i}, act{i}, pool{i}), for ONNX export.</summary>
    internal Sequential EncoderModules => encoder;

    /// <summary>The decoder's modules in order (up{j}, conv{j} or tconv{j}, bn{j}, act{j}, output_act), for ONNX export.</summary>
    internal Sequential DecoderModules => decoder;

    /// <inheritdoc />
    IDenseLayers? IOnnxBody.DenseCode => core;

    /// <inheritdoc />
    string IOnnxBody.ExportFeatures(IOnnxGraph graph, string input, string? output) => ConvolutionalOnnx.Features(graph, this, input, output);

    /// <inheritdoc />
    string IOnnxBody.ExportRows(IOnnxGraph graph, string features, string output) => ConvolutionalOnnx.Rows(graph, this, features, output);

    /// <summary>Whether rows hold pixels channels-last (interleaved, or one channel); planar rows otherwise.</summary>
    internal bool PixelMajor => pixelMajor;

    public override int InputSize => image.Size;

    /// <inheritdoc />
    protected override DenseAutoencoderNetwork? Core => core;

    /// <inheritdoc />
    protected override int FeatureSize => plan.CodeSize;

    public override Activation OutputActivation => Spec.OutputActivation;

    public override string Description =>
        plan.Describe(core?.Spec.ToString()) +
        $" (activation {Spec.Convolution.Activation}{(Spec.Convolution.BatchNormalization ? ", batch norm" : "")}, output {Spec.OutputActivation}, " +
        $"{Spec.Convolution.PixelOrder.ToString().ToLowerInvariant()} pixels)";

    /// <summary>
    /// Flat rows in the declared pixel order to a batch of images (N, C, H, W) with channels-last strides: libtorch's
    /// oneDNN convolutions run 2-2.5x faster on them than on planar (NCHW-contiguous) batches on this CPU (bench part f).
    /// Interleaved and one-channel rows already are channels-last memory (no copy); planar colour rows take one copy.
    /// </summary>
    private Tensor ToImages(Tensor rows) => pixelMajor
        ? rows.reshape(-1, image.Height, image.Width, image.Channels).permute(0, 3, 1, 2)
        : ChannelsLast(rows.reshape(-1, image.Channels, image.Height, image.Width));

    /// <summary>Images back to flat rows in the declared pixel order (no copy for interleaved or one-channel images).</summary>
    private Tensor ToRows(Tensor images) => pixelMajor
        ? images.permute(0, 2, 3, 1).reshape(images.shape[0], -1)
        : images.reshape(images.shape[0], -1);

    /// <summary>The same logical tensor with channels-last strides (a copy unless it already has them).</summary>
    private static Tensor ChannelsLast(Tensor planar) => planar.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>The encoder's last feature map, flattened channel-major.</summary>
    protected override Tensor Features(Tensor input) => encoder.forward(ToImages(input)).flatten(1);

    protected override Tensor Rows(Tensor map) => ToRows(decoder.forward(ChannelsLast(map.reshape(-1, plan.CodeChannels, plan.CodeHeight, plan.CodeWidth))));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            encoder.Dispose();
            decoder.Dispose();
            core?.Dispose();
        }
        base.Dispose(disposing);
    }
}
