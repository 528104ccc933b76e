using System.Text.Json.Serialization;

namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>
/// One encoder stage of a convolutional autoencoder: a 2-d convolution (square kernel), optional batch
/// normalisation (<see cref="ConvolutionalOptions.BatchNormalization"/>), the activation, then optional max pooling.
/// Output size per side: floor((n + 2·padding − kernel) / stride) + 1, then floor(that / pool).
/// </summary>
/// <param name="Channels">Output channels (filters).</param>
/// <param name="KernelSize">Side of the square kernel.</param>
/// <param name="Stride">Step of the kernel; 2 halves the map.</param>
/// <param name="Padding">Zeros added on each side; null uses KernelSize / 2 ("same" size at stride 1 for odd kernels).</param>
/// <param name="PoolSize">Side and stride of a max pooling after the activation; 1 for none.</param>
public sealed record ConvolutionLayer(int Channels, int KernelSize = 3, int Stride = 1, int? Padding = null, int PoolSize = 1)
{
    /// <summary>The padding in use: <see cref="Padding"/>, or KernelSize / 2 when it is null.</summary>
    [JsonIgnore]
    public int EffectivePadding => Padding ?? KernelSize / 2;

    /// <inheritdoc />
    public override string ToString() =>
        $"conv {Channels}ch {KernelSize}x{KernelSize} stride {Stride} padding {EffectivePadding}{(PoolSize > 1 ? $" + maxpool {PoolSize}" : "")}";
}

/// <summary>How a decoder layer grows the feature map.</summary>
public enum DecoderLayerKind
{
    /// <summary>A transposed convolution: output size (n − 1)·stride − 2·padding + kernel + output padding.</summary>
    TransposedConvolution,

    /// <summary>Nearest-neighbour upsampling by <see cref="DecoderLayer.UpsampleFactor"/>, then a convolution (fewer checkerboard artefacts).</summary>
    UpsampleConvolution,
}

