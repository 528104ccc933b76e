using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Persistence;

/// <summary>
/// The library's own model format: one self-describing file that holds nothing executable.
/// Layout (little-endian): magic "MLAEMODL", format version (int32), header length (int32), the header
/// as UTF-8 JSON (versions, options, layer shapes, column names, training history, tensor table), the
/// tensors as raw float32 in table order, then a SHA-256 of everything before it.
/// Loading checks every length against the bytes actually present before allocating, checks every
/// tensor's name and shape against the network the header describes, and verifies the checksum;
/// any problem raises <see cref="AutoencoderModelFormatException"/>.
/// </summary>
public static class AutoencoderModelFile
{
    /// <summary>The format version this library writes.</summary>
    public const int FormatVersion = 1;

    private static readonly byte[] Magic = "MLAEMODL"u8.ToArray();
    private const int MaxHeaderBytes = 16 << 20;
    private const int MaxWidth = 1 << 24;
    private const int MaxLayers = 64;

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Saves to a file, atomically: a temporary file beside it is renamed over the target.</summary>
    public static void Save(AutoencoderTransformer transformer, string path)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                Save(transformer, stream);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes the model to a stream.</summary>
    public static void Save(AutoencoderTransformer transformer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(stream);
        var model = transformer.Model;
        var network = model.Network;
        var conv = (network as ConvolutionalAutoencoderNetwork)?.Spec;
        var spec = network is DenseAutoencoderNetwork dense ? dense.Spec : conv!.Core;
        var tensors = new List<(string Name, long[] Shape, float[] Values)>();
        using (NewDisposeScope())
            foreach (var (name, value) in network.state_dict())
                tensors.Add((name, value.shape, TensorSpans.ToArray<float>(value.detach().to_type(ScalarType.Float32)))); // batch-norm step counts are int64; exact as float below 2^24
        var header = new Header
        {
            Library = typeof(AutoencoderModelFile).Assembly.GetName().Version?.ToString() ?? "unknown",
            TorchSharp = typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
            LibTorch = torch.__version__,
            Kind = conv is null ? DenseKind : ConvKind,
            InputSize = network.InputSize,
            HiddenSizes = spec?.HiddenSizes ?? Array.Empty<int>(),
            HiddenActivations = spec?.HiddenActivations ?? Array.Empty<Activation>(),
            LatentDimension = network.LatentDimension,
            CodeActivation = spec?.CodeActivation ?? conv!.Convolution.Activation,
            OutputActivation = network.OutputActivation,
            LatentHead = network.Head,
            TiedWeights = spec?.TiedWeights ?? false,
            Convolution = conv?.Convolution,
            Options = transformer.OptionsView,
            History = Entries(model.History),
            Pretraining = model.PretrainingHistory.Select(h => new StageEntry(Entries(h), h.BestEpoch, h.StoppedEarly, h.RestoredBestWeights)).ToArray(),
            BestEpoch = model.History.BestEpoch,
            StoppedEarly = model.History.StoppedEarly,
            RestoredBestWeights = model.History.RestoredBestWeights,
            Tensors = tensors.Select(t => new TensorEntry(t.Name, t.Shape)).ToArray(),
            TrainingMin = model.TrainingRange?.Min,
            TrainingMax = model.TrainingRange?.Max,
        };
        byte[] headerBytes = JsonSerializer.SerializeToUtf8Bytes(header, Json);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Write(ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(bytes);
            stream.Write(bytes);
        }
        Span<byte> int32 = stackalloc byte[4];
        Write(Magic);
        BinaryPrimitives.WriteInt32LittleEndian(int32, FormatVersion);
        Write(int32);
        BinaryPrimitives.WriteInt32LittleEndian(int32, headerBytes.Length);
        Write(int32);
        Write(headerBytes);
        foreach (var (_, _, values) in tensors)
        {
            var bytes = new byte[values.Length * sizeof(float)];
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
            Write(bytes);
        }
        stream.Write(hash.GetHashAndReset());
        stream.Flush();
    }

