using Ml.Autoencoders.Neighbors;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The batched exact k-NN search agrees with a naive loop, by both metrics, across chunk sizes, with and without the
/// bfloat16 screening of Euclidean queries (forced on here whatever the CPU: the answer must stay exact).
/// </summary>
[TestClass]
public sealed class NearestNeighborIndexTests
{
    /// <summary>Distances and neighbours equal a brute-force double-precision loop (random data: no exact ties).</summary>
    [TestMethod]
    [DataRow(false, 7, false)]
    [DataRow(false, 1000, false)]
    [DataRow(false, 7, true)]
    [DataRow(false, 1000, true)]
    [DataRow(false, 1000, null)]
    [DataRow(true, 5, null)]
    public void MatchesANaiveLoop(bool cosine, int chunkRows, bool? reducedPrecision)
    {
        var metric = cosine ? NeighborMetric.Cosine : NeighborMetric.Euclidean;
        var train = Synthetic.LowRank(200, 9, 9, seed: 3, squash: false);
        var queries = Synthetic.LowRank(23, 9, 9, seed: 4, squash: false);
        const int k = 5;
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train), train.Length, 9, metric, reducedPrecision: reducedPrecision);
        if (reducedPrecision is bool forced) Assert.AreEqual(forced, index.UsesReducedPrecision);
        var (distances, indices) = index.Query(Synthetic.Flatten(queries), queries.Length, k, chunkRows);
        for (int q = 0; q < queries.Length; q++)
        {
            var expected = train.Select((t, i) => (Distance: Distance(queries[q], t, metric), Index: i)).OrderBy(p => p.Distance).Take(k).ToArray();
            for (int j = 0; j < k; j++)
            {
                Assert.AreEqual(expected[j].Index, indices[q * k + j], $"query {q}, neighbour {j}");
                Assert.AreEqual(expected[j].Distance, distances[q * k + j], 1e-4, $"query {q}, neighbour {j} distance");
            }
        }
    }

    /// <summary>A training row is its own nearest neighbour at distance 0; bad k and sizes are refused.</summary>
    [TestMethod]
    public void TrainingRowsFindThemselvesAndBadArgumentsAreRefused()
    {
        var train = Synthetic.LowRank(50, 6, 6, seed: 5, squash: false);
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train), train.Length, 6, NeighborMetric.Euclidean);
        var (distances, indices) = index.Query(Synthetic.Flatten(train), train.Length, 1);
        CollectionAssert.AreEqual(Enumerable.Range(0, train.Length).ToArray(), indices);
        Assert.IsTrue(distances.All(d => d == 0), "a row is at distance exactly 0 from itself (the chosen distances are recomputed directly)");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => index.Query(Synthetic.Flatten(train), train.Length, 51));
        Assert.ThrowsExactly<ArgumentException>(() => index.Query(new float[7], 1, 1));
    }

    /// <summary>
    /// The bfloat16 screen returns exactly the naive loop's neighbours (smaller row first on equal distances) on data
    /// built to trap it: a large common offset, exact duplicates, and near-ties one float32 step apart — far below
    /// bfloat16's resolution, so only the exact recomputation can order them.
    /// </summary>
    [TestMethod]
    [DataRow(1, 64)]
    [DataRow(7, 5)]
    public void ReducedPrecisionIsExactOnNearTies(int k, int chunkRows)
    {
        const int features = 24;
        var random = new Random(11);
        var train = new List<float[]>();
        for (int i = 0; i < 300; i++)
            train.Add(Enumerable.Range(0, features).Select(_ => (float)(1000 + Synthetic.Gaussian(random))).ToArray());
        for (int i = 0; i < 100; i++)
        {
            var source = train[random.Next(train.Count)];
            var copy = (float[])source.Clone();
            int f = random.Next(features);
            if (i % 3 != 0) copy[f] = i % 2 == 0 ? MathF.BitIncrement(copy[f]) : MathF.BitDecrement(copy[f]);
            train.Insert(random.Next(train.Count + 1), copy); // exact duplicates (i % 3 == 0) and one-step neighbours
        }
        var queries = new List<float[]>();
        for (int i = 0; i < 60; i++)
        {
            var source = train[random.Next(train.Count)];
            double scale = i % 2 == 0 ? 1e-3 : 0.3;
            queries.Add(source.Select(v => (float)(v + scale * Synthetic.Gaussian(random))).ToArray());
        }
        queries.Add(train[5]);
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train.ToArray()), train.Count, features, NeighborMetric.Euclidean, reducedPrecision: true);
        Assert.IsTrue(index.UsesReducedPrecision);
        var (distances, indices) = index.Query(Synthetic.Flatten(queries.ToArray()), queries.Count, k, chunkRows);
        AssertExact(train, queries, k, distances, indices);
        Assert.AreEqual(queries.Count, index.LastStatistics.Rows);
    }

    /// <summary>
    /// Where the bfloat16 bound cannot separate the rows (hundreds at almost the same distance) the row goes to the
    /// float32 screen and the answer is still exact; a query with an infinite value takes the plain float32 path.
    /// </summary>
    [TestMethod]
    public void RowsTheBoundCannotSettleFallBackAndStayExact()
    {
        const int features = 16, k = 4;
        var random = new Random(12);
        var centre = Enumerable.Range(0, features).Select(_ => (float)Synthetic.Gaussian(random)).ToArray();
        var train = new List<float[]>();
        for (int i = 0; i < 400; i++)
        {
            // A shell of radius 10 ± 1e-4 around the centre: bfloat16 sees one distance, float64 sees 400.
            var direction = Enumerable.Range(0, features).Select(_ => Synthetic.Gaussian(random)).ToArray();
            double norm = Math.Sqrt(direction.Sum(v => v * v)), radius = 10 * (1 + 1e-5 * random.NextDouble());
            train.Add(centre.Select((c, f) => (float)(c + radius * direction[f] / norm)).ToArray());
        }
        for (int i = 0; i < 100; i++)
            train.Add(centre.Select(c => (float)(c + 30 * Synthetic.Gaussian(random))).ToArray());
        var queries = new List<float[]> { centre, centre.Select(c => c + 1e-3f).ToArray() };
        queries.AddRange(train.Take(3).Select(t => t.Select(v => v + 0.01f).ToArray()));
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train.ToArray()), train.Count, features, NeighborMetric.Euclidean, reducedPrecision: true);
        index.ScreeningExactLimit = 16;
        var (distances, indices) = index.Query(Synthetic.Flatten(queries.ToArray()), queries.Count, k);
        AssertExact(train, queries, k, distances, indices);
        var stats = index.LastStatistics;
        Assert.IsGreaterThanOrEqualTo(2, stats.FallbackRows, $"the shell's centre cannot be settled in bfloat16: {stats}");
        Assert.IsGreaterThan(0L, stats.FallbackExactDistances, stats.ToString());

        var odd = (float[])centre.Clone();
        odd[3] = float.PositiveInfinity;
        queries.Add(odd);
        (distances, indices) = index.Query(Synthetic.Flatten(queries.ToArray()), queries.Count, k);
        Assert.AreEqual(1, index.LastStatistics.DenseRows);
        AssertExact(train, queries.Take(queries.Count - 1).ToList(), k, distances, indices);
    }

    /// <summary>
    /// A workspace (what a cursor keeps between its batches) gives the same neighbours and distances as fresh memory on
    /// every call, for calls of growing and shrinking size, holds one tensor however many calls use it, and frees it.
    /// </summary>
    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void AWorkspaceGivesTheSameAnswerAndKeepsOneTensor(bool reducedPrecision)
    {
        const int features = 12, k = 3;
        var train = Synthetic.LowRank(300, features, features, seed: 7, squash: false);
        var queries = Synthetic.LowRank(90, features, features, seed: 8, squash: false);
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train), train.Length, features, NeighborMetric.Euclidean, reducedPrecision: reducedPrecision);
        Assert.AreEqual(reducedPrecision, index.UsesReducedPrecision);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var workspace = new NearestNeighborIndex.QueryWorkspace();
        int start = 0;
        foreach (int n in new[] { 16, 16, 40, 5, 13 })
        {
            var batch = Synthetic.Flatten(queries.Skip(start).Take(n).ToArray());
            var (freshDistances, freshIndices) = index.Query(batch, n, k, chunkRows: 32);
            var (distances, indices) = index.Query(batch, n, k, chunkRows: 32, workspace: workspace);
            CollectionAssert.AreEqual(freshIndices, indices, $"rows {start}..{start + n}");
            CollectionAssert.AreEqual(freshDistances, distances, $"rows {start}..{start + n}");
            long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
            Assert.IsLessThanOrEqualTo(reducedPrecision ? 1L : 0L, live, $"live tensors after a call of {n} rows");
            start += n;
        }
        workspace.Dispose();
        Assert.AreEqual(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount, "the workspace frees its tensor");
        if (reducedPrecision) // the float32 path keeps no product between calls
            Assert.ThrowsExactly<ObjectDisposedException>(() => index.Query(Synthetic.Flatten(queries.Take(2).ToArray()), 2, k, workspace: workspace), "a disposed workspace is not reused");
    }

    /// <summary>The reduced-precision switch refuses what it cannot serve.</summary>
    [TestMethod]
    public void ReducedPrecisionIsEuclideanOnly()
    {
        var train = Synthetic.LowRank(20, 4, 4, seed: 6, squash: false);
        Assert.ThrowsExactly<ArgumentException>(() => new NearestNeighborIndex(Synthetic.Flatten(train), train.Length, 4, NeighborMetric.Cosine, reducedPrecision: true));
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train), train.Length, 4, NeighborMetric.Euclidean, reducedPrecision: false);
        Assert.IsFalse(index.UsesReducedPrecision);
    }

    /// <summary>The answer equals a naive float64 loop, ties to the smaller training row (distances to float32 rounding).</summary>
    private static void AssertExact(IReadOnlyList<float[]> train, IReadOnlyList<float[]> queries, int k, float[] distances, int[] indices)
    {
        for (int q = 0; q < queries.Count; q++)
        {
            var expected = train.Select((t, i) => (Distance: Distance(queries[q], t, NeighborMetric.Euclidean), Index: i))
                .OrderBy(p => p.Distance).ThenBy(p => p.Index).Take(k).ToArray();
            for (int j = 0; j < k; j++)
            {
                Assert.AreEqual(expected[j].Index, indices[q * k + j], $"query {q}, neighbour {j}");
                Assert.AreEqual(expected[j].Distance, distances[q * k + j], 1e-6 * (1 + expected[j].Distance), $"query {q}, neighbour {j} distance");
            }
        }
    }

    private static double Distance(float[] a, float[] b, NeighborMetric metric)
    {
        if (metric == NeighborMetric.Euclidean)
            return Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());
        double dot = a.Zip(b, (x, y) => (double)x * y).Sum();
        double na = Math.Sqrt(a.Sum(x => (double)x * x)), nb = Math.Sqrt(b.Sum(x => (double)x * x));
        return 1 - dot / (na * nb);
    }
}
