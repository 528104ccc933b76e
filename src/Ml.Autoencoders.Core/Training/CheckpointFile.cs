using System.Text.Json;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Training;

/// <summary>
/// The training checkpoint format, in the <see cref="ArtifactContainer"/> (magic "MLAECKPT"): the header as UTF-8 JSON
/// (what was trained, on what data, how far, the history, the optimizer step counts, the random state, a tensor table),
/// one section holding the tensors raw little-endian in table order, then a SHA-256 of everything before it. Version 2
/// is written; version 1 (no section table) is still read. Nothing in it is executable; every length is checked against
/// the bytes present before anything is allocated, and damage raises <see cref="AutoencoderModelFormatException"/>.
/// </summary>
internal static class CheckpointFile
{
    public const int FormatVersion = 2;
    private const int MaxHeaderBytes = 64 << 20, MaxTensors = 4096, MaxDimension = 1 << 30;

    /// <summary>The checkpoint as a kind of <see cref="ArtifactContainer"/>.</summary>
    internal static readonly ArtifactKind Kind = new("checkpoint", "MLAECKPT"u8.ToArray(), FormatVersion,
        new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.HeaderAndPayload }, MaxHeaderBytes);
    internal const string ModelGroup = "model", BestGroup = "best", OptimizerGroup = "optimizer";

    /// <summary>The model file's JSON settings (every collection bounded while read), with room for one step count per parameter tensor.</summary>
    private static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson()
    {
        var json = new JsonSerializerOptions(TrainingJson.Options);
        json.Converters.Insert(0, new BoundedArray<long>(MaxTensors)); // the first converter that fits wins
        json.Converters.Insert(0, new BoundedArray<TensorEntry>(MaxTensors));
        return json;
    }

    /// <summary>Writes the checkpoint to a temporary file beside <paramref name="path"/> and renames it over the target.</summary>
    public static void Write(string path, CheckpointHeader header, IEnumerable<(string Group, string Name, Tensor Value)> tensors)
    {
        var table = new List<TensorEntry>();
        var payload = new List<byte[]>();
        using (NewDisposeScope())
        {
            foreach (var (group, name, value) in tensors)
            {
                var cpu = value.detach().cpu().contiguous();
                byte[] bytes;
                string type;
                if (cpu.dtype == ScalarType.Float32)
                {
                    var values = TensorSpans.AsSpan<float>(cpu);
                    for (int i = 0; i < values.Length; i++)
                        if (!float.IsFinite(values[i]))
                            throw new InvalidOperationException($"Refusing to write a checkpoint with a non-finite value ({values[i]}) in {group} tensor '{name}' at index {i}; the previous checkpoint is left as it was.");
                    bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
                    type = "float32";
                }
                else if (cpu.dtype == ScalarType.Int64)
                {
                    bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(TensorSpans.AsSpan<long>(cpu)).ToArray();
                    type = "int64";
                }
                else if (cpu.dtype == ScalarType.Byte)
                {
                    bytes = TensorSpans.AsSpan<byte>(cpu).ToArray();
                    type = "uint8";
                }
                else
                {
                    throw new NotSupportedException($"Checkpoints hold float32, int64 and uint8 tensors; '{name}' is {cpu.dtype}.");
                }
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are written little-endian.");
                table.Add(new TensorEntry(group, name, type, cpu.shape));
                payload.Add(bytes);
            }
        }
        header.Tensors = table.ToArray();
        byte[] headerBytes = JsonSerializer.SerializeToUtf8Bytes(header, Json);
        var tensorBytes = new byte[payload.Sum(p => (long)p.Length)];
        long at = 0;
        foreach (var bytes in payload)
        {
            bytes.CopyTo(tensorBytes, at);
            at += bytes.Length;
        }
        ArtifactContainer.Save(path, Kind, headerBytes, [tensorBytes]);
    }

    /// <summary>Reads and checks a checkpoint file: magic, version, lengths, checksum, header and tensor table.</summary>
    public static CheckpointContents Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The checkpoint '{path}' does not exist.", path);
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (stream.Length > Array.MaxLength)
                throw new AutoencoderModelFormatException($"'{path}' is {stream.Length} bytes; checkpoints of at most {Array.MaxLength} bytes are supported.");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        try
        {
            return Parse(bytes);
        }
        catch (AutoencoderModelFormatException e)
        {
            throw new AutoencoderModelFormatException($"'{path}' is not a valid Ml.Autoencoders training checkpoint: {e.Message}", e.InnerException);
        }
    }

    internal static CheckpointContents Parse(byte[] bytes)
    {
        var artifact = ArtifactContainer.Read(bytes, Kind);
        var payload = artifact.Expect(1, Kind.Name)[0];

        CheckpointHeader header;
        try
        {
            header = JsonSerializer.Deserialize<CheckpointHeader>(artifact.Header.Span, Json)
                ?? throw new AutoencoderModelFormatException("the header is empty.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new AutoencoderModelFormatException("the header is not a valid checkpoint header: " + e.Message, e);
        }
        if (header.Fingerprint is null || header.Architecture is null || header.History is null || header.Tensors is null || header.OptimizerSteps is null || header.RandomState is null)
            throw new AutoencoderModelFormatException("the header lacks a required field (fingerprint, architecture, history, tensors, optimizer steps or random state).");
        if (header.CompletedEpochs <= 0 || header.CompletedEpochs > header.TotalEpochs || header.History.Length != header.CompletedEpochs)
            throw new AutoencoderModelFormatException($"it claims {header.CompletedEpochs} of {header.TotalEpochs} epochs done with {header.History.Length} history entries.");
        if (header.Tensors.Length > MaxTensors)
            throw new AutoencoderModelFormatException($"its tensor table has {header.Tensors.Length} entries (at most {MaxTensors}).");

        // Offsets are into the file's bytes: the payload is a slice of them.
        int payloadStart = bytes.Length - ArtifactContainer.HashLength - payload.Length, bodyEnd = payloadStart + payload.Length;
        var offsets = new long[header.Tensors.Length];
        long offset = payloadStart;
        for (int i = 0; i < header.Tensors.Length; i++)
        {
            var t = header.Tensors[i];
            if (t is null || t.Group is not (ModelGroup or BestGroup or OptimizerGroup) || t.Name is null || t.Shape is null || t.Shape.Length > 5 || t.Shape.Any(d => d < 0 || d > MaxDimension))
                throw new AutoencoderModelFormatException($"tensor table entry {i} has no name, an unknown group or an impossible shape.");
            int elementSize = ElementSize(t.DType);
            long length = t.Shape.Aggregate(1L, (a, d) => a * d) * elementSize; // each factor <= 2^30 and at most 5 of them: checked by length below
            if (length < 0 || length > bodyEnd - offset)
                throw new AutoencoderModelFormatException($"tensor '{t.Name}' needs {length} bytes but only {bodyEnd - offset} remain.");
            offsets[i] = offset;
            offset += length;
        }
        if (offset != bodyEnd)
            throw new AutoencoderModelFormatException($"the tensor table describes {offset - payloadStart} bytes but {payload.Length} are present.");
        return new CheckpointContents(header, bytes, offsets);
    }

    private static int ElementSize(string? type) => type switch
    {
        "float32" => 4,
        "int64" => 8,
        "uint8" => 1,
        _ => throw new AutoencoderModelFormatException($"tensor element type '{type}' is not one of float32, int64, uint8."),
    };

    /// <summary>The tensors the trainer saves: the weights, the best weights so far, the optimizer's state per parameter.</summary>
    public static IEnumerable<(string Group, string Name, Tensor Value)> TrainerTensors(nn.Module network, IReadOnlyDictionary<string, Tensor>? best, TrainingOptimizer optimizer)
    {
        foreach (var (name, value) in network.state_dict()) yield return (ModelGroup, name, value);
        if (best is not null) foreach (var (name, value) in best) yield return (BestGroup, name, value);
        int index = 0;
        foreach (var state in OptimizerStates(optimizer))
        {
            foreach (var (name, value) in StateTensors(state))
                if (value is not null) yield return (OptimizerGroup, $"{index}.{name}", value);
            index++;
        }
    }

    /// <summary>Step counts per parameter (Adam, AdamW; 0 for SGD).</summary>
    public static long[] OptimizerSteps(TrainingOptimizer optimizer) => OptimizerStates(optimizer).Select(s => s.Step).ToArray();

    internal static IReadOnlyList<TrainingOptimizer.State> OptimizerStates(TrainingOptimizer optimizer) => optimizer.Groups.SelectMany(g => g.States).ToList();

    internal static IEnumerable<(string Name, Tensor? Value)> StateTensors(TrainingOptimizer.State state) =>
        new (string, Tensor?)[] { ("exp_avg", state.Average), ("exp_avg_sq", state.SquaredAverage), ("momentum_buffer", state.Momentum) };

    internal sealed record TensorEntry(string? Group, string? Name, string? DType, long[]? Shape);
}

