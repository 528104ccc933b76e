using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Bodies;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using TorchSharp;
using static Ml.Autoencoders.Training.TrainingJson;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// The library's own model format: one self-describing file that holds nothing executable, in the
/// <see cref="ArtifactContainer"/> (magic "MLAEMODL"): the header as UTF-8 JSON (versions, options, layer shapes,
/// column names, training history, tensor table), one section holding the tensors as raw float32 in table order, and a
/// SHA-256 of everything before it. Version 3 is written; version 2 (the body's options named "Convolution") and
/// version 1 (also without the section table) are still read.
/// Loading verifies the checksum, then treats the header as hostile (anyone can recompute a SHA-256): every length is
/// checked against the bytes actually present, the header's network must agree with the stored options, and the exact
/// tensor table (names, shapes, order) and weight count that network implies are worked out without allocating and
/// compared with the table and the bytes present before any network is built. Any problem raises
/// <see cref="AutoencoderModelFormatException"/>; saving refuses non-finite weights.
/// </summary>
public static class AutoencoderModelFile
{
    /// <summary>The format version this library writes (versions 1 and 2 are still read).</summary>
    public const int FormatVersion = 3;

    private const int MaxHeaderBytes = 16 << 20;


    /// <summary>The model file as a kind of <see cref="ArtifactContainer"/>.</summary>
    internal static readonly ArtifactKind Kind = new("model file", "MLAEMODL"u8.ToArray(), FormatVersion,
        new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.HeaderAndPayload, [2] = ArtifactLayout.Sectioned }, MaxHeaderBytes);

    /// <summary>The header's JSON: the training files' JSON plus the bounded lists of a convolutional body's layers.</summary>
    internal static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson() => BodyKinds.AddTo(new JsonSerializerOptions(TrainingJson.Options), MaxLayers);

    /// <summary>
    /// Options JSON written before version 3 named the body after its kind ("Convolution": the options or null) where
    /// it is now "Body" with its kind (<see cref="BodyKind.FormerPropertyName"/>): <paramref name="options"/> (an
    /// options object, or a model header) rewritten in place. Anything else is left as it is.
    /// </summary>
    internal static void UpgradeBodyName(JsonObject options)
    {
        if (options.ContainsKey("Body") || BodyKinds.All.FirstOrDefault(k => k.FormerPropertyName is { } former && options.ContainsKey(former)) is not { } kind) return;
        // Rebuilt in order, "Body" where the former name was: a checkpoint's fingerprint is compared as text.
        var entries = options.ToArray();
        options.Clear();
        foreach (var (name, value) in entries)
        {
            if (name != kind.FormerPropertyName)
                options[name] = value;
            else if (value is JsonObject body)
                options["Body"] = Detached(body, new JsonObject { ["kind"] = kind.OptionsName }); // the discriminator comes first
            else
                options["Body"] = value;
        }
    }

    /// <summary><paramref name="target"/> with the properties of <paramref name="source"/> moved to its end.</summary>
    private static JsonObject Detached(JsonObject source, JsonObject target)
    {
        var entries = source.ToArray();
        source.Clear();
        foreach (var (name, value) in entries) target[name] = value;
        return target;
    }

    /// <summary>Options JSON as text, upgraded as <see cref="UpgradeBodyName(JsonObject)"/> does (unchanged when it is not a JSON object).</summary>
    internal static string UpgradeBodyName(string optionsJson)
    {
        if (JsonNode.Parse(optionsJson) is not JsonObject options || options.ContainsKey("Body")) return optionsJson;
        UpgradeBodyName(options);
        return options.ToJsonString(Json);
    }

    /// <summary>Saves to a file, atomically: a temporary file beside it is renamed over the target.</summary>
    /// <exception cref="InvalidOperationException">A weight is NaN or infinite; a file already at <paramref name="path"/> is left as it was.</exception>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="path"/>); a file already there is left as it was.</exception>
    public static void Save(AutoencoderTransformer transformer, string path)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, stream => Save(transformer, stream));
    }

    /// <summary>Writes the model to a stream.</summary>
    /// <exception cref="InvalidOperationException">A weight is NaN or infinite, or the model is outside what a model file can
    /// hold (e.g. a training history beyond the 16 MB header); nothing is written.</exception>
    public static void Save(AutoencoderTransformer transformer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(stream);
        var model = transformer.Model;
        var network = model.Network;
        var spec = network.BodySpec;
        var layers = spec.Layers;
        var tensors = new List<(string Name, long[] Shape, float[] Values)>();
        using (NewDisposeScope())
            foreach (var (name, value) in network.state_dict())
                tensors.Add((name, value.shape, TensorSpans.ToArray<float>(value.detach().to_type(ScalarType.Float32)))); // batch-norm step counts are int64; exact as float below 2^24
        // Checked before a byte is written: a file that could never load back is not written (and Save(path) leaves the old file).
        foreach (var (name, _, values) in tensors)
            if (Array.FindIndex(values, v => !float.IsFinite(v)) is var bad and >= 0)
                throw new InvalidOperationException($"The model cannot be saved: tensor '{name}' holds a non-finite weight ({values[bad]}) at index {bad}.");
        var header = new Header
        {
            Library = typeof(AutoencoderModelFile).Assembly.GetName().Version?.ToString() ?? "unknown",
            TorchSharp = typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
            LibTorch = torch.__version__,
            Kind = BodyKinds.For(spec.Options).ModelKind,
            InputSize = network.InputSize,
            HiddenSizes = layers.HiddenSizes,
            HiddenActivations = layers.HiddenActivations,
            LatentDimension = network.LatentDimension,
            CodeActivation = layers.CodeActivation,
            OutputActivation = network.OutputActivation,
            LatentHead = network.Head,
            TiedWeights = layers.TiedWeights,
            Body = spec.Options,
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
        // What is written must load back: the reader's own checks run on the header before a byte is written.
        long weightBytes = tensors.Sum(t => (long)t.Values.Length) * sizeof(float);
        try
        {
            if (headerBytes.Length > MaxHeaderBytes)
                throw new AutoencoderModelFormatException($"its header (options and a training history of {model.History.Epochs.Count} epochs) is {headerBytes.Length} bytes; a model file holds at most {MaxHeaderBytes}.");
            var written = ReadHeader(headerBytes, FormatVersion);
            CheckTensors(written, CheckHeader(written), weightBytes);
        }
        catch (AutoencoderModelFormatException e)
        {
            throw new InvalidOperationException("The model cannot be saved in a form that loads back: " + e.Message, e);
        }

        var weights = new byte[weightBytes];
        long at = 0;
        foreach (var (_, _, values) in tensors)
            for (int i = 0; i < values.Length; i++, at += 4)
                BinaryPrimitives.WriteSingleLittleEndian(weights.AsSpan((int)at), values[i]);
        ArtifactContainer.Write(stream, Kind, headerBytes, [weights]);
    }

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
        byte[] bytes = ArtifactContainer.ReadAll(stream, Kind.Name);
        return Parse(bytes, device);
    }

    private static AutoencoderTransformer Parse(byte[] bytes, ComputeDevice device)
    {
        var artifact = ArtifactContainer.Read(bytes, Kind);
        var weights = artifact.Expect(1, Kind.Name)[0].Span;

        // Everything the header claims is checked before anything is built: the spec, then the exact tensor table that
        // spec implies (worked out without allocating) against the table and the bytes present. A header with a valid
        // checksum (anyone can recompute one) that claims huge layers is refused here, never allocated.
        var header = ReadHeader(artifact.Header.Span, artifact.Version);
        var spec = CheckHeader(header);
        long offset = 0;
        CheckTensors(header, spec, weights.Length);

        TorchRuntime.EnsureLoaded();
        var target = TorchRuntime.Resolve(device);
        AutoencoderNetwork network;
        try
        {
            lock (SeededNetworks.Lock) network = spec.Create(); // its initial draws must not disturb a concurrent seeded fit
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
                        float v = BinaryPrimitives.ReadSingleLittleEndian(weights[((int)offset + i * 4)..]);
                        if (!float.IsFinite(v))
                            throw new AutoencoderModelFormatException($"tensor '{entry.Name}' holds a non-finite weight ({v}) at index {i}.");
                        values[i] = v;
                    }
                    if (parameter.dtype == ScalarType.Float32)
                        values.AsSpan().CopyTo(TensorSpans.AsSpan<float>(parameter));
                    else if (Array.FindIndex(values, v => v < 0 || v > 1e18f || v != MathF.Floor(v)) is var bad and >= 0)
                        throw new AutoencoderModelFormatException($"tensor '{entry.Name}' is a count; it holds {values[bad]}.");
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
            var model = new AutoencoderModel(network, target, history, pretraining) { Seed = options.FitSeed, TrainingRange = header.TrainingMin is { } lo && header.TrainingMax is { } hi ? (lo, hi) : null };
            return new AutoencoderTransformer(model, options, network.InputSize);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The header as JSON. System.Text.Json bounds nesting (64 levels) and every string and array by the header's
    /// length (at most <see cref="MaxHeaderBytes"/>); what it cannot bind raises the format exception.
    /// </summary>
    private static Header ReadHeader(ReadOnlySpan<byte> json, int version)
    {
        try
        {
            if (version < 3 && JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) is JsonObject old)
            {
                UpgradeBodyName(old);
                if (old["Options"] is JsonObject oldOptions) UpgradeBodyName(oldOptions);
                return old.Deserialize<Header>(Json) ?? throw new AutoencoderModelFormatException("the header is empty (JSON null).");
            }
            return JsonSerializer.Deserialize<Header>(json, Json) ?? throw new AutoencoderModelFormatException("the header is empty (JSON null).");
        }
        catch (JsonException e)
        {
            throw new AutoencoderModelFormatException("the header is not valid JSON for a model: " + e.Message, e);
        }
        catch (NotSupportedException e)
        {
            // e.g. a corruption or penalty object without its "kind" (an abstract type cannot be created).
            throw new AutoencoderModelFormatException("the header holds an object the format cannot create: " + e.Message, e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException or FormatException)
        {
            throw new AutoencoderModelFormatException($"the header holds a value the format cannot bind ({e.GetType().Name}): {e.Message}", e);
        }
    }

    /// <summary>
    /// Checks the header, and that its description of the network agrees with the stored options (both are written
    /// from the same model, so a disagreement is damage), and returns the network spec it describes, built by the body
    /// it names (<see cref="BodyKinds"/>). Allocates nothing in proportion to any size it reads.
    /// </summary>
    private static IBodySpec CheckHeader(Header h)
    {
        var kind = BodyKinds.ByModelKind(h.Kind) ?? throw new AutoencoderModelFormatException($"model kind '{h.Kind}' is not one this library version reads.");
        if (h.HiddenSizes is null || h.HiddenActivations is null || h.Tensors is null || h.Options is null || h.History is null)
            throw new AutoencoderModelFormatException("the header lacks a required field (hidden sizes, activations, tensors, options or history).");
        if (h.History.Any(e => e is null) || h.Pretraining?.Any(st => st is null || st.Epochs?.Any(e => e is null) == true) == true)
            throw new AutoencoderModelFormatException("the training history holds an empty (null) entry.");
        if (h.HiddenSizes.Length > MaxLayers || h.HiddenActivations.Length != h.HiddenSizes.Length)
            throw new AutoencoderModelFormatException($"the header describes {h.HiddenSizes.Length} hidden layers with {h.HiddenActivations.Length} activations (at most {MaxLayers} layers).");
        foreach (int w in h.HiddenSizes.Append(h.InputSize).Append(h.LatentDimension))
            if (w <= 0 || w > MaxWidth)
                throw new AutoencoderModelFormatException($"a layer width of {w} is out of range (1 to {MaxWidth}).");
        var activations = h.HiddenActivations.Append(h.CodeActivation).Append(h.OutputActivation);
        if (activations.Any(a => !Enum.IsDefined(a)))
            throw new AutoencoderModelFormatException("the header names an unknown activation.");
        // Dimensions are compared with the network's exactly later (CheckTensors); here only what no network has.
        if (h.Tensors.Length > 8 * MaxLayers || h.Tensors.Any(t => t is null || t.Name is null || t.Shape is null || t.Shape.Length > 4 || t.Shape.Any(s => s <= 0 || s > int.MaxValue)))
            throw new AutoencoderModelFormatException("the tensor table holds an entry without a name or with an impossible shape.");
        if (h.Body?.GetType() != kind.OptionsType || h.Options.Body?.GetType() != kind.OptionsType)
            throw new AutoencoderModelFormatException($"a '{h.Kind}' model's header or stored options describe another body " +
                $"({h.Body?.GetType().Name ?? "none"} and {h.Options.Body?.GetType().Name ?? "none"}; the kind has {kind.OptionsType?.Name ?? "none"}).");
        try
        {
            h.Options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the stored options are invalid: " + e.Message, e);
        }
        if (h.History.Length > MaxEpochs || (h.Pretraining is { } stages && (stages.Length > MaxLayers || stages.Any(st => st.Epochs is { Length: > MaxEpochs }))))
            throw new AutoencoderModelFormatException("the training history is implausibly long.");
        if (!Enum.IsDefined(h.LatentHead) || h.Options.LatentHead != h.LatentHead || h.Options.TiedWeights != h.TiedWeights)
            throw new AutoencoderModelFormatException($"the header's latent head ({h.LatentHead}) or tied weights ({h.TiedWeights}) contradict the stored options.");
        if (h.TrainingMin.HasValue != h.TrainingMax.HasValue || (h.TrainingMin is { } lo && h.TrainingMax is { } hi && !(float.IsFinite(lo) && float.IsFinite(hi) && lo <= hi)))
            throw new AutoencoderModelFormatException($"the training range [{h.TrainingMin}, {h.TrainingMax}] is incomplete or not a finite interval.");
        if (h.Options.OutputActivation is { } output && output != h.OutputActivation)
            throw new AutoencoderModelFormatException($"the header's output activation {h.OutputActivation} contradicts the stored options ({output}).");
        // Transform keeps a batch of inputs (and of codes) in arrays of TransformBatchSize rows.
        if ((long)h.Options.TransformBatchSize * Math.Max(h.InputSize, h.LatentDimension) > Array.MaxLength)
            throw new AutoencoderModelFormatException($"the stored transform batch size {h.Options.TransformBatchSize} times {Math.Max(h.InputSize, h.LatentDimension)} values per row exceeds what one batch can hold.");
        // Options.Validate checked the stored body, and the header's is checked here (an image shape whose size overflows
        // cannot even be written as JSON); both are written from one object, so they must be the same JSON.
        try
        {
            h.Body?.Validate();
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the header's body is invalid: " + e.Message, e);
        }
        if (JsonSerializer.Serialize(h.Body, Json) != JsonSerializer.Serialize(h.Options.Body, Json))
            throw new AutoencoderModelFormatException("the header's body contradicts the stored options' body.");

        // The network the header describes, and the one the stored options describe for the same input: the same layers.
        var headerLayers = new CodeLayers(h.HiddenSizes, h.HiddenActivations, h.LatentDimension, h.CodeActivation, h.LatentHead, h.TiedWeights);
        IBodySpec spec, fromOptions;
        try
        {
            spec = kind.Spec(h.Body, headerLayers, h.InputSize, h.OutputActivation);
            fromOptions = kind.Spec(h.Options.Body, h.Options.Layers(), h.InputSize, h.OutputActivation);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the network it describes is invalid: " + e.Message, e);
        }
        if (!spec.Layers.Equals(headerLayers))
            throw new AutoencoderModelFormatException($"the header gives the layers {headerLayers}; its {kind.ModelKind} body has {spec.Layers}.");
        if (!fromOptions.Layers.Equals(headerLayers))
            throw new AutoencoderModelFormatException($"the header's layers ({headerLayers}) contradict the stored options ({fromOptions.Layers}).");
        return spec;
    }

    /// <summary>
    /// The tensor table must be exactly the one the spec implies (names, shapes, order; no duplicates), and the bytes
    /// after the header exactly its weights. Works on shapes only: nothing is allocated for what a header claims.
    /// </summary>
    private static void CheckTensors(Header h, IBodySpec spec, long dataBytes)
    {
        List<(string Name, long[] Shape)> expected;
        try
        {
            expected = spec.ExpectedTensors();
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("the network it describes is invalid: " + e.Message, e);
        }
        // Each tensor has at most 4 dimensions below 2^31 (< 2^124 values); the sum saturates at 2^126 instead of wrapping.
        Int128 weights = 0, saturation = (Int128)1 << 126;
        foreach (var (_, shape) in expected)
        {
            var count = shape.Aggregate((Int128)1, (a, b) => a * b);
            weights = weights > saturation - count ? saturation : weights + count;
        }
        if (weights * sizeof(float) != dataBytes)
            throw new AutoencoderModelFormatException($"the network the header describes has {weights} weights ({weights * sizeof(float)} bytes); the file holds {dataBytes} bytes of weights.");
        var table = h.Tensors!;
        if (table.Length != expected.Count)
            throw new AutoencoderModelFormatException($"the tensor table lists {table.Length} tensors; the network the header describes has {expected.Count}.");
        for (int i = 0; i < table.Length; i++)
            if (table[i].Name != expected[i].Name || !table[i].Shape!.SequenceEqual(expected[i].Shape))
                throw new AutoencoderModelFormatException($"tensor {i} of the table is '{table[i].Name}' [{string.Join(", ", table[i].Shape!)}]; " +
                    $"the network the header describes has '{expected[i].Name}' [{string.Join(", ", expected[i].Shape)}] there.");
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
        /// <summary>The body's options (null for the dense body); version 2 and before called it "Convolution".</summary>
        public BodyOptions? Body { get; set; }
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
}
