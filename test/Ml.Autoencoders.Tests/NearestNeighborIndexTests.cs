using Ml.Autoencoders.Neighbors;

namespace Ml.Autoencoders.Tests;

/// <summary>The batched exact k-NN search agrees with a naive loop, by both metrics, across chunk sizes.</summary>
[TestClass]
public sealed class NearestNeighborIndexTests
{
    /// <summary>Distances and neighbours equal a brute-force double-precision loop (random data: no exact ties).</summary>
    [TestMethod]
    [DataRow(false, 7)]
    [DataRow(false, 1000)]
    [DataRow(true, 5)]
    public void MatchesANaiveLoop(bool cosine, int chunkRows)
    {
        var metric = cosine ? NeighborMetric.Cosine : NeighborMetric.Euclidean;
        var train = Synthetic.LowRank(200, 9, 9, seed: 3, squash: false);
        var queries = Synthetic.LowRank(23, 9, 9, seed: 4, squash: false);
        const int k = 5;
        using var index = new NearestNeighborIndex(Synthetic.Flatten(train), train.Length, 9, metric);
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

    private static double Distance(float[] a, float[] b, NeighborMetric metric)
    {
        if (metric == NeighborMetric.Euclidean)
            return Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());
        double dot = a.Zip(b, (x, y) => (double)x * y).Sum();
        double na = Math.Sqrt(a.Sum(x => (double)x * x)), nb = Math.Sqrt(b.Sum(x => (double)x * x));
        return 1 - dot / (na * nb);
    }
}