/// <summary>What a checkpoint's header records; the tensors follow it in the file.</summary>
internal sealed class CheckpointHeader
{
    public string? Library { get; set; }
    /// <summary>The training options that decide the trajectory, as canonical JSON (see the adapter's CheckpointFingerprint).</summary>
    public string? Fingerprint { get; set; }
    public string? Architecture { get; set; }
    /// <summary>How the rows were served: "memory" or "stream" (the shuffle order differs).</summary>
    public string? DataMode { get; set; }
    public long TrainRows { get; set; }
    public float Min { get; set; }
    public float Max { get; set; }
    public int TotalEpochs { get; set; }
    public int CompletedEpochs { get; set; }
    public TrainingJson.EpochEntry[]? History { get; set; }
    public TrainingJson.StageEntry[]? Pretraining { get; set; }
    public double BestLoss { get; set; }
    public int BestEpoch { get; set; }
    public int EpochsWithoutImprovement { get; set; }
    public bool StoppedEarly { get; set; }
    public long[]? OptimizerSteps { get; set; }
    /// <summary>The training generator's state (corruption noise, VAE sampling).</summary>
    public byte[]? RandomState { get; set; }
    public CheckpointFile.TensorEntry[]? Tensors { get; set; }
}

/// <summary>A checked checkpoint: header plus the raw bytes each tensor entry points at.</summary>
internal sealed class CheckpointContents(CheckpointHeader header, byte[] bytes, long[] offsets)
{
    public CheckpointHeader Header { get; } = header;