    internal static EpochEntry[] Entries(TrainingHistory history) => history.Epochs
        .Select(e => new EpochEntry(e.Epoch, e.TrainLoss, e.ValidationLoss, e.LearningRate, e.Duration.Ticks, e.Rows)
        {
            Terms = e.Terms.Count > 0 ? new Dictionary<string, double>(e.Terms) : null,
            ValidationTerms = e.ValidationTerms.Count > 0 ? new Dictionary<string, double>(e.ValidationTerms) : null,
            PretrainingStage = e.PretrainingStage,
        }).ToArray();

    internal static TrainingHistory History(EpochEntry[] entries, int bestEpoch, bool stoppedEarly, bool restoredBest) => new(
        entries.Select(e => new EpochRecord(e.Epoch, e.TrainLoss, e.ValidationLoss, e.LearningRate, TimeSpan.FromTicks(Math.Max(0, e.DurationTicks)), e.Rows)
        {
            Terms = e.Terms ?? EpochRecord.NoTerms,
            ValidationTerms = e.ValidationTerms ?? EpochRecord.NoTerms,
            PretrainingStage = e.PretrainingStage,
        }).ToArray(),
        bestEpoch, stoppedEarly, restoredBest);

    /// <summary>Loads a model file onto a device.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file is damaged, truncated or not a model file.</exception>
    public static AutoencoderTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            return Load(stream, device);
        }
        catch (AutoencoderModelFormatException e)
        {
            throw new AutoencoderModelFormatException($"'{path}' is not a valid Ml.Autoencoders model: {e.Message}", e.InnerException);
        }
    }

    /// <summary>Loads a model from a stream (read to its end; at most 2 GiB).</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a model.</exception>
    public static AutoencoderTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] bytes = ReadAll(stream);
        return Parse(bytes, device);
    }

    private static byte[] ReadAll(Stream stream)
    {
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining > Array.MaxLength) throw new AutoencoderModelFormatException($"the model is {remaining} bytes; at most {Array.MaxLength} are supported.");
            var buffer = new byte[remaining];
            stream.ReadExactly(buffer);
            return buffer;
        }
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static AutoencoderTransformer Parse(byte[] bytes, ComputeDevice device)
    {
        const int prefix = 16, hashLength = 32;
        if (bytes.Length < prefix + hashLength)
            throw new AutoencoderModelFormatException($"it is {bytes.Length} bytes long, shorter than any model file ({prefix + hashLength} bytes at least).");
        if (!bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new AutoencoderModelFormatException("it does not start with the Ml.Autoencoders magic bytes 'MLAEMODL'.");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version != FormatVersion)
            throw new AutoencoderModelFormatException($"format version {version} is not supported (this library reads version {FormatVersion}).");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || headerLength > bytes.Length - prefix - hashLength)
            throw new AutoencoderModelFormatException($"the header length {headerLength} does not fit the {bytes.Length} bytes present.");

        int bodyEnd = bytes.Length - hashLength;
        var expectedHash = SHA256.HashData(bytes.AsSpan(0, bodyEnd));
        if (!expectedHash.AsSpan().SequenceEqual(bytes.AsSpan(bodyEnd)))
            throw new AutoencoderModelFormatException("its checksum does not match: the file is damaged or truncated.");

        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(prefix, headerLength), Json)
                ?? throw new AutoencoderModelFormatException("the header is empty.");
        }
        catch (JsonException e)
        {
            throw new AutoencoderModelFormatException("the header is not valid JSON: " + e.Message, e);
        }
        var spec = CheckHeader(header);

        long offset = prefix + headerLength;
        long dataBytes = bodyEnd - offset;
        long expectedBytes = header.Tensors!.Sum(t => t.Shape!.Aggregate(1L, (a, b) => a * b)) * sizeof(float);
        if (expectedBytes != dataBytes)
            throw new AutoencoderModelFormatException($"the tensor table describes {expectedBytes} bytes of weights but {dataBytes} are present.");

        TorchRuntime.EnsureLoaded();
        var target = TorchRuntime.Resolve(device);
        AutoencoderNetwork network;
        try
        {
            network = spec is ConvNetworkSpec convSpec ? new ConvolutionalAutoencoderNetwork(convSpec) : new DenseAutoencoderNetwork((DenseNetworkSpec)spec);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the network it describes is invalid: " + e.Message, e);
        }
        try
        {
            if (network.LatentDimension != header.LatentDimension || network.InputSize != header.InputSize)
                throw new AutoencoderModelFormatException($"the header gives {header.InputSize} inputs and a code of {header.LatentDimension}; the network it describes has {network.InputSize} and {network.LatentDimension}.");
            var state = network.state_dict();
            if (state.Count != header.Tensors!.Length || header.Tensors.Any(t => !state.ContainsKey(t.Name!)))
                throw new AutoencoderModelFormatException($"the tensors ({string.Join(", ", header.Tensors.Select(t => t.Name))}) do not match the network the header describes ({string.Join(", ", state.Keys)}).");
            using (no_grad())
            {
                foreach (var entry in header.Tensors)
                {
                    var parameter = state[entry.Name!];
                    if (!parameter.shape.SequenceEqual(entry.Shape!))
                        throw new AutoencoderModelFormatException($"tensor '{entry.Name}' has shape [{string.Join(", ", entry.Shape!)}]; the network needs [{string.Join(", ", parameter.shape)}].");
                    int count = checked((int)parameter.numel());
                    var values = new float[count];
                    for (int i = 0; i < count; i++)
                    {
                        float v = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)offset + i * 4));
                        if (!float.IsFinite(v))
                            throw new AutoencoderModelFormatException($"tensor '{entry.Name}' holds a non-finite weight ({v}) at index {i}.");
                        values[i] = v;
                    }
                    if (parameter.dtype == ScalarType.Float32)
                        values.AsSpan().CopyTo(TensorSpans.AsSpan<float>(parameter));
                    else
                        using (var stored = tensor(values).reshape(parameter.shape))
                            parameter.copy_(stored); // batch-norm step counts (int64)
                    offset += count * 4L;
                }
            }
            if (target.type != DeviceType.CPU) network.to(target);
            var history = History(header.History!, header.BestEpoch, header.StoppedEarly, header.RestoredBestWeights);
            var pretraining = (header.Pretraining ?? Array.Empty<StageEntry>())
                .Select(st => History(st.Epochs ?? Array.Empty<EpochEntry>(), st.BestEpoch, st.StoppedEarly, st.RestoredBestWeights)).ToArray();
            var options = header.Options!;
            options.OutputActivation = network.OutputActivation;
            var model = new AutoencoderModel(network, target, history, pretraining) { Seed = options.Seed, TrainingRange = header.TrainingMin is { } lo && header.TrainingMax is { } hi ? (lo, hi) : null };
            return new AutoencoderTransformer(model, options, network.InputSize);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private const string DenseKind = "dense-autoencoder", ConvKind = "conv-autoencoder";

    /// <summary>Checks the header and returns the network spec it describes: a <see cref="DenseNetworkSpec"/> or a <see cref="ConvNetworkSpec"/>.</summary>
    private static object CheckHeader(Header h)
    {
        if (h.Kind is not (DenseKind or ConvKind))
            throw new AutoencoderModelFormatException($"model kind '{h.Kind}' is not one this library version reads.");
        if (h.HiddenSizes is null || h.HiddenActivations is null || h.Tensors is null || h.Options is null || h.History is null)
            throw new AutoencoderModelFormatException("the header lacks a required field (hidden sizes, activations, tensors, options or history).");
        if (h.HiddenSizes.Length > MaxLayers || h.HiddenActivations.Length != h.HiddenSizes.Length)
            throw new AutoencoderModelFormatException($"the header describes {h.HiddenSizes.Length} hidden layers with {h.HiddenActivations.Length} activations.");
        foreach (int w in h.HiddenSizes.Append(h.InputSize).Append(h.LatentDimension))
            if (w <= 0 || w > MaxWidth)
                throw new AutoencoderModelFormatException($"a layer width of {w} is out of range (1 to {MaxWidth}).");
        var activations = h.HiddenActivations.Append(h.CodeActivation).Append(h.OutputActivation);
        if (activations.Any(a => !Enum.IsDefined(a)))
            throw new AutoencoderModelFormatException("the header names an unknown activation.");
        if (h.Tensors.Length > 8 * MaxLayers || h.Tensors.Any(t => t.Name is null || t.Shape is null || t.Shape.Length > 4 || t.Shape.Any(s => s <= 0 || s > MaxWidth)))
            throw new AutoencoderModelFormatException("the tensor table holds an entry without a name or with an impossible shape.");
        try
        {
            h.Options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the stored options are invalid: " + e.Message, e);
        }
        if (h.History.Length > 1_000_000 || (h.Pretraining is { } stages && (stages.Length > MaxLayers || stages.Any(st => st.Epochs is { Length: > 1_000_000 }))))
            throw new AutoencoderModelFormatException("the training history is implausibly long.");
        if (!Enum.IsDefined(h.LatentHead) || h.Options.LatentHead != h.LatentHead || h.Options.TiedWeights != h.TiedWeights)
            throw new AutoencoderModelFormatException($"the header's latent head ({h.LatentHead}) or tied weights ({h.TiedWeights}) contradict the stored options.");
        if (h.TrainingMin.HasValue != h.TrainingMax.HasValue || (h.TrainingMin is { } lo && h.TrainingMax is { } hi && !(float.IsFinite(lo) && float.IsFinite(hi) && lo <= hi)))
            throw new AutoencoderModelFormatException($"the training range [{h.TrainingMin}, {h.TrainingMax}] is incomplete or not a finite interval.");
        if (h.Kind == ConvKind)
            return CheckConvolution(h);
        if (h.Options.LatentDimension != h.LatentDimension)
            throw new AutoencoderModelFormatException($"the stored options give latent dimension {h.Options.LatentDimension}; the network has {h.LatentDimension}.");
        var spec = new DenseNetworkSpec(h.InputSize, h.HiddenSizes, h.HiddenActivations, h.LatentDimension, h.CodeActivation, h.OutputActivation, h.LatentHead, h.TiedWeights);
        try
        {
            spec.Validate();
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the network it describes is invalid: " + e.Message, e);
        }
        return spec;
    }

    private static ConvNetworkSpec CheckConvolution(Header h)
    {
        var conv = h.Convolution ?? throw new AutoencoderModelFormatException("a convolutional model's header lacks its convolution options.");
        if (h.Options!.Convolution is null)
            throw new AutoencoderModelFormatException("the header describes a convolutional network but the stored options have no convolution.");
        try
        {
            var spec = ConvNetworkSpec.Create(conv, h.OutputActivation, h.HiddenSizes!, h.HiddenActivations!, h.LatentDimension, h.CodeActivation, h.LatentHead, h.TiedWeights);
            spec.Core?.Validate();
            return spec;
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the network it describes is invalid: " + e.Message, e);
        }
    }

    private sealed class Header
    {
        public string? Library { get; set; }
        public string? TorchSharp { get; set; }
        public string? LibTorch { get; set; }
        public string? Kind { get; set; }
        public int InputSize { get; set; }
        public int[]? HiddenSizes { get; set; }
        public Activation[]? HiddenActivations { get; set; }
        public int LatentDimension { get; set; }
        public Activation CodeActivation { get; set; }
        public Activation OutputActivation { get; set; }
        public LatentHead LatentHead { get; set; }
        public bool TiedWeights { get; set; }
        public ConvolutionalOptions? Convolution { get; set; }
        public AutoencoderOptions? Options { get; set; }
        public EpochEntry[]? History { get; set; }
        public StageEntry[]? Pretraining { get; set; }
        public int BestEpoch { get; set; }
        public bool StoppedEarly { get; set; }
        public bool RestoredBestWeights { get; set; }
        public TensorEntry[]? Tensors { get; set; }
        /// <summary>Training input range (absent in files written before it was recorded).</summary>
        public float? TrainingMin { get; set; }
        public float? TrainingMax { get; set; }
    }

    internal sealed record EpochEntry(int Epoch, double TrainLoss, double? ValidationLoss, double LearningRate, long DurationTicks, long Rows)
    {
        public Dictionary<string, double>? Terms { get; init; }
        public Dictionary<string, double>? ValidationTerms { get; init; }
        public int? PretrainingStage { get; init; }
    }

    internal sealed record StageEntry(EpochEntry[]? Epochs, int BestEpoch, bool StoppedEarly, bool RestoredBestWeights);

    private sealed record TensorEntry(string? Name, long[]? Shape);
}
