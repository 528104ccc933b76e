using Ml.Autoencoders.Embedding;

namespace Ml.Autoencoders.Tests;

/// <summary>The FFT-interpolation (FIt-SNE) repulsion approximates the exact O(n²) sums for 2-D embeddings.</summary>
[TestClass]
public sealed class FftTsneRepulsionTests
{
    /// <summary>Layouts of the random test embeddings.</summary>
    public enum Spread
    {
        /// <summary>Gaussian, standard deviation 1e-4: a fresh t-SNE initialisation (range ~1e-3).</summary>
        Initialisation,

        /// <summary>Uniform over a 5 x 5 square.</summary>
        Uniform5,

        /// <summary>Ten Gaussian clusters (standard deviation 3) with centres uniform over a 100 x 100 square.</summary>
        Clusters100,
    }

    /// <summary>
    /// Z and F agree with <see cref="ExactTsneRepulsion"/> on random embeddings from a fresh initialisation to a
    /// spread-out clustered layout. The bounds are the measured relative errors (Z; F as a Frobenius norm over all
    /// points) with margin: at the FIt-SNE defaults (intervals of width 1, 3 nodes, float32 transforms) dense clusters
    /// give ~3e-3 and ~2e-2; intervals of 0.5 bring that to ~3e-4 and ~3e-3, 5 nodes (float64 transforms) to ~5e-5 and ~2e-3.
    /// </summary>
    [TestMethod]
    [DataRow(Spread.Initialisation, 300, 1.0, 3, true, 1e-6, 2e-6)]
    [DataRow(Spread.Uniform5, 1000, 1.0, 3, true, 1e-6, 5e-5)]
    [DataRow(Spread.Clusters100, 2000, 1.0, 3, true, 6e-3, 4e-2)]
    [DataRow(Spread.Clusters100, 2000, 0.5, 3, true, 6e-4, 6e-3)]
    [DataRow(Spread.Clusters100, 2000, 1.0, 5, false, 2e-4, 6e-3)]
    public void AgreesWithTheExactSums(Spread spread, int count, double intervalWidth, int nodes, bool single, double zTolerance, double forceTolerance)
    {
        var y = Embedding(spread, count, seed: 11);
        var exactForces = new double[y.Length];
        var fftForces = new double[y.Length];
        double exactZ = new ExactTsneRepulsion().Compute(y, count, 2, exactForces);
        using var fft = new FftTsneRepulsion(intervalWidth, nodesPerInterval: nodes, singlePrecisionFft: single);
        double fftZ = fft.Compute(y, count, 2, fftForces);
        double zError = Math.Abs(fftZ - exactZ) / exactZ;
        double forceError = RelativeError(fftForces, exactForces);
        Console.WriteLine($"{spread} n={count} width {intervalWidth} nodes {nodes} float32 {single}: Z relative error {zError:E2}, F relative error {forceError:E2}");
        Assert.IsLessThan(zTolerance, zError, $"Z: fft {fftZ}, exact {exactZ}");
        Assert.IsLessThan(forceTolerance, forceError, "F");
    }

    /// <summary>A second call with the cached kernel transform gives the same result as the first, and a fresh instance.</summary>
    [TestMethod]
    public void ReusesTheKernelTransformConsistently()
    {
        const int count = 500;
        var wide = Embedding(Spread.Clusters100, count, seed: 8);
        var narrow = Embedding(Spread.Uniform5, count, seed: 9);
        using var fft = new FftTsneRepulsion();
        var first = new double[wide.Length];
        var again = new double[wide.Length];
        var other = new double[wide.Length];
        double z1 = fft.Compute(wide, count, 2, first);
        fft.Compute(narrow, count, 2, other);
        double z2 = fft.Compute(wide, count, 2, again);
        Assert.AreEqual(z1, z2);
        CollectionAssert.AreEqual(first, again);
        using var fresh = new FftTsneRepulsion();
        Assert.AreEqual(z1, fresh.Compute(wide, count, 2, other));
        CollectionAssert.AreEqual(first, other);
    }

