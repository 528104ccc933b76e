using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

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
    private readonly float[]? latent, reconstruction, error;

    public OutputBuffers(AutoencoderTransformer parent, int capacity, bool wantLatent, bool wantReconstruction, bool wantError, bool native = true)
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
        if (wantLatent) latent = new float[capacity * k];
        if (wantReconstruction) reconstruction = new float[capacity * d];
        if (wantError) error = new float[capacity];
    }

    public int Capacity { get; }

    /// <summary>Copies the input vector of a row into its slot, checking size and finiteness.</summary>
    public unsafe void SetInput(int slot, in VBuffer<float> value, long row)
    {
        if ((uint)slot >= (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(slot));
        var destination = managedInput is null ? new Span<float>(inputPointer + (long)slot * d, d) : managedInput.AsSpan(slot * d, d);
        VectorColumn.CopyDense(value, destination, parent.InputColumnName, row);
    }

    /// <summary>One forward pass over the first <paramref name="rows"/> slots, filling the outputs in <paramref name="only"/> (all allocated ones by default).</summary>
    public void Compute(int rows, AutoencoderOutputs only = AutoencoderOutputs.All)
    {
        var latentOut = latent is null || !only.HasFlag(AutoencoderOutputs.LatentCode) ? default : latent.AsSpan(0, rows * k);
        var reconstructionOut = reconstruction is null || !only.HasFlag(AutoencoderOutputs.Reconstruction) ? default : reconstruction.AsSpan(0, rows * d);
        var errorOut = error is null || !only.HasFlag(AutoencoderOutputs.ReconstructionError) ? default : error.AsSpan(0, rows);
        if (managedInput is not null)
        {
            parent.Model.Run(managedInput.AsSpan(0, rows * d), rows, latentOut, reconstructionOut, errorOut);
            return;
        }
        using var scope = TorchSharp.torch.NewDisposeScope();
        parent.Model.RunCore(rows == Capacity ? inputTensor! : inputTensor!.narrow(0, 0, rows), latentOut, reconstructionOut, errorOut);
    }

    public void Dispose() => inputTensor?.Dispose();

    /// <summary>A getter for an output column that reads the slot given by <paramref name="slot"/>.</summary>
    public Delegate CreateGetter(AutoencoderOutputs kind, Func<int> slot) => kind switch
    {
        AutoencoderOutputs.LatentCode => VectorGetter(latent!, k, slot),
        AutoencoderOutputs.Reconstruction => VectorGetter(reconstruction!, d, slot),
        AutoencoderOutputs.ReconstructionError => (ValueGetter<float>)((ref float value) => value = error![slot()]),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static ValueGetter<VBuffer<float>> VectorGetter(float[] source, int width, Func<int> slot) =>
        (ref VBuffer<float> value) =>
        {
            var editor = VBufferEditor.Create(ref value, width);
            source.AsSpan(slot() * width, width).CopyTo(editor.Values);
            value = editor.Commit();
        };
}
