using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Models;

/// <summary>
/// A trained autoencoder: encode, decode and reconstruct rows directly, read the training history.
/// Inference methods are safe to call from several threads at once.
/// </summary>
public sealed class AutoencoderModel : IDisposable
{
    private readonly AutoencoderNetwork network;
    private readonly Device device;
    private bool disposed;

    internal AutoencoderModel(AutoencoderNetwork network, Device device, TrainingHistory history, IReadOnlyList<TrainingHistory>? pretraining = null)
    {
        this.network = network;
        this.device = device;
        History = history;
        PretrainingHistory = pretraining ?? Array.Empty<TrainingHistory>();
        network.eval();
    }

    /// <summary>Features per input row.</summary>
    public int InputSize => Network.InputSize;

    /// <summary>Width of the latent code.</summary>
    public int LatentDimension => Network.LatentDimension;

    /// <summary>The device the weights live on.</summary>
    public ComputeDevice Device => TorchRuntime.ToComputeDevice(device);

    /// <summary>Per-epoch training record (of end-to-end training, the fine-tuning after any greedy pretraining).</summary>
    public TrainingHistory History { get; }

    /// <summary>One history per greedy layer-wise pretraining stage, input side first; empty without pretraining.</summary>
    public IReadOnlyList<TrainingHistory> PretrainingHistory { get; }

    /// <summary>What the encoder produces: a deterministic code or a Gaussian posterior (variational autoencoder).</summary>
    public LatentHead LatentHead => Network.Head;

    /// <summary>True for a variational autoencoder: <see cref="Sample"/> and <see cref="EncodeDistribution"/> are available.</summary>
    public bool IsVariational => LatentHead == LatentHead.Gaussian;

    /// <summary>
    /// A readable description of the layers, e.g. "784-256-128-16 (hidden LeakyReLU,LeakyReLU, code Linear, output Sigmoid)",
    /// or for a convolutional body each layer with its output shape.
    /// </summary>
    public string Architecture => Network.Description;

    /// <summary>The image shape of a convolutional autoencoder; null for a dense body.</summary>
    public ImageShape? ImageShape => Network.ImageShape;

    /// <summary>The TorchSharp device of the network.</summary>
    internal Device TorchDevice => device;

