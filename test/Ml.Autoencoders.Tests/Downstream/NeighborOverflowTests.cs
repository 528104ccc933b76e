using Microsoft.ML;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Neighbors;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// k-NN on finite values large enough to overflow float32 arithmetic (around 1e20: squares pass float.MaxValue), and
/// the array APIs refusing NaN and infinity as Transform does.
/// </summary>
[TestClass]
public sealed class NeighborOverflowTests
{
    private static readonly string[] Names = ["a", "b", "c"];

    /// <summary>
    /// Three classes of ten rows, 2 features of magnitude about 1e20. Euclidean: class c centred at 1e21 x (c, 0.1);
    /// cosine: row i points at 3i degrees (rows 3 degrees apart), its length 1e20 x (1 + i mod 5).
    /// </summary>
    private static KNearestNeighborsTests.Row[] HugeRows(NeighborMetric metric = NeighborMetric.Euclidean)
    {
        var random = new Random(5);
        return Enumerable.Range(0, 30).Select(i => new KNearestNeighborsTests.Row
        {
            Features = metric == NeighborMetric.Euclidean
                ? [(float)(1e20 * (10 * (i % 3) + Synthetic.Gaussian(random))), (float)(1e20 * (1 + Synthetic.Gaussian(random)))]
                : [(float)(1e20 * (1 + i % 5) * Math.Cos(i * Math.PI / 60)), (float)(1e20 * (1 + i % 5) * Math.Sin(i * Math.PI / 60))],
            Label = Names[i % 3],
        }).ToArray();
    }

    private static KNearestNeighborsModel Fit(MLContext ml, KNearestNeighborsTests.Row[] rows, NeighborMetric metric, NeighborWeighting weighting, int k = 3)
    {
        var chain = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: k, metric: metric, weighting: weighting))
            .Fit(ml.Data.LoadFromEnumerable(rows));
        return chain.LastTransformer.Model;
    }

    /// <summary>
    /// Training rows around 1e20 and queries a hair away from rows 4, 17 and 29: the nearest neighbour is that row
    /// (finite distances), the prediction is its class, and the scores are finite and sum to 1, with distance weighting
    /// on and off and for both metrics. Before, float32 squares overflowed: infinite distances, arbitrary neighbours,
    /// and NaN scores with distance weighting.
    /// </summary>
    [TestMethod]
    [DataRow(NeighborMetric.Euclidean, NeighborWeighting.Uniform)]
    [DataRow(NeighborMetric.Euclidean, NeighborWeighting.Distance)]
    [DataRow(NeighborMetric.Cosine, NeighborWeighting.Uniform)]
    [DataRow(NeighborMetric.Cosine, NeighborWeighting.Distance)]
    public void HugeFiniteRowsFindTheirNearestNeighbour(NeighborMetric metric, NeighborWeighting weighting)
    {
        var ml = new MLContext(seed: 1);
        var rows = HugeRows(metric);
        using var model = Fit(ml, rows, metric, weighting, k: metric == NeighborMetric.Cosine ? 1 : 3);
        int[] near = [4, 17, 29];
        var queries = near.SelectMany(j => new[] { rows[j].Features[0] * 1.000001f, rows[j].Features[1] * 0.999999f }).ToArray();
        var (distances, neighbours) = model.FindNeighbors(queries, near.Length);
        int k = model.NumberOfNeighbors;
        for (int q = 0; q < near.Length; q++)
        {
            Assert.AreEqual(near[q], neighbours[q * k], $"query {q}: the row it was made from is nearest");
            for (int j = 0; j < k; j++) Assert.IsTrue(float.IsFinite(distances[q * k + j]), $"query {q}, neighbour {j}: distance {distances[q * k + j]}");
        }
        var (scores, classes) = model.Predict(queries, near.Length);
        for (int q = 0; q < near.Length; q++)
        {
            var share = scores.AsSpan(q * 3, 3).ToArray();
            Assert.IsTrue(share.All(float.IsFinite), $"query {q}: scores {string.Join(", ", share)}");
            Assert.AreEqual(1.0, share.Sum(), 1e-5, $"query {q}: scores sum to 1");
            Assert.AreEqual(near[q] % 3, classes[q], $"query {q}: the class of row {near[q]}");
        }
    }

    /// <summary>
    /// Rows near the float32 limit (1e38, -1e38): a distance of about 2.8e38 is still finite and the query at 1e38 finds
    /// its own row; a chunk that mixes ordinary rows with huge ones gives the ordinary rows exactly the answer they get
    /// alone (only the huge rows take the wider path), also where the index screens with bfloat16 products.
    /// </summary>
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void HugeQueriesLeaveOrdinaryRowsOfTheirChunkAlone(bool reducedPrecision)
    {
        var ordinary = Synthetic.LowRank(200, 6, 3, seed: 8, squash: false);
        using var index = new NearestNeighborIndex(Synthetic.Flatten(ordinary), 200, 6, NeighborMetric.Euclidean, reducedPrecision: reducedPrecision);
        var plain = Synthetic.Flatten(ordinary.Take(5).ToArray());
        var (alone, aloneRows) = index.Query(plain, 5, 4);
        var mixed = plain.Concat(Enumerable.Repeat(1e20f, 6)).Concat(Enumerable.Repeat(-3e38f, 6)).ToArray();
        var (distances, rows) = index.Query(mixed, 7, 4);
        CollectionAssert.AreEqual(alone, distances[..20], "ordinary rows: the same distances as alone");
        CollectionAssert.AreEqual(aloneRows, rows[..20], "ordinary rows: the same neighbours as alone");
        Assert.IsTrue(distances.All(float.IsFinite), string.Join(", ", distances[20..]));

        float[] extremes = [1e38f, 1e38f, -1e38f, -1e38f, 0f, 1f];
        using var wide = new NearestNeighborIndex(extremes, 3, 2, NeighborMetric.Euclidean);
        var (far, farRows) = wide.Query([1e38f, 1e38f], 1, 3);
        Assert.AreEqual(0, farRows[0]);
        Assert.AreEqual(0f, far[0]);
        Assert.AreEqual(1.4142135e38f, far[1], 1e32f, "the distance to (1, 0) is √2 x 1e38");
        Assert.AreEqual(2.828427e38f, far[2], 1e32f, "the distance to (-1e38, -1e38) is 2√2 x 1e38, still finite");
    }

    /// <summary>
    /// Predict with a NaN row used to return 1/3 for each class and class 0; FindNeighbors and Predict now refuse NaN and
    /// infinity with the error Transform gives (AutoencoderDataException naming the row, the index and the value).
    /// </summary>
    [TestMethod]
    public void ArrayApisRefuseNonFiniteRows()
    {
        var ml = new MLContext(seed: 1);
        using var model = Fit(ml, HugeRows(), NeighborMetric.Euclidean, NeighborWeighting.Uniform);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float[] rows = [1f, 2f, 3f, bad];
            var predict = Assert.ThrowsExactly<AutoencoderDataException>(() => model.Predict(rows, 2), $"value {bad}");
            Assert.AreEqual(1L, predict.Row);
            StringAssert.Contains(predict.Message, "Row 1");
            StringAssert.Contains(predict.Message, "index 1");
            StringAssert.Contains(predict.Message, bad.ToString());
            var find = Assert.ThrowsExactly<AutoencoderDataException>(() => model.FindNeighbors(rows, 2));
            Assert.AreEqual(1L, find.Row);
        }
    }
}
