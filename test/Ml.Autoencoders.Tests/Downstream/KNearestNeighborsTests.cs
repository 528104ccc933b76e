using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The k-NN trainer on a tiny hand-checked data set (both metrics, both weightings, the zero-distance and tie rules),
/// through ML.NET's Evaluate, save/load by both routes, and its input errors.
/// </summary>
[TestClass]
public sealed class KNearestNeighborsTests
{
    /// <summary>One training or query row.</summary>
    public sealed class Row
    {
        /// <summary>Two features.</summary>
        [VectorType(2)]
        public float[] Features { get; set; } = [];

        /// <summary>Class name.</summary>
        public string Label { get; set; } = "";
    }

    // Hand-checked distances from the query (1, 0) [and (2.6, 0)]:
    //   r0 (3, 0)     a: Euclidean 2        [0.4]    cosine 0
    //   r1 (0.8, 0.6) b: Euclidean 0.6325   [1.8974] cosine 0.2
    //   r2 (1, 0.9)   b: Euclidean 0.9      [1.8358] cosine 0.2567
    //   r3 (6, 0.6)   a: Euclidean 5.0359   [3.4525] cosine 0.00496
    //   r4 (-1, 0.5)  c: Euclidean 2.0616   [3.6346] cosine 1.8944
    private static readonly Row[] Train =
    [
        new() { Features = [3f, 0f], Label = "a" },
        new() { Features = [0.8f, 0.6f], Label = "b" },
        new() { Features = [1f, 0.9f], Label = "b" },
        new() { Features = [6f, 0.6f], Label = "a" },
        new() { Features = [-1f, 0.5f], Label = "c" },
    ];

    /// <summary>
    /// k = 3, query (1, 0): Euclidean neighbours r1, r2, r0 (b, b, a); cosine neighbours r0, r3, r1 (a, a, b) with r0
    /// at distance 0, so distance weighting gives r0 every vote. Query (2.6, 0), Euclidean: r0 (a, 0.4), r2, r1 (b):
    /// uniform votes b, distance weighting a (2.5 vs 0.5447 + 0.5272).
    /// </summary>
    [TestMethod]
    [DataRow(NeighborMetric.Euclidean, NeighborWeighting.Uniform, 1f, "b", 1 / 3.0, 2 / 3.0)]
    [DataRow(NeighborMetric.Euclidean, NeighborWeighting.Distance, 1f, "b", 0.5 / 3.1922, 2.6922 / 3.1922)]
    [DataRow(NeighborMetric.Cosine, NeighborWeighting.Uniform, 1f, "a", 2 / 3.0, 1 / 3.0)]
    [DataRow(NeighborMetric.Cosine, NeighborWeighting.Distance, 1f, "a", 1.0, 0.0)]
    [DataRow(NeighborMetric.Euclidean, NeighborWeighting.Uniform, 2.6f, "b", 1 / 3.0, 2 / 3.0)]
    [DataRow(NeighborMetric.Euclidean, NeighborWeighting.Distance, 2.6f, "a", 2.5 / 3.5719, 1.0719 / 3.5719)]
    public void HandCheckedVotes(NeighborMetric metric, NeighborWeighting weighting, float queryX, string expected, double scoreA, double scoreB)
    {
        var ml = new MLContext(seed: 1);
        var model = Pipeline(ml, 3, metric, weighting).Fit(ml.Data.LoadFromEnumerable(Train));
        var output = model.Transform(ml.Data.LoadFromEnumerable(new[] { new Row { Features = [queryX, 0f], Label = "a" } }));
        var (scores, predicted) = Read(ml, output);
        Assert.AreEqual(expected, predicted[0]);
        Assert.AreEqual(3, scores[0].Length, "one score per class (a, b, c)");
        Assert.AreEqual(scoreA, scores[0][0], 1e-3, "share of class a");
        Assert.AreEqual(scoreB, scores[0][1], 1e-3, "share of class b");
        Assert.AreEqual(0, scores[0][2], 1e-6, "class c never votes");
    }