    /// <summary>Copies the entries of <paramref name="group"/> into the same-named tensors of <paramref name="target"/>, which must match them exactly.</summary>
    public void CopyGroup(string group, IReadOnlyDictionary<string, Tensor> target, string what)
    {
        var entries = Entries(group).ToList();
        if (entries.Count != target.Count || entries.Any(e => !target.ContainsKey(e.Entry.Name!)))
            throw new AutoencoderModelFormatException($"the checkpoint's {what} ({string.Join(", ", entries.Select(e => e.Entry.Name))}) do not match the network ({string.Join(", ", target.Keys)}).");
        foreach (var (entry, index) in entries) CopyInto(entry, index, target[entry.Name!]);
    }

    /// <summary>A new CPU tensor per entry of <paramref name="group"/> (sizes were checked against the file when it was read).</summary>
    public Dictionary<string, Tensor> NewTensors(string group, IReadOnlyDictionary<string, Tensor> like)
    {
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (entry, _) in Entries(group))
            {
                if (!like.TryGetValue(entry.Name!, out var model) || !model.shape.SequenceEqual(entry.Shape!))
                    throw new AutoencoderModelFormatException($"the checkpoint's best-weights tensor '{entry.Name}' does not match the network.");
                result[entry.Name!] = zeros_like(model).DetachFromDisposeScope();
            }
            CopyGroup(group, result, "best weights");
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>Restores the optimizer's per-parameter state (moments, momentum buffers, step counts).</summary>
    public void RestoreOptimizer(TrainingOptimizer optimizer)
    {
        var states = CheckpointFile.OptimizerStates(optimizer);
        var parameters = optimizer.Groups.SelectMany(g => g.Parameters).ToList();
        var steps = Header.OptimizerSteps!;
        if (steps.Length != states.Count)
            throw new AutoencoderModelFormatException($"the checkpoint holds optimizer state for {steps.Length} parameters; the network has {states.Count}.");
        var byName = Entries(CheckpointFile.OptimizerGroup).ToDictionary(e => e.Entry.Name!, e => e);
        var expected = new HashSet<string>();
        for (int i = 0; i < states.Count; i++)
        {
            if (steps[i] < 0) throw new AutoencoderModelFormatException($"optimizer step count {steps[i]} is negative.");
            var state = states[i];
            state.Step = steps[i];
            if (state.Average is not null) CopyInto(byName, $"{i}.exp_avg", state.Average, expected);
            if (state.SquaredAverage is not null) CopyInto(byName, $"{i}.exp_avg_sq", state.SquaredAverage, expected);
            if (state.Average is null && byName.ContainsKey($"{i}.momentum_buffer"))
            {
                state.Momentum?.Dispose();
                state.Momentum = zeros_like(parameters[i]).DetachFromDisposeScope();
                CopyInto(byName, $"{i}.momentum_buffer", state.Momentum, expected);
            }
        }
        if (byName.Keys.FirstOrDefault(n => !expected.Contains(n)) is { } extra)
            throw new AutoencoderModelFormatException($"the checkpoint holds optimizer tensor '{extra}', which this optimizer does not have.");
    }

