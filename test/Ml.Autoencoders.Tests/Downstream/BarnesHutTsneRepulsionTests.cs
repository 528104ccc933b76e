using Ml.Autoencoders.Embedding;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The Barnes-Hut t-SNE repulsion equals the exact O(n²) sum at θ = 0, stays close to it at θ = 0.5, survives
/// coincident points, reuses its buffers correctly and refuses bad arguments.
/// </summary>
[TestClass]
public sealed class BarnesHutTsneRepulsionTests
{
    /// <summary>With θ = 0 no cell is summarised: Z and every force equal the exact sums up to rounding.</summary>
    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    public void ThetaZeroIsExact(int dimensions)
    {
        const int n = 400;
        var y = Clustered(n, dimensions, seed: 11);
        var (zExact, fExact) = Exact(y, n, dimensions);
        var forces = new double[n * dimensions];
        double z = new BarnesHutTsneRepulsion(0).Compute(y, n, dimensions, forces);
        Assert.AreEqual(zExact, z, 1e-9 * zExact, "Z");
        double scale = fExact.Max(Math.Abs);
        for (int k = 0; k < forces.Length; k++)
            Assert.AreEqual(fExact[k], forces[k], 1e-9 * scale, $"force value {k}");
    }

    /// <summary>
    /// With θ = 0.5 on clustered embeddings shaped like t-SNE output, Z and F agree with the exact sums
    /// (measured on these data: Z relative error 1.1e-3 to 2.8e-3, ‖ΔF‖/‖F‖ 2.6e-3 to 8.0e-3; 2-D n = 2000 reaches
    /// 4.1e-3 and 1.2e-2; the bounds leave a margin).
    /// </summary>
    [TestMethod]
    [DataRow(2, 1500, 21)]
    [DataRow(3, 1500, 22)]
    [DataRow(2, 600, 23)]
    public void ThetaHalfIsClose(int dimensions, int n, int seed)
    {
        var y = Clustered(n, dimensions, seed);
        var (zExact, fExact) = Exact(y, n, dimensions);
        var forces = new double[n * dimensions];
        double z = new BarnesHutTsneRepulsion(0.5).Compute(y, n, dimensions, forces);
        Assert.IsLessThan(1e-2, Math.Abs(z - zExact) / zExact, "relative error of Z");
        Assert.IsLessThan(2.5e-2, RelativeError(forces, fExact), "relative error of F");
    }

    /// <summary>
    /// One hundred copies of one point among other points (and an embedding that is all one point) end the tree
    /// at its depth cap: the call finishes, equals the exact sums at θ = 0 and stays close at θ = 0.5 (measured:
    /// Z within 5e-4 and F within 2e-3 relative, 1-D being the worst).
    /// </summary>
    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    public void DuplicatePointsFinishAndMatchExact(int dimensions)
    {
        const int others = 200, copies = 100, n = others + copies;
        var y = new double[n * dimensions];
        Clustered(others, dimensions, seed: 31).CopyTo(y, 0);
        for (int i = others; i < n; i++)
            for (int c = 0; c < dimensions; c++) y[i * dimensions + c] = 12.5 + c;
        var (zExact, fExact) = Exact(y, n, dimensions);
        var forces = new double[n * dimensions];

        double z0 = new BarnesHutTsneRepulsion(0).Compute(y, n, dimensions, forces);
        Assert.AreEqual(zExact, z0, 1e-9 * zExact, "Z at theta 0");
        Assert.IsLessThan(1e-9, RelativeError(forces, fExact), "F at theta 0");

        double z5 = new BarnesHutTsneRepulsion(0.5).Compute(y, n, dimensions, forces);
        Assert.IsLessThan(1e-2, Math.Abs(z5 - zExact) / zExact, "Z at theta 0.5");
        Assert.IsLessThan(2.5e-2, RelativeError(forces, fExact), "F at theta 0.5");

        var same = Enumerable.Repeat(3.25, copies * dimensions).ToArray();
        var sameForces = new double[same.Length];
        double zSame = new BarnesHutTsneRepulsion(0.5).Compute(same, copies, dimensions, sameForces);
        Assert.AreEqual(copies * (copies - 1.0), zSame, "Z of coincident points: every pair has weight 1");
        Assert.IsTrue(sameForces.All(f => f == 0), "coincident points push nothing");
    }

    /// <summary>One instance reused across calls of different sizes and dimensions gives what a fresh one gives.</summary>
    [TestMethod]
    public void ReusedInstanceMatchesFreshInstances()
    {
        var reused = new BarnesHutTsneRepulsion(0.5);
        foreach (var (n, dimensions, seed) in new[] { (900, 2, 41), (150, 3, 42), (700, 1, 43), (120, 2, 44) })
        {
            var y = Clustered(n, dimensions, seed);
            var expected = new double[n * dimensions];
            var actual = new double[n * dimensions];
            double zExpected = new BarnesHutTsneRepulsion(0.5).Compute(y, n, dimensions, expected);
            double zActual = reused.Compute(y, n, dimensions, actual);
            Assert.AreEqual(zExpected, zActual, $"Z, n = {n}");
            CollectionAssert.AreEqual(expected, actual, $"forces, n = {n}");
        }
    }

    /// <summary>Negative or non-finite θ, four dimensions, one point and wrongly sized spans are refused.</summary>
    [TestMethod]
    public void BadArgumentsAreRefused()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BarnesHutTsneRepulsion(-0.1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BarnesHutTsneRepulsion(double.NaN));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BarnesHutTsneRepulsion(double.PositiveInfinity));
        var bh = new BarnesHutTsneRepulsion();
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => bh.Compute(new double[20], 5, 4, new double[20]));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => bh.Compute(new double[2], 1, 2, new double[2]));
        Assert.ThrowsExactly<ArgumentException>(() => bh.Compute(new double[9], 5, 2, new double[10]));
        Assert.ThrowsExactly<ArgumentException>(() => bh.Compute(new double[10], 5, 2, new double[9]));
    }

    /// <summary>Ten Gaussian clusters (standard deviation 3) with centres spread over a 100-wide box.</summary>
    private static double[] Clustered(int n, int dimensions, int seed)
    {
        var random = new Random(seed);
        var centres = new double[10, dimensions];
        for (int k = 0; k < 10; k++)
            for (int c = 0; c < dimensions; c++) centres[k, c] = 100 * random.NextDouble() - 50;
        var y = new double[n * dimensions];
        for (int i = 0; i < n; i++)
        {
            int k = random.Next(10);
            for (int c = 0; c < dimensions; c++) y[i * dimensions + c] = centres[k, c] + 3 * Synthetic.Gaussian(random);
        }
        return y;
    }

    private static (double Z, double[] Forces) Exact(double[] y, int n, int dimensions)
    {
        var forces = new double[n * dimensions];
        double z = new ExactTsneRepulsion().Compute(y, n, dimensions, forces);
        return (z, forces);
    }

    /// <summary>‖a − b‖ / ‖b‖ over all values.</summary>
    private static double RelativeError(double[] a, double[] b)
    {
        double diff = 0, norm = 0;
        for (int k = 0; k < a.Length; k++)
        {
            diff += (a[k] - b[k]) * (a[k] - b[k]);
            norm += b[k] * b[k];
        }
        return Math.Sqrt(diff / norm);
    }
}
