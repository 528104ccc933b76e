using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Per-cursor buffers for one batch: the dense inputs and whichever outputs are active, filled by one
/// forward pass. Each cursor owns its own, so concurrent cursors never share state.
/// </summary>
internal sealed class OutputBuffers
{
    private readonly AutoencoderTransformer parent;
    private readonly int d, k;
    private readonly float[] input;
    private readonly float[]? latent, reconstruction, error;

    public OutputBuffers(AutoencoderTransformer parent, int capacity, bool wantLatent, bool wantReconstruction, bool wantError)
    {
        this.parent = parent;
        d = parent.InputSize;
        k = parent.Model.LatentDimension;
        Capacity = capacity;
        input = new float[capacity * d];
        if (wantLatent) latent = new float[capacity * k];
        if (wantReconstruction) reconstruction = new float[capacity * d];
        if (wantError) error = new float[capacity];
    }

    public int Capacity { get; }

    /// <summary>Copies the input vector of a row into its slot, checking size and finiteness.</summary>
    public void SetInput(int slot, in VBuffer<float> value, long row) =>
        VectorColumn.CopyDense(value, input.AsSpan(slot * d, d), parent.InputColumnName, row);

    /// <summary>One forward pass over the first <paramref name="rows"/> slots.</summary>
    public void Compute(int rows) =>
        parent.Model.Run(
            input.AsSpan(0, rows * d),
            rows,
            latent is null ? default : latent.AsSpan(0, rows * k),
            reconstruction is null ? default : reconstruction.AsSpan(0, rows * d),
            error is null ? default : error.AsSpan(0, rows));

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