    /// <summary>
    /// Equal votes go to the class with the smallest key: k = 2 from (2, 0.3) reaches r0 (a) and r2 (b), one vote each;
    /// with keys by value a wins, with keys in order of occurrence and b first, b wins.
    /// </summary>
    [TestMethod]
    public void EqualVotesGoToTheSmallestKey()
    {
        var ml = new MLContext(seed: 1);
        var query = ml.Data.LoadFromEnumerable(new[] { new Row { Features = [2f, 0.3f], Label = "a" } });
        var byValue = Pipeline(ml, 2, NeighborMetric.Euclidean, NeighborWeighting.Uniform).Fit(ml.Data.LoadFromEnumerable(Train));
        Assert.AreEqual("a", Read(ml, byValue.Transform(query)).Predicted[0]);

        var bFirst = Train.Skip(1).Concat(Train.Take(1)).ToArray();
        var byOccurrence = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence)
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 2))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(ml.Data.LoadFromEnumerable(bFirst));
        Assert.AreEqual("b", ml.Data.CreateEnumerable<Prediction>(byOccurrence.Transform(query), false).Single().PredictedLabel);
    }

    /// <summary>
    /// On three well-separated blobs ML.NET's Evaluate accepts the output and its accuracy equals the accuracy counted
    /// from PredictedLabel; the score column carries the class names as slot names.
    /// </summary>
    [TestMethod]
    public void EvaluateAcceptsTheOutput()
    {
        var ml = new MLContext(seed: 1);
        var train = Blobs(300, seed: 1);
        var test = Blobs(90, seed: 2);
        var model = Pipeline(ml, 5, NeighborMetric.Euclidean, NeighborWeighting.Uniform).Fit(ml.Data.LoadFromEnumerable(train));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(test));
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var (_, predicted) = Read(ml, scored);
        double counted = predicted.Zip(test, (p, r) => p == r.Label ? 1.0 : 0.0).Average();
        Assert.AreEqual(counted, metrics.MicroAccuracy, 1e-9);
        Assert.IsTrue(metrics.MicroAccuracy > 0.95, $"blobs are separable; accuracy {metrics.MicroAccuracy}");
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        CollectionAssert.AreEqual(new[] { "a", "b", "c" }, slots.DenseValues().Select(s => s.ToString()).ToArray());
    }

    /// <summary>The transformer's own file and <c>mlContext.Model.Save</c> both load back to identical scores and predictions.</summary>
    [TestMethod]
    public void SaveAndLoadGiveIdenticalPredictions()
    {
        using var temp = new TempDirectory("knn-tests");
        var ml = new MLContext(seed: 1);
        var trainView = ml.Data.LoadFromEnumerable(Blobs(200, seed: 3));
        var testView = ml.Data.LoadFromEnumerable(Blobs(60, seed: 4));
        var chain = Pipeline(ml, 4, NeighborMetric.Cosine, NeighborWeighting.Distance).Fit(trainView);
        var expected = Read(ml, chain.Transform(testView));

        var knn = chain.OfType<KNearestNeighborsPredictionTransformer>().Single();
        string own = Path.Combine(temp.Path, "knn.bin");
        knn.Save(own);
        var loaded = KNearestNeighborsPredictionTransformer.Load(own);
        Assert.AreEqual(4, loaded.Model.NumberOfNeighbors);
        Assert.AreEqual(NeighborMetric.Cosine, loaded.Model.Metric);
        var keyed = chain.Take(1).Single().Transform(testView);
        var again = Read(ml, ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(loaded.Transform(keyed)).Transform(loaded.Transform(keyed)));
        AssertSame(expected, again);

        string zip = Path.Combine(temp.Path, "model.zip");
        ml.Model.Save(chain, trainView.Schema, zip);
        var reloaded = new MLContext(seed: 2); // its own empty component catalog: Model.Load registers the loaders itself
        var fromZip = reloaded.Model.Load(zip, out _);
        AssertSame(expected, Read(ml, fromZip.Transform(testView)));
    }

    /// <summary>A damaged or truncated model file raises the library's format exception.</summary>
    [TestMethod]
    public void DamagedFilesAreRefused()
    {
        var ml = new MLContext(seed: 1);
        var chain = Pipeline(ml, 3, NeighborMetric.Euclidean, NeighborWeighting.Uniform).Fit(ml.Data.LoadFromEnumerable(Blobs(30, seed: 5)));
        using var buffer = new MemoryStream();
        chain.OfType<KNearestNeighborsPredictionTransformer>().Single().Save(buffer);
        var bytes = buffer.ToArray();
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x40;
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => KNearestNeighborsPredictionTransformer.Load(new MemoryStream(flipped)));
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => KNearestNeighborsPredictionTransformer.Load(new MemoryStream(bytes[..(bytes.Length - 40)])));
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => KNearestNeighborsPredictionTransformer.Load(new MemoryStream(bytes[..3])));
    }

    /// <summary>A label that is not a key, a missing column and a NaN feature are refused with messages naming them.</summary>
    [TestMethod]
    public void BadInputIsRefusedClearly()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Train);
        var notKey = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.MulticlassClassification.Trainers.KNearestNeighbors().Fit(data));
        Assert.AreEqual("Label", notKey.ColumnName);
        StringAssert.Contains(notKey.Message, "MapValueToKey");
        var missing = Assert.ThrowsExactly<AutoencoderSchemaException>(() => Pipeline(ml, 3, NeighborMetric.Euclidean, NeighborWeighting.Uniform, "Pixels").Fit(data));
        Assert.AreEqual("Pixels", missing.ColumnName);
        var withNaN = Train.Select(r => new Row { Features = r.Features.ToArray(), Label = r.Label }).ToArray();
        withNaN[3].Features[1] = float.NaN;
        var nan = Assert.ThrowsExactly<AutoencoderDataException>(() => Pipeline(ml, 3, NeighborMetric.Euclidean, NeighborWeighting.Uniform).Fit(ml.Data.LoadFromEnumerable(withNaN)));
        Assert.AreEqual(3L, nan.Row);
        Assert.ThrowsExactly<AutoencoderDataException>(() => Pipeline(ml, 6, NeighborMetric.Euclidean, NeighborWeighting.Uniform).Fit(data), "k above the row count");
    }

    /// <summary>
    /// Cosine distance with distance weighting on rows queried against themselves: 1 − cos of a row with itself can round
    /// below 0, which must not turn into a negative vote; every score stays in [0, 1] and each row votes for its own class.
    /// </summary>
    [TestMethod]
    public void CosineSelfMatchesNeverVoteNegatively()
    {
        var random = new Random(9);
        var rows = Enumerable.Range(0, 300).Select(i => new WideRow
        {
            Features = Enumerable.Range(0, 20).Select(_ => (float)(random.NextDouble() * 7 - 2)).ToArray(),
            Label = ((char)('a' + i % 3)).ToString(),
        }).ToArray();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var (scores, predicted) = Read(ml, Pipeline(ml, 5, NeighborMetric.Cosine, NeighborWeighting.Distance).Fit(data).Transform(data));
        Assert.IsTrue(scores.SelectMany(s => s).All(v => v >= 0 && v <= 1 + 1e-6), "vote shares lie in [0, 1]");
        CollectionAssert.AreEqual(rows.Select(r => r.Label).ToArray(), predicted, "each row's own (nearest) copy outvotes the rest");
    }

    /// <summary>
    /// A cursor over many small batches (it keeps the neighbour search's product matrix from one batch to the next) gives
    /// exactly <c>Model.Predict</c>'s scores and classes, and disposing it leaves no native tensor behind.
    /// </summary>
    [TestMethod]
    public void ACursorOverManyBatchesEqualsPredictAndFreesItsWorkspace()
    {
        var random = new Random(10);
        var rows = Enumerable.Range(0, 200).Select(i => new WideRow
        {
            Features = Enumerable.Range(0, 20).Select(_ => (float)(random.NextDouble() * 4 + i % 4)).ToArray(),
            Label = ((char)('a' + i % 4)).ToString(),
        }).ToArray();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var knn = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 5)).Fit(data).LastTransformer;
        knn.TransformBatchSize = 7;
        var (expectedScores, expectedClasses) = knn.Model.Predict(rows.SelectMany(r => r.Features).ToArray(), rows.Length);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var scored = knn.Transform(data);
        using (var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name is "Score" or "PredictedLabel")))
        {
            var scoreGetter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            var keyGetter = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
            VBuffer<float> score = default;
            uint key = 0;
            int row = 0;
            while (cursor.MoveNext())
            {
                scoreGetter(ref score);
                keyGetter(ref key);
                CollectionAssert.AreEqual(expectedScores.AsSpan(row * knn.Model.ClassCount, knn.Model.ClassCount).ToArray(), score.DenseValues().ToArray(), $"row {row}");
                Assert.AreEqual(expectedClasses[row] + 1, (int)key, $"row {row}");
                row++;
            }
            Assert.AreEqual(rows.Length, row);
        }
        Assert.AreEqual(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount, "the cursor's workspace is freed with it");
    }

    /// <summary>A row with 20 features.</summary>
    public sealed class WideRow
    {
        /// <summary>Twenty features.</summary>
        [VectorType(20)]
        public float[] Features { get; set; } = [];

        /// <summary>Class name.</summary>
        public string Label { get; set; } = "";
    }

    /// <summary>The predicted label as text.</summary>
    public sealed class Prediction
    {
        /// <summary>Predicted class name.</summary>
        public string PredictedLabel { get; set; } = "";
    }

    private static EstimatorChain<ITransformer> Pipeline(MLContext ml, int k, NeighborMetric metric, NeighborWeighting weighting, string features = "Features") =>
        ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors(featureColumnName: features, numberOfNeighbors: k, metric: metric, weighting: weighting))
            .Append<ITransformer>(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    private static (float[][] Scores, string[] Predicted) Read(MLContext ml, IDataView scored)
    {
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        return (scores, predicted);
    }

    private static void AssertSame((float[][] Scores, string[] Predicted) expected, (float[][] Scores, string[] Predicted) actual)
    {
        CollectionAssert.AreEqual(expected.Predicted, actual.Predicted);
        for (int i = 0; i < expected.Scores.Length; i++) CollectionAssert.AreEqual(expected.Scores[i], actual.Scores[i], $"row {i}");
    }

    private static Row[] Blobs(int count, int seed)
    {
        var random = new Random(seed);
        string[] names = ["a", "b", "c"];
        float[][] centres = [[0, 0], [6, 0], [0, 6]];
        return Enumerable.Range(0, count).Select(i =>
        {
            int c = i % 3;
            return new Row { Features = [centres[c][0] + (float)Synthetic.Gaussian(random), centres[c][1] + (float)Synthetic.Gaussian(random)], Label = names[c] };
        }).ToArray();
    }
}