    /// <summary>Only 2-D embeddings are accepted, and the spans must hold count x 2 values.</summary>
    [TestMethod]
    public void RefusesOtherDimensionsAndBadSpans()
    {
        using var fft = new FftTsneRepulsion();
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => fft.Compute(new double[30], 10, 3, new double[30]));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => fft.Compute(new double[10], 10, 1, new double[10]));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => fft.Compute(new double[2], 1, 2, new double[2]));
        Assert.ThrowsExactly<ArgumentException>(() => fft.Compute(new double[19], 10, 2, new double[20]));
        Assert.ThrowsExactly<ArgumentException>(() => fft.Compute(new double[20], 10, 2, new double[21]));
    }

    /// <summary>
    /// Permuting the points permutes the forces and leaves Z unchanged, up to rounding (the grid sums run in another
    /// order; float32 transforms round at ~1e-7 of the potentials).
    /// </summary>
    [TestMethod]
    [DataRow(true, 1e-5)]
    [DataRow(false, 1e-11)]
    public void DoesNotDependOnPointOrder(bool single, double tolerance)
    {
        const int count = 800;
        var y = Embedding(Spread.Clusters100, count, seed: 5);
        var order = Enumerable.Range(0, count).ToArray();
        new Random(6).Shuffle(order);
        var permuted = new double[y.Length];
        for (int i = 0; i < count; i++)
        {
            permuted[2 * i] = y[2 * order[i]];
            permuted[2 * i + 1] = y[2 * order[i] + 1];
        }
        using var fft = new FftTsneRepulsion(singlePrecisionFft: single);
        var forces = new double[y.Length];
        var permutedForces = new double[y.Length];
        double z = fft.Compute(y, count, 2, forces);
        double permutedZ = fft.Compute(permuted, count, 2, permutedForces);
        var reordered = new double[y.Length];
        for (int i = 0; i < count; i++)
        {
            reordered[2 * i] = forces[2 * order[i]];
            reordered[2 * i + 1] = forces[2 * order[i] + 1];
        }
        Assert.AreEqual(z, permutedZ, tolerance * z);
        Assert.IsLessThan(tolerance, RelativeError(permutedForces, reordered));
    }

    /// <summary>Points that all coincide (a zero-range box) give F = 0 and Z = n(n − 1), the exact values (Z up to float32 rounding).</summary>
    [TestMethod]
    public void CoincidentPointsGiveTheExactValues()
    {
        const int count = 40;
        var y = new double[2 * count];
        for (int i = 0; i < count; i++)
        {
            y[2 * i] = 3.5;
            y[2 * i + 1] = -1.25;
        }
        using var fft = new FftTsneRepulsion();
        var forces = new double[y.Length];
        double z = fft.Compute(y, count, 2, forces);
        Assert.AreEqual(count * (count - 1.0), z, 1e-5 * count * count);
        Assert.IsTrue(forces.All(f => f == 0), "no repulsion between coincident points (their centred coordinates and charges are 0)");
    }

    private static double RelativeError(double[] actual, double[] expected)
    {
        double difference = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            difference += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Math.Sqrt(difference / norm);
    }

    /// <summary>A random embedding (row-major, count x 2) with the given layout.</summary>
    internal static double[] Embedding(Spread spread, int count, int seed)
    {
        var random = new Random(seed);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var y = new double[2 * count];
        var centres = Enumerable.Range(0, 20).Select(_ => 100 * random.NextDouble()).ToArray();
        for (int i = 0; i < count; i++)
        {
            for (int c = 0; c < 2; c++)
            {
                y[2 * i + c] = spread switch
                {
                    Spread.Initialisation => 1e-4 * Gaussian(),
                    Spread.Uniform5 => 5 * random.NextDouble() - 2,
                    _ => centres[2 * (i % 10) + c] + 3 * Gaussian(),
                };
            }
        }
        return y;
    }
}
