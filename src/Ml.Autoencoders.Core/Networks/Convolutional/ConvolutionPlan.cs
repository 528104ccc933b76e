namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>What a planned layer computes.</summary>
internal enum PlannedKind
{
    Convolution,
    TransposedConvolution,
}

/// <summary>
/// One layer of a convolutional body with its shapes worked out: an optional nearest-neighbour resize to
/// <see cref="UpsampleTo"/>, the (transposed) convolution, then (encoder) max pooling.
/// </summary>
internal sealed record PlannedLayer(
    string Name,
    PlannedKind Kind,
    int InChannels,
    int OutChannels,
    int KernelSize,
    int Stride,
    int Padding,
    (int Height, int Width) OutputPadding,
    (int Height, int Width)? UpsampleTo,
    int PoolSize,
    (int Height, int Width) Input,
    (int Height, int Width) Output);

/// <summary>
/// The shapes of a convolutional autoencoder, worked out from <see cref="ConvolutionalOptions"/> before any weight is
/// allocated: every encoder stage's output size, the code map, and the decoder that leads back to the image (mirrored,
/// or the user's layers checked against the image shape). Every shape problem is an <see cref="ArgumentException"/>
/// that names the layer.
/// </summary>
internal sealed record ConvolutionPlan(ImageShape Image, IReadOnlyList<PlannedLayer> Encoder, IReadOnlyList<PlannedLayer> Decoder, int CodeChannels, int CodeHeight, int CodeWidth)
{
    /// <summary>
    /// The most values one feature map (or upsampled map) between the image and the reconstruction may hold per row:
    /// 2^28, 1 GiB of float32 per row, far beyond any trainable body; larger images are allowed their own size. It keeps
    /// every size in range of int arithmetic, and a model file cannot describe a body whose forward pass needs terabytes.
    /// </summary>
    public const long MaxMapValues = 1L << 28;

    /// <summary>Values in the code map: channels x height x width.</summary>
    public int CodeSize => CodeChannels * CodeHeight * CodeWidth;

