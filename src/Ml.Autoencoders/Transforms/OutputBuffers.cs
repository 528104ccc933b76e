using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Per-cursor buffers for one batch: the dense inputs and whichever outputs are active, filled by one
/// forward pass. Each cursor owns its own, so concurrent cursors never share state.
/// A batch cursor keeps its inputs in a native tensor (<c>native: true</c>); a single row served to a
/// prediction engine keeps them managed, since ML.NET may never dispose that row.
/// </summary>
internal sealed class OutputBuffers : IDisposable
{
    private readonly TorchSharp.torch.Tensor? inputTensor;
    private readonly unsafe float* inputPointer;
    private readonly float[]? managedInput;
    private readonly AutoencoderTransformer parent;
    private readonly int d, k;
    private readonly Dictionary<AutoencoderOutputs, float[]> values = new();

    public OutputBuffers(AutoencoderTransformer parent, int capacity, AutoencoderOutputs wanted, bool native = true)
    {
        this.parent = parent;
        d = parent.InputSize;
        k = parent.Model.LatentDimension;
        Capacity = capacity;
        // Rows are written straight into a native tensor: no second copy per batch, and libtorch's own
        // 64-byte alignment, so results are bit-identical whichever buffer computes them (kernels take
        // different paths for differently aligned memory).
        if (native)
        {
            inputTensor = TorchSharp.torch.empty(new long[] { capacity, d }, dtype: TorchSharp.torch.ScalarType.Float32).DetachFromDisposeScope();
            unsafe
            {
                inputPointer = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(Runtime.TensorSpans.AsSpan<float>(inputTensor)));
            }
        }
        else
        {
            managedInput = new float[capacity * d];
        }
        foreach (var kind in AutoencoderTransformer.OutputKinds)
            if (wanted.HasFlag(kind)) values[kind] = new float[capacity * Width(kind)];
    }

    private int Width(AutoencoderOutputs kind) => kind switch
    {
        AutoencoderOutputs.Reconstruction => d,
        AutoencoderOutputs.ReconstructionError => 1,
        _ => k,
    };

    public int Capacity { get; }

    /// <summary>Copies the input vector of a row into its slot, checking size and finiteness.</summary>
    public unsafe void SetInput(int slot, in VBuffer<float> value, long row)
    {
        if ((uint)slot >= (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(slot));
        var destination = managedInput is null ? new Span<float>(inputPointer + (long)slot * d, d) : managedInput.AsSpan(slot * d, d);
        VectorColumn.CopyDense(value, destination, parent.InputColumnName, row);
    }

    /// <summary>
    /// One forward pass over the first <paramref name="rows"/> slots, filling the outputs in <paramref name="only"/>
    /// (all allocated ones by default). <paramref name="firstRow"/> is the position of the first slot's row.
    /// </summary>
    public void Compute(int rows, long firstRow, AutoencoderOutputs only = (AutoencoderOutputs)~0)
    {
        Span<float> Out(AutoencoderOutputs kind) =>
            only.HasFlag(kind) && values.TryGetValue(kind, out var v) ? v.AsSpan(0, rows * Width(kind)) : default;
        var outputs = new Models.AutoencoderModel.RunOutputs
        {
            Latent = Out(AutoencoderOutputs.LatentCode),
            LogVariance = Out(AutoencoderOutputs.LatentLogVariance),
            Sampled = Out(AutoencoderOutputs.SampledLatentCode),
            Reconstruction = Out(AutoencoderOutputs.Reconstruction),
            Error = Out(AutoencoderOutputs.ReconstructionError),
            FirstRow = firstRow,
        };
        if (managedInput is not null)
        {
            parent.Model.Run(managedInput.AsSpan(0, rows * d), rows, outputs);
            return;
        }
        using var scope = TorchSharp.torch.NewDisposeScope();
        parent.Model.RunCore(rows == Capacity ? inputTensor! : inputTensor!.narrow(0, 0, rows), outputs);
    }

    public void Dispose() => inputTensor?.Dispose();

    /// <summary>A getter for an output column that reads the slot given by <paramref name="slot"/>.</summary>
    public Delegate CreateGetter(AutoencoderOutputs kind, Func<int> slot)
    {
        var source = values[kind];
        return kind == AutoencoderOutputs.ReconstructionError
            ? (ValueGetter<float>)((ref float value) => value = source[slot()])
            : VectorGetter(source, Width(kind), slot);
    }

    private static ValueGetter<VBuffer<float>> VectorGetter(float[] source, int width, Func<int> slot) =>
        (ref VBuffer<float> value) =>
        {
            var editor = VBufferEditor.Create(ref value, width);
            source.AsSpan(slot() * width, width).CopyTo(editor.Values);
            value = editor.Commit();
        };
}