    internal AutoencoderNetwork Network
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return network;
        }
    }

    /// <summary>
    /// Draws <paramref name="count"/> codes from the prior N(0, I) and decodes them: new rows that resemble the
    /// training data. Variational autoencoders only.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is not variational.</exception>
    public float[][] Sample(int count, int seed = 0)
    {
        if (!IsVariational) throw new InvalidOperationException("Only a variational autoencoder (LatentHead = Gaussian) has a prior to sample from; decode chosen codes with Decode instead.");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return Split(Decode(RowNoise.Rows((ulong)(uint)seed, 0, count, LatentDimension), count), InputSize);
    }

    /// <summary>
    /// Decodes <paramref name="steps"/> evenly spaced points on the line between the codes of two rows (the posterior
    /// means for a variational autoencoder), both ends included.
    /// </summary>
    public float[][] Interpolate(float[] from, float[] to, int steps)
    {
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, "Interpolation needs at least 2 steps (both ends).");
        var ends = Encode(new[] { from, to });
        var codes = new float[steps * LatentDimension];
        for (int s = 0; s < steps; s++)
        {
            float t = (float)s / (steps - 1);
            for (int j = 0; j < LatentDimension; j++)
                codes[s * LatentDimension + j] = (1 - t) * ends[0][j] + t * ends[1][j];
        }
        return Split(Decode(codes, steps), InputSize);
    }

    /// <summary>Posterior mean and log-variance of each row. Variational autoencoders only.</summary>
    /// <exception cref="InvalidOperationException">The model is not variational.</exception>
    public (float[][] Mean, float[][] LogVariance) EncodeDistribution(IReadOnlyList<float[]> rows)
    {
        if (!IsVariational) throw new InvalidOperationException("Only a variational autoencoder (LatentHead = Gaussian) has a posterior distribution; use Encode.");
        int n = rows.Count;
        var mean = new float[n * LatentDimension];
        var logVariance = new float[n * LatentDimension];
        Run(Stack(rows, InputSize, nameof(rows)), n, new RunOutputs { Latent = mean, LogVariance = logVariance });
        return (Split(mean, LatentDimension), Split(logVariance, LatentDimension));
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
    public void Run(ReadOnlySpan<float> input, int rows, Span<float> latent, Span<float> reconstruction, Span<float> error) =>
        Run(input, rows, new RunOutputs { Latent = latent, Reconstruction = reconstruction, Error = error });

    internal void Run(ReadOnlySpan<float> input, int rows, RunOutputs outputs)
    {
        CheckShape(input.Length, rows, InputSize, nameof(input));
        if (!outputs.Latent.IsEmpty) CheckShape(outputs.Latent.Length, rows, LatentDimension, "latent");
        if (!outputs.LogVariance.IsEmpty) CheckShape(outputs.LogVariance.Length, rows, LatentDimension, "logVariance");
        if (!outputs.Sampled.IsEmpty) CheckShape(outputs.Sampled.Length, rows, LatentDimension, "sampled");
        if (!outputs.Reconstruction.IsEmpty) CheckShape(outputs.Reconstruction.Length, rows, InputSize, "reconstruction");
        if (!outputs.Error.IsEmpty) CheckShape(outputs.Error.Length, rows, 1, "error");
        if (rows == 0) return;

        using var scope = NewDisposeScope();
        RunCore(ToDevice(input, rows, InputSize), outputs);
    }

    /// <summary>
    /// The forward pass behind <see cref="Run(ReadOnlySpan{float}, int, Span{float}, Span{float}, Span{float})"/>, on a CPU tensor the caller already filled (a cursor wraps its
    /// own pinned batch buffer, so rows are never copied twice). Call inside a dispose scope.
    /// </summary>
    internal void RunCore(Tensor input, RunOutputs o)
    {
        using var noGrad = no_grad();
        var original = device.type == DeviceType.CPU ? input : input.to(device);
        bool distribution = IsVariational && (!o.LogVariance.IsEmpty || !o.Sampled.IsEmpty);
        bool decode = !o.Reconstruction.IsEmpty || !o.Error.IsEmpty;
        var (z, logVariance, r) = Pass(original, distribution, decode);
        // The common case, every value finite, is read in place on the CPU (one pass over memory the copies below read
        // anyway); libtorch's isfinite/all/item cost about 10 us a call, the whole overhead of a one-row forward pass.
        if (InputBounds is var (lo, hi) && !(FiniteValues.AllFinite(z) && (logVariance is null || FiniteValues.AllFinite(logVariance)) && (r is null || FiniteValues.AllFinite(r))))
        {
            // Rows whose pass overflowed (inputs far outside the training range) are redone on inputs clamped to
            // InputBounds; every other row keeps its own values, so a row's outputs never depend on its batch.
            var ok = z.isfinite().all(1);
            if (logVariance is not null) ok = ok.logical_and(logVariance.isfinite().all(1));
            if (r is not null) ok = ok.logical_and(r.isfinite().all(1));
            if (!ok.all().item<bool>())
            {
                using var low = ((double)lo).ToScalar(); // held until the pass ends (see Runtime.Scalars)
                using var high = ((double)hi).ToScalar();
                var rows = ok.logical_not().nonzero().squeeze(1);
                var (zb, lvb, rb) = Pass(original.index_select(0, rows).clamp(low, high), distribution, decode);
                z = z.index_copy(0, rows, zb);
                if (logVariance is not null) logVariance = logVariance.index_copy(0, rows, lvb!);
                if (r is not null) r = r.index_copy(0, rows, rb!);
            }
        }
        if (!o.Latent.IsEmpty) CopyOut(z, o.Latent);
        if (!o.LogVariance.IsEmpty) CopyOut(logVariance!, o.LogVariance);
        if (!o.Sampled.IsEmpty) CopyOut(SampleCodes(z, logVariance!, o.FirstRow), o.Sampled);
        if (r is null) return;
        if (!o.Reconstruction.IsEmpty) CopyOut(r, o.Reconstruction);
        if (!o.Error.IsEmpty && Network.OwnRowErrors(original, z) is { } own)
        {
            CopyOut(own, o.Error); // the body's own error (a token body: mean token cross-entropy)
        }
        else if (!o.Error.IsEmpty)
        {
            var difference = r - original; // against the unclamped input: far-out rows get a large error
            CopyOut(difference.pow(Scalars.Two).mean(new long[] { 1 }).clamp_max_(Scalars.FloatMax), o.Error); // overflow saturates, never inf
        }
    }


    /// <summary>Encodes (a VAE: its posterior mean, and the log-variance when asked) and decodes when asked.</summary>
    private (Tensor Z, Tensor? LogVariance, Tensor? Reconstruction) Pass(Tensor x, bool distribution, bool decode)
    {
        var (z, logVariance) = distribution ? Network.EncodeDistribution(x) : (Network.Encode(x), null);
        return (z, logVariance, decode ? Network.Decode(z) : null);
    }

    /// <summary>
    /// z = μ + σ·ε with ε drawn per (seed, row position, unit), so a row's sampled code does not depend on the
    /// batch it was computed in, and reading a data view twice gives the same samples.
    /// </summary>
    private Tensor SampleCodes(Tensor mean, Tensor logVariance, long firstRow)
    {
        int rows = (int)mean.shape[0];
        var epsilon = ToDevice(RowNoise.Rows((ulong)(uint)(Seed ^ 0x2545F491), firstRow, rows, LatentDimension), rows, LatentDimension);
        return mean.add(logVariance.mul(Scalars.Half).exp_().mul_(epsilon), Scalars.One);
    }

    /// <summary>Seed of the sampled-code column (the training seed).</summary>
    internal int Seed { get; init; }

    /// <summary>
    /// The smallest and largest input value seen in training; null for models saved before it was recorded.
    /// Inference redoes a row whose forward pass overflows with its inputs clamped to <see cref="InputBounds"/>.
    /// </summary>
    public (float Min, float Max)? TrainingRange { get; internal init; }

    /// <summary>How far beyond the training range, in multiples of its width, <see cref="InputBounds"/> reach.</summary>
    public const float ClampFactor = 1e6f;

    /// <summary>
    /// [Min - w·<see cref="ClampFactor"/>, Max + w·<see cref="ClampFactor"/>] (w = max(Max - Min, 1)): a row whose forward pass
    /// gives a non-finite code or reconstruction (inputs so far outside the training data that the network overflows) is
    /// computed again with its inputs clamped to these bounds, so every row gets finite codes and reconstructions; other
    /// rows are untouched (one finiteness check per batch). The error is measured against the unclamped input and
    /// saturates at <see cref="float.MaxValue"/> instead of overflowing to infinity. Null without a <see cref="TrainingRange"/>.
    /// </summary>
    public (float Low, float High)? InputBounds => TrainingRange is var (min, max)
        ? (Math.Max(-float.MaxValue, min - Math.Max(max - min, 1f) * ClampFactor), Math.Min(float.MaxValue, max + Math.Max(max - min, 1f) * ClampFactor))
        : null;

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

    /// <summary>Outputs of one forward pass; empty spans are not computed. <see cref="FirstRow"/> keys the sampled-code noise.</summary>
    internal ref struct RunOutputs
    {
        public Span<float> Latent, LogVariance, Sampled, Reconstruction, Error;
        public long FirstRow;
    }

    /// <summary>True once <see cref="Dispose"/> freed the native weights.</summary>
    internal bool IsDisposed => disposed;

    /// <summary>Frees the native weights.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        network.Dispose();
    }
}
