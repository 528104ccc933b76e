using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Analysis;

/// <summary>
/// Exact principal component analysis (eigen-decomposition of the covariance, double precision): the
/// baseline every autoencoder default must beat on reconstruction error.
/// </summary>
public sealed class PcaBaseline
{
    private readonly double[] mean;
    private readonly double[] components; // k x d, row-major

    private PcaBaseline(double[] mean, double[] components, int k)
    {
        this.mean = mean;
        this.components = components;
        Components = k;
    }

    /// <summary>Number of components kept.</summary>
    public int Components { get; }

    /// <summary>Features per row.</summary>
    public int InputSize => mean.Length;

    /// <summary>Fits <paramref name="components"/> components to rows stored row-major (rows x inputSize).</summary>
    public static PcaBaseline Fit(ReadOnlySpan<float> rows, int inputSize, int components)
    {
        if (inputSize <= 0 || rows.Length % inputSize != 0)
            throw new ArgumentException($"Expected a multiple of {inputSize} values, got {rows.Length}.", nameof(rows));
        if (components <= 0 || components > inputSize)
            throw new ArgumentOutOfRangeException(nameof(components), components, $"Expected 1 to {inputSize} components.");
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x = FromSpan(rows, inputSize).to(ScalarType.Float64);
        var mu = x.mean(new long[] { 0 });
        var centered = x - mu;
        using var degrees = Math.Max(1, x.shape[0] - 1).ToScalar(); // alive through the native call (see Scalars)
        var covariance = centered.T.matmul(centered).div(degrees);
        var (_, vectors) = linalg.eigh(covariance);
        // eigh sorts ascending: the last columns are the leading components.
        var top = vectors.narrow(1, inputSize - components, components).flip(1).T.contiguous();
        return new PcaBaseline(TensorSpans.ToArray<double>(mu), TensorSpans.ToArray<double>(top), components);
    }

    /// <summary>Mean squared error per feature of projecting rows onto the components and back.</summary>
    public double ReconstructionMse(ReadOnlySpan<float> rows)
    {
        int d = InputSize;
        using var scope = NewDisposeScope();
        var x = FromSpan(rows, d).to(ScalarType.Float64);
        var mu = tensor(mean);
        var w = tensor(components).reshape(Components, d);
        var centered = x - mu;
        var reconstruction = centered.matmul(w.T).matmul(w);
        return (reconstruction - centered).pow(Scalars.Two).mean().item<double>();
    }

    /// <summary>
    /// Rows (row-major, <see cref="InputSize"/> values each) projected onto the components and back: PCA's reconstruction,
    /// mean + (x - mean) W^T W, computed in double precision and returned as float, row-major.
    /// </summary>
    /// <exception cref="ArgumentException">The values are not a whole number of rows.</exception>
    public float[] Reconstruct(ReadOnlySpan<float> rows)
    {
        int d = InputSize;
        if (rows.Length % d != 0) throw new ArgumentException($"Expected a multiple of {d} values, got {rows.Length}.", nameof(rows));
        using var scope = NewDisposeScope();
        var x = FromSpan(rows, d).to(ScalarType.Float64);
        var mu = tensor(mean);
        var w = tensor(components).reshape(Components, d);
        var reconstruction = (x - mu).matmul(w.T).matmul(w).add(mu, Scalars.One);
        return TensorSpans.ToArray<float>(reconstruction.to(ScalarType.Float32).contiguous());
    }

    /// <summary>Coordinates of rows on the components (rows x <see cref="Components"/>, row-major, double precision).</summary>
    internal double[] Project(ReadOnlySpan<float> rows)
    {
        int d = InputSize;
        using var scope = NewDisposeScope();
        var x = FromSpan(rows, d).to(ScalarType.Float64);
        var w = tensor(components).reshape(Components, d);
        return TensorSpans.ToArray<double>((x - tensor(mean)).matmul(w.T).contiguous());
    }

    private static Tensor FromSpan(ReadOnlySpan<float> rows, int d)
    {
        return TensorSpans.FromSpan(rows, rows.Length / d, d);
    }
}