    private void CopyInto(Dictionary<string, (CheckpointFile.TensorEntry Entry, int Index)> byName, string name, Tensor target, HashSet<string> used)
    {
        if (!byName.TryGetValue(name, out var e))
            throw new AutoencoderModelFormatException($"the checkpoint lacks optimizer tensor '{name}'.");
        used.Add(name);
        CopyInto(e.Entry, e.Index, target);
    }

    private IEnumerable<(CheckpointFile.TensorEntry Entry, int Index)> Entries(string group) =>
        Header.Tensors!.Select((t, i) => (t, i)).Where(x => x.t.Group == group);

    private void CopyInto(CheckpointFile.TensorEntry entry, int index, Tensor target)
    {
        if (!target.shape.SequenceEqual(entry.Shape!))
            throw new AutoencoderModelFormatException($"checkpoint tensor '{entry.Name}' has shape [{string.Join(", ", entry.Shape!)}]; the network needs [{string.Join(", ", target.shape)}].");
        var expected = entry.DType switch { "float32" => ScalarType.Float32, "int64" => ScalarType.Int64, _ => ScalarType.Byte };
        if (target.dtype != expected)
            throw new AutoencoderModelFormatException($"checkpoint tensor '{entry.Name}' is {entry.DType}; the network holds {target.dtype}.");
        long count = target.numel();
        int size = expected switch { ScalarType.Float32 => 4, ScalarType.Int64 => 8, _ => 1 };
        var source = bytes.AsSpan((int)offsets[index], checked((int)(count * size)));
        if (expected == ScalarType.Float32)
        {
            var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source);
            foreach (float v in values)
                if (!float.IsFinite(v)) throw new AutoencoderModelFormatException($"checkpoint tensor '{entry.Name}' holds a non-finite value ({v}).");
        }
        using var cpu = empty(target.shape, dtype: expected);
        Span<byte> destination = expected switch
        {
            ScalarType.Float32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(TensorSpans.AsSpan<float>(cpu)),
            ScalarType.Int64 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(TensorSpans.AsSpan<long>(cpu)),
            _ => TensorSpans.AsSpan<byte>(cpu),
        };
        source.CopyTo(destination);
        using (no_grad()) target.copy_(cpu);
    }
}