    public static ConvolutionPlan Create(ConvolutionalOptions options)
    {
        var image = options.ImageShape ?? throw new ArgumentNullException(nameof(options.ImageShape), "A convolutional autoencoder needs the image shape (channels, height, width).");
        image.Validate(nameof(options.ImageShape));
        if (options.EncoderLayers is not { Count: > 0 } layers)
            throw new ArgumentException("A convolutional autoencoder needs at least one encoder layer.", nameof(options.EncoderLayers));
        long limit = Math.Max(MaxMapValues, image.Size);

        var encoder = new List<PlannedLayer>();
        int c = image.Channels, h = image.Height, w = image.Width;
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i] ?? throw new ArgumentException($"Encoder layer {i} is null.", nameof(options.EncoderLayers));
            string name = $"Encoder layer {i} ({l})";
            CheckPositive(l.Channels, l.KernelSize, l.Stride, name, nameof(options.EncoderLayers));
            int p = l.EffectivePadding;
            if (p < 0) throw new ArgumentException($"{name}: padding {p} is negative.", nameof(options.EncoderLayers));
            if (l.PoolSize < 1) throw new ArgumentException($"{name}: pool size {l.PoolSize} must be >= 1 (1: no pooling).", nameof(options.EncoderLayers));
            long ho = ConvOut(h, l.KernelSize, l.Stride, p), wo = ConvOut(w, l.KernelSize, l.Stride, p);
            if (ho < 1 || wo < 1)
                throw new ArgumentException($"{name} receives a {c}x{h}x{w} map, smaller than its {l.KernelSize}x{l.KernelSize} kernel with padding {p}: " +
                    "use fewer layers, smaller strides or more padding, or a larger image.", nameof(options.EncoderLayers));
            CheckMap(name, l.Channels, ho, wo, limit, nameof(options.EncoderLayers));
            int hp = (int)(ho / l.PoolSize), wp = (int)(wo / l.PoolSize);
            if (hp < 1 || wp < 1)
                throw new ArgumentException($"{name}: max pooling {l.PoolSize} of its {l.Channels}x{ho}x{wo} output leaves an empty map.", nameof(options.EncoderLayers));
            encoder.Add(new PlannedLayer(name, PlannedKind.Convolution, c, l.Channels, l.KernelSize, l.Stride, p, (0, 0), null, l.PoolSize, (h, w), (hp, wp)));
            (c, h, w) = (l.Channels, hp, wp);
        }

        var decoder = options.DecoderLayers is null
            ? Mirror(encoder, options.Upsampling)
            : Written(options.DecoderLayers, image, c, h, w, limit);
        return new ConvolutionPlan(image, encoder, decoder, c, h, w);
    }

    /// <summary>Each encoder stage undone in reverse order, back to the exact size it read (odd sizes included).</summary>
    private static List<PlannedLayer> Mirror(List<PlannedLayer> encoder, DecoderUpsampling upsampling)
    {
        var decoder = new List<PlannedLayer>();
        for (int j = encoder.Count - 1; j >= 0; j--)
        {
            var e = encoder[j];
            string name = $"Decoder layer {encoder.Count - 1 - j} (mirror of {char.ToLowerInvariant(e.Name[0])}{e.Name[1..]})";
            // The map before pooling: what the encoder's convolution produced.
            var convOut = ((int)ConvOut(e.Input.Height, e.KernelSize, e.Stride, e.Padding), (int)ConvOut(e.Input.Width, e.KernelSize, e.Stride, e.Padding)); // checked by Create
            if (upsampling == DecoderUpsampling.TransposedConvolution)
            {
                var resize = e.PoolSize > 1 ? convOut : ((int, int)?)null;
                var (fromH, fromW) = resize ?? e.Output;
                long opH = e.Input.Height - TransposedOut(fromH, e.KernelSize, e.Stride, e.Padding, 0);
                long opW = e.Input.Width - TransposedOut(fromW, e.KernelSize, e.Stride, e.Padding, 0);
                if (opH < 0 || opW < 0 || opH >= e.Stride || opW >= e.Stride)
                    throw new ArgumentException($"{name}: no transposed convolution with kernel {e.KernelSize}, stride {e.Stride} and padding {e.Padding} maps {fromH}x{fromW} back to {e.Input.Height}x{e.Input.Width}; " +
                        $"use {nameof(DecoderUpsampling)}.{nameof(DecoderUpsampling.NearestNeighbour)} or write the decoder out.", nameof(ConvolutionalOptions.EncoderLayers));
                decoder.Add(new PlannedLayer(name, PlannedKind.TransposedConvolution, e.OutChannels, e.InChannels, e.KernelSize, e.Stride, e.Padding, ((int)opH, (int)opW), resize, 1, e.Output, e.Input));
            }
            else
            {
                if (e.KernelSize % 2 == 0)
                    throw new ArgumentException($"{name}: nearest-neighbour mirroring uses a stride-1 'same' convolution, which needs an odd kernel; the encoder layer has {e.KernelSize}. " +
                        $"Use {nameof(DecoderUpsampling)}.{nameof(DecoderUpsampling.TransposedConvolution)} or write the decoder out.", nameof(ConvolutionalOptions.EncoderLayers));
                var resize = e.Output != e.Input ? e.Input : ((int, int)?)null;
                decoder.Add(new PlannedLayer(name, PlannedKind.Convolution, e.OutChannels, e.InChannels, e.KernelSize, 1, e.KernelSize / 2, (0, 0), resize, 1, e.Output, e.Input));
            }
        }
        return decoder;
    }

    /// <summary>The user's decoder, checked layer by layer; the last layer must produce the image shape.</summary>
    private static List<PlannedLayer> Written(List<DecoderLayer> layers, ImageShape image, int c, int h, int w, long limit)
    {
        const string param = nameof(ConvolutionalOptions.DecoderLayers);
        if (layers.Count == 0) throw new ArgumentException("The decoder needs at least one layer; leave DecoderLayers null to mirror the encoder.", param);
        var decoder = new List<PlannedLayer>();
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i] ?? throw new ArgumentException($"Decoder layer {i} is null.", param);
            string name = $"Decoder layer {i} ({l})";
            CheckPositive(l.Channels, l.KernelSize, l.Stride, name, param);
            if (!Enum.IsDefined(l.Kind)) throw new ArgumentException($"{name}: unknown kind {l.Kind}.", param);
            int p = l.EffectivePadding;
            if (p < 0) throw new ArgumentException($"{name}: padding {p} is negative.", param);
            long ho, wo;
            (int, int)? resize = null;
            var input = (h, w);
            if (l.Kind == DecoderLayerKind.TransposedConvolution)
            {
                if (l.UpsampleFactor != 1) throw new ArgumentException($"{name}: {nameof(DecoderLayer.UpsampleFactor)} belongs to {nameof(DecoderLayerKind.UpsampleConvolution)} layers; a transposed convolution grows the map by its stride.", param);
                int op = l.EffectiveOutputPadding;
                if (op < 0 || op >= l.Stride) throw new ArgumentException($"{name}: output padding {op} must be at least 0 and less than the stride {l.Stride}.", param);
                ho = TransposedOut(h, l.KernelSize, l.Stride, p, op);
                wo = TransposedOut(w, l.KernelSize, l.Stride, p, op);
                if (ho < 1 || wo < 1) throw new ArgumentException($"{name} turns a {c}x{h}x{w} map into {ho}x{wo}: the padding is too large.", param);
                CheckMap(name, l.Channels, ho, wo, limit, param);
                decoder.Add(new PlannedLayer(name, PlannedKind.TransposedConvolution, c, l.Channels, l.KernelSize, l.Stride, p, (op, op), null, 1, input, ((int)ho, (int)wo)));
            }
            else
            {
                if (l.UpsampleFactor < 1) throw new ArgumentException($"{name}: upsample factor {l.UpsampleFactor} must be >= 1.", param);
                if (l.OutputPadding is { } op && op != 0) throw new ArgumentException($"{name}: output padding belongs to transposed convolutions.", param);
                if (l.UpsampleFactor > 1)
                {
                    CheckMap($"{name}'s upsampling", c, (long)h * l.UpsampleFactor, (long)w * l.UpsampleFactor, limit, param);
                    resize = (h * l.UpsampleFactor, w * l.UpsampleFactor);
                }
                var (uh, uw) = resize ?? (h, w);
                ho = ConvOut(uh, l.KernelSize, l.Stride, p);
                wo = ConvOut(uw, l.KernelSize, l.Stride, p);
                if (ho < 1 || wo < 1) throw new ArgumentException($"{name} receives a {c}x{uh}x{uw} map, smaller than its kernel with padding {p}.", param);
                CheckMap(name, l.Channels, ho, wo, limit, param);
                decoder.Add(new PlannedLayer(name, PlannedKind.Convolution, c, l.Channels, l.KernelSize, l.Stride, p, (0, 0), resize, 1, input, ((int)ho, (int)wo)));
            }
            (c, h, w) = (l.Channels, (int)ho, (int)wo);
        }
        if (c != image.Channels || h != image.Height || w != image.Width)
            throw new ArgumentException($"{decoder[^1].Name} outputs {c}x{h}x{w}; the decoder must end at the image shape {image}. " +
                "Adjust its channels, strides, padding or output padding.", param);
        return decoder;
    }

    private static void CheckPositive(int channels, int kernel, int stride, string name, string param)
    {
        if (channels <= 0) throw new ArgumentException($"{name}: channels must be positive.", param);
        if (kernel <= 0) throw new ArgumentException($"{name}: kernel size must be positive.", param);
        if (stride <= 0) throw new ArgumentException($"{name}: stride must be positive.", param);
    }

    /// <summary>
    /// Refuses a map of more than <paramref name="limit"/> values per row (which also keeps every side and size within
    /// int range): a padding, stride or upsampling factor that blows a map up is named.
    /// </summary>
    private static void CheckMap(string name, int channels, long height, long width, long limit, string param)
    {
        if (height > int.MaxValue || width > int.MaxValue || (Int128)channels * height * width > limit)
            throw new ArgumentException($"{name} produces a {channels}x{height}x{width} map, more than {limit} values per row: " +
                "check its padding, stride and upsampling.", param);
    }

    /// <summary>floor((n + 2p − k) / s) + 1 (in 64 bits, so no size overflows); below 1 when the kernel does not fit.</summary>
    internal static long ConvOut(int n, int kernel, int stride, int padding)
    {
        long span = n + 2L * padding - kernel;
        return span < 0 ? 0 : span / stride + 1;
    }

    /// <summary>(n − 1)·s − 2p + k + output padding, in 64 bits.</summary>
    internal static long TransposedOut(int n, int kernel, int stride, int padding, int outputPadding) =>
        (n - 1L) * stride - 2L * padding + kernel + outputPadding;

    /// <summary>Every layer with its output shape, for <c>Architecture</c>; <paramref name="denseCode"/> describes a dense code, if any.</summary>
    public string Describe(string? denseCode)
    {
        var parts = new List<string> { $"image {Image}" };
        parts.AddRange(Encoder.Select(l => $"{Short(l)} -> {l.OutChannels}x{l.Output.Height}x{l.Output.Width}"));
        parts.Add(denseCode is null ? $"code {CodeChannels}x{CodeHeight}x{CodeWidth} ({CodeSize})" : $"dense {denseCode}");
        parts.AddRange(Decoder.Select(l => $"{Short(l)} -> {l.OutChannels}x{l.Output.Height}x{l.Output.Width}"));
        return string.Join("; ", parts);
    }

    private static string Short(PlannedLayer l) =>
        (l.UpsampleTo is { } u ? $"upsample {u.Height}x{u.Width}, " : "") +
        (l.Kind == PlannedKind.Convolution ? "conv" : "tconv") + $" {l.KernelSize}x{l.KernelSize}/{l.Stride}" +
        (l.PoolSize > 1 ? $", maxpool {l.PoolSize}" : "");
}