/// <summary>
/// One layer of a decoder the user writes out (<see cref="ConvolutionalOptions.DecoderLayers"/>). Every layer but the
/// last is followed by batch normalisation (when enabled) and the activation; the last must produce the image's
/// channels, height and width and takes the output activation.
/// </summary>
/// <param name="Channels">Output channels.</param>
/// <param name="Kind">Transposed convolution, or upsampling followed by a convolution.</param>
/// <param name="KernelSize">Side of the square kernel.</param>
/// <param name="Stride">Stride of the (transposed) convolution.</param>
/// <param name="Padding">Padding; null uses KernelSize / 2.</param>
/// <param name="OutputPadding">Extra rows/columns of a transposed convolution (less than the stride); null picks the value
/// that makes the output stride times the input (Keras "same"), or 0 when no such value exists.</param>
/// <param name="UpsampleFactor">Nearest-neighbour scale before the convolution of an <see cref="DecoderLayerKind.UpsampleConvolution"/> layer.</param>
public sealed record DecoderLayer(int Channels, DecoderLayerKind Kind = DecoderLayerKind.TransposedConvolution, int KernelSize = 3, int Stride = 1,
    int? Padding = null, int? OutputPadding = null, int UpsampleFactor = 1)
{
    /// <summary>The padding in use: <see cref="Padding"/>, or KernelSize / 2 when it is null.</summary>
    [JsonIgnore]
    public int EffectivePadding => Padding ?? KernelSize / 2;

    /// <summary>The output padding in use (see <see cref="OutputPadding"/>).</summary>
    [JsonIgnore]
    public int EffectiveOutputPadding
    {
        get
        {
            if (OutputPadding is { } op) return op;
            long same = (long)Stride + 2L * EffectivePadding - KernelSize;
            return same >= 0 && same < Stride ? (int)same : 0;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Kind == DecoderLayerKind.TransposedConvolution
        ? $"transposed conv {Channels}ch {KernelSize}x{KernelSize} stride {Stride} padding {EffectivePadding} output padding {EffectiveOutputPadding}"
        : $"upsample x{UpsampleFactor} + conv {Channels}ch {KernelSize}x{KernelSize} stride {Stride} padding {EffectivePadding}";
}

/// <summary>How a mirrored decoder undoes each encoder stage's downsampling.</summary>
public enum DecoderUpsampling
{
    /// <summary>A transposed convolution with the encoder layer's kernel, stride and padding (output padding chosen to restore the exact size).</summary>
    TransposedConvolution,

    /// <summary>Nearest-neighbour upsampling to the exact size the encoder layer read, then a stride-1 "same" convolution (odd kernels only).</summary>
    NearestNeighbour,
}

/// <summary>
/// The convolutional body of an autoencoder (set <c>AutoencoderOptions.Body</c> to one). The input column holds
/// images of <see cref="ImageShape"/> in <see cref="PixelOrder"/>; <see cref="EncoderLayers"/> shrink them to a feature
/// map; with <see cref="DenseCode"/> a dense stack (<c>HiddenLayerSizes</c>, then a code of <c>LatentDimension</c>
/// with <c>CodeActivation</c>, or a Gaussian head) sits between encoder and decoder, otherwise the code is the last
/// feature map, flattened channel-major. The decoder mirrors the encoder unless <see cref="DecoderLayers"/> is given.
/// Shapes are checked when the network is built; a layer that would produce an empty map, or a decoder that does not
/// end at the image shape, is named in the error.
/// </summary>
public sealed class ConvolutionalOptions : BodyOptions
{
    /// <summary>Channels, height and width of each image. Required.</summary>
    public ImageShape? ImageShape { get; set; }

    /// <summary>Order of the values in the input vector; the reconstruction column uses the same order.</summary>
    public PixelOrder PixelOrder { get; set; } = PixelOrder.Planar;

    /// <summary>Encoder stages, input side first. At least one.</summary>
    public List<ConvolutionLayer> EncoderLayers { get; set; } = new();

    /// <summary>Decoder layers from the code side; null (the default) mirrors the encoder (see <see cref="Upsampling"/>).</summary>
    public List<DecoderLayer>? DecoderLayers { get; set; }

    /// <summary>How a mirrored decoder upsamples. Ignored when <see cref="DecoderLayers"/> is given.</summary>
    public DecoderUpsampling Upsampling { get; set; } = DecoderUpsampling.TransposedConvolution;

    /// <summary>Batch normalisation after every convolution except the output layer (running statistics are used in <c>Transform</c>).</summary>
    public bool BatchNormalization { get; set; }

    /// <summary>
    /// Activation after every convolution except the output layer. LeakyReLU by default, as for dense bodies: with ReLU
    /// the deep convolutional preset (16/32/64/128 channels, dense code) collapsed to the mean image for one of two seeds
    /// on Fashion-MNIST; LeakyReLU trained for both at the same speed.
    /// </summary>
    public Activation Activation { get; set; } = Activation.LeakyReLU;

    /// <summary>
    /// True: flatten the last feature map into a dense code of <c>LatentDimension</c> (through <c>HiddenLayerSizes</c>)
    /// and back, as in the deep convolutional autoencoder; needed for a Gaussian head. False (the default): the code is
    /// the last feature map itself (<c>HiddenLayerSizes</c> must then be empty and <c>LatentDimension</c> is not used).
    /// </summary>
    public bool DenseCode { get; set; }

    /// <summary>A deep copy.</summary>
    public override ConvolutionalOptions Clone()
    {
        var copy = (ConvolutionalOptions)MemberwiseClone();
        copy.EncoderLayers = EncoderLayers?.ToList()!;
        copy.DecoderLayers = DecoderLayers?.ToList();
        return copy;
    }

    /// <summary>Checks every value and the shapes of every layer; throws <see cref="ArgumentException"/> naming the layer or option.</summary>
    public override void Validate()
    {
        if (ImageShape is null) throw new ArgumentNullException(nameof(ImageShape), "A convolutional autoencoder needs the image shape (channels, height, width).");
        ImageShape.Validate(nameof(ImageShape));
        if (!Enum.IsDefined(PixelOrder)) throw new ArgumentOutOfRangeException(nameof(PixelOrder), PixelOrder, "Unknown pixel order.");
        if (!Enum.IsDefined(Upsampling)) throw new ArgumentOutOfRangeException(nameof(Upsampling), Upsampling, "Unknown upsampling.");
        if (!Enum.IsDefined(Activation)) throw new ArgumentOutOfRangeException(nameof(Activation), Activation, "Unknown activation.");
        ConvolutionPlan.Create(this);
    }

    /// <inheritdoc />
    internal override int? RowSize => ImageShape?.Size;

    /// <inheritdoc />
    internal override (ImageShape Shape, PixelOrder Order)? Image => ImageShape is { } shape ? (shape, PixelOrder) : null;

    /// <inheritdoc />
    internal override Activation CodeActivation(Activation denseCodeActivation) => DenseCode ? denseCodeActivation : Activation;
}
