using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// A trained autoencoder: encode, decode and reconstruct rows directly, read the training history.
/// Inference methods are safe to call from several threads at once.
/// </summary>
public sealed class AutoencoderModel : IDisposable
{
    private readonly DenseAutoencoderNetwork network;
    private readonly Device device;
    private bool disposed;

    internal AutoencoderModel(DenseAutoencoderNetwork network, Device device, TrainingHistory history)
    {
        this.network = network;
        this.device = device;
        History = history;
        network.eval();
    }

    /// <summary>Features per input row.</summary>
    public int InputSize => Network.Spec.InputSize;

    /// <summary>Width of the latent code.</summary>
    public int LatentDimension => Network.Spec.LatentDimension;

    /// <summary>The device the weights live on.</summary>
    public ComputeDevice Device => TorchRuntime.ToComputeDevice(device);

    /// <summary>Per-epoch training record.</summary>
    public TrainingHistory History { get; }

    /// <summary>A readable description of the layers, e.g. "784-256-128-16 (hidden LeakyReLU,LeakyReLU, code Linear, output Sigmoid)".</summary>
    public string Architecture => Network.Spec.ToString();

    internal DenseAutoencoderNetwork Network
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return network;
        }
    }

    /// <summary>Latent code of one row.</summary>
    public float[] Encode(float[] row) => Encode(RowMatrix(row, InputSize, nameof(row)), 1);

    /// <summary>Latent codes of <paramref name="rows"/> rows stored row-major in <paramref name="input"/> (rows x <see cref="InputSize"/>); returns rows x <see cref="LatentDimension"/>.</summary>
    public float[] Encode(ReadOnlySpan<float> input, int rows)
    {
        var latent = new float[rows * LatentDimension];
        Run(input, rows, latent, default, default);
        return latent;
    }

    /// <summary>Latent codes of several rows, in one forward pass.</summary>
    public float[][] Encode(IReadOnlyList<float[]> rows) => Split(Encode(Stack(rows, InputSize, nameof(rows)), rows.Count), LatentDimension);

    /// <summary>Rows decoded from several latent codes, in one forward pass.</summary>
    public float[][] Decode(IReadOnlyList<float[]> codes) => Split(Decode(Stack(codes, LatentDimension, nameof(codes)), codes.Count), InputSize);

    /// <summary>Reconstructions of several rows, in one forward pass.</summary>
    public float[][] Reconstruct(IReadOnlyList<float[]> rows) => Split(Reconstruct(Stack(rows, InputSize, nameof(rows)), rows.Count), InputSize);

    private static float[] Stack(IReadOnlyList<float[]> rows, int width, string name)
    {
        ArgumentNullException.ThrowIfNull(rows, name);
        var flat = new float[rows.Count * width];
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i] is not { } row || row.Length != width)
                throw new ArgumentException($"Row {i} has {rows[i]?.Length.ToString() ?? "no"} values; expected {width}.", name);
            row.CopyTo(flat, i * width);
        }
        return flat;
    }

    private static float[][] Split(float[] flat, int width)
    {
        var rows = new float[flat.Length / width][];
        for (int i = 0; i < rows.Length; i++) rows[i] = flat.AsSpan(i * width, width).ToArray();
        return rows;
    }

    /// <summary>Decodes one latent code into a row.</summary>
    public float[] Decode(float[] code) => Decode(RowMatrix(code, LatentDimension, nameof(code)), 1);

    /// <summary>Decodes <paramref name="rows"/> codes stored row-major (rows x <see cref="LatentDimension"/>); returns rows x <see cref="InputSize"/>.</summary>
    public float[] Decode(ReadOnlySpan<float> codes, int rows)
    {
        CheckShape(codes.Length, rows, LatentDimension, nameof(codes));
        var output = new float[rows * InputSize];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = ToDevice(codes, rows, LatentDimension);
        var x = Network.Decode(z);
        CopyOut(x, output);
        return output;
    }

    /// <summary>Reconstruction of one row.</summary>
    public float[] Reconstruct(float[] row) => Reconstruct(RowMatrix(row, InputSize, nameof(row)), 1);

    /// <summary>Reconstructions of rows stored row-major (rows x <see cref="InputSize"/>).</summary>
    public float[] Reconstruct(ReadOnlySpan<float> input, int rows)
    {
        var output = new float[rows * InputSize];
        Run(input, rows, default, output, default);
        return output;
    }

    /// <summary>Reconstruction error of one row: the mean squared error over its features.</summary>
    public float ReconstructionError(float[] row)
    {
        var error = new float[1];
        Run(RowMatrix(row, InputSize, nameof(row)), 1, default, default, error);
        return error[0];
    }

    /// <summary>
    /// One forward pass over a batch; fills whichever outputs are non-empty. The batch is
    /// rows x <see cref="InputSize"/> row-major; outputs are row-major too.
    /// </summary>
    public void Run(ReadOnlySpan<float> input, int rows, Span<float> latent, Span<float> reconstruction, Span<float> error)
    {
        CheckShape(input.Length, rows, InputSize, nameof(input));
        if (!latent.IsEmpty) CheckShape(latent.Length, rows, LatentDimension, nameof(latent));
        if (!reconstruction.IsEmpty) CheckShape(reconstruction.Length, rows, InputSize, nameof(reconstruction));
        if (!error.IsEmpty) CheckShape(error.Length, rows, 1, nameof(error));
        if (rows == 0) return;

        using var scope = NewDisposeScope();
        RunCore(ToDevice(input, rows, InputSize), latent, reconstruction, error);
    }

    /// <summary>
    /// The forward pass behind <see cref="Run"/>, on a CPU tensor the caller already filled (a cursor wraps its
    /// own pinned batch buffer, so rows are never copied twice). Call inside a dispose scope.
    /// </summary>
    internal void RunCore(Tensor input, Span<float> latent, Span<float> reconstruction, Span<float> error)
    {
        using var noGrad = no_grad();
        var x = device.type == DeviceType.CPU ? input : input.to(device);
        var z = Network.Encode(x);
        if (!latent.IsEmpty) CopyOut(z, latent);
        if (reconstruction.IsEmpty && error.IsEmpty) return;
        var r = Network.Decode(z);
        if (!reconstruction.IsEmpty) CopyOut(r, reconstruction);
        if (!error.IsEmpty) CopyOut((r - x).square().mean(new long[] { 1 }), error);
    }

    private Tensor ToDevice(ReadOnlySpan<float> values, int rows, int width)
    {
        var t = TensorSpans.FromSpan(values, rows, width);
        return device.type == DeviceType.CPU ? t : t.to(device);
    }

    private static void CopyOut(Tensor t, Span<float> destination)
    {
        TensorSpans.CopyTo(t, destination);
    }

    private static ReadOnlySpan<float> RowMatrix(float[] row, int width, string name)
    {
        ArgumentNullException.ThrowIfNull(row, name);
        if (row.Length != width)
            throw new ArgumentException($"Expected {width} values, got {row.Length}.", name);
        return row;
    }

    private static void CheckShape(int length, int rows, int width, string name)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "Row count must be >= 0.");
        if (length != (long)rows * width)
            throw new ArgumentException($"Expected {rows} x {width} = {(long)rows * width} values, got {length}.", name);
    }

    /// <summary>Frees the native weights.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        network.Dispose();
    }
}
