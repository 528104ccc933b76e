using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// t-SNE: separated clusters stay separated by every gradient method, seeded runs repeat exactly, accelerated gradients
/// agree with exact ones, new rows land beside their input neighbours, save/load, progress and bad input.
/// </summary>
[TestClass]
public sealed class TsneTests
{
    /// <summary>
    /// Five Gaussian blobs in 20-d: each point's nearest neighbour in the embedding is from its own blob (≥ 99%),
    /// trustworthiness is high, with exact gradients, Barnes-Hut in 2-d and 3-d, and FFT interpolation.
    /// </summary>
    [TestMethod]
    [DataRow(TsneGradientMethod.Exact, 2)]
    [DataRow(TsneGradientMethod.BarnesHut, 2)]
    [DataRow(TsneGradientMethod.BarnesHut, 3)]
    [DataRow(TsneGradientMethod.FftInterpolation, 2)]
    public void SeparatedClustersStaySeparated(TsneGradientMethod method, int dimensions)
    {
        var (rows, blob) = Blobs(300, 20, 5, seed: 1);
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(rows);
        var options = new TsneOptions { Method = method, Dimensions = dimensions, Perplexity = 20, Iterations = 400, EarlyExaggerationIterations = 150 };
        var model = ml.Transforms.ProjectToTsne(options).Fit(data);
        Assert.AreEqual(method, model.Method);
        var embedding = Flatten(model.Transform(data).GetColumn<float[]>("Tsne").ToArray());
        double sameBlob = NearestNeighbourAgreement(embedding, dimensions, blob);
        Assert.IsTrue(sameBlob >= 0.99, $"{method}: nearest embedding neighbour in the same blob for {sameBlob:P1}");
        double trust = EmbeddingQuality.Trustworthiness(Synthetic.Flatten(rows), 20, embedding, dimensions, 10);
        Assert.IsTrue(trust > 0.9, $"{method}: trustworthiness {trust}");
        CollectionAssert.AreEqual(model.GetTrainingEmbedding(), embedding, "the training rows get their fitted coordinates");
    }

    /// <summary>Random initialisation with one seed repeats bit for bit; another seed gives another embedding.</summary>
    [TestMethod]
    [DataRow(TsneGradientMethod.Exact)]
    [DataRow(TsneGradientMethod.FftInterpolation)]
    public void SeededRunsRepeat(TsneGradientMethod method)
    {
        var (rows, _) = Blobs(150, 8, 3, seed: 2);
        float[] Run(int seed)
        {
            var ml = new MLContext(seed: 1);
            var options = new TsneOptions { Method = method, Initialization = TsneInitialization.Random, Seed = seed, Perplexity = 10, Iterations = 120, EarlyExaggerationIterations = 50 };
            return ml.Transforms.ProjectToTsne(options).Fit(ml.ToDataView(rows)).GetTrainingEmbedding();
        }
        var first = Run(7);
        CollectionAssert.AreEqual(first, Run(7));
        CollectionAssert.AreNotEqual(first, Run(8));
    }

    /// <summary>
    /// On one sparse P and one embedding (mid-optimisation spread), the Barnes-Hut and FFT gradients are within 2% (Barnes-Hut) and 3.5% (FFT) of
    /// the exact gradient (relative L2) and report the same KL divergence within 1%.
    /// </summary>
    [TestMethod]
    public void AcceleratedGradientsAgreeWithExact()
    {
        var (rows, _) = Blobs(800, 10, 4, seed: 3);
        int n = rows.Length, k = 31;
        using var index = new Neighbors.NearestNeighborIndex(Synthetic.Flatten(rows), n, 10, Neighbors.NeighborMetric.Euclidean);
        var (d, nb) = TsneAffinities.NearestOthers(index, Synthetic.Flatten(rows), n, k);
        var p = TsneAffinities.FromNeighbors(d, nb, n, k, 10);
        Assert.AreEqual(1.0, p.Values.Sum(), 1e-9, "P sums to 1");
        var random = new Random(4);
        var y = new double[n * 2];
        for (int i = 0; i < n; i++)
        {
            y[2 * i] = 10 * (i % 4) + 3 * Synthetic.Gaussian(random);
            y[2 * i + 1] = -8 * (i % 3) + 3 * Synthetic.Gaussian(random);
        }
        double[] Gradient(ITsneRepulsion repulsion, out double kl)
        {
            var g = new double[y.Length];
            kl = new TsneOptimizer(p, 2, repulsion).Gradient(y, 1, g, withKl: true);
            return g;
        }
        var exact = Gradient(new ExactTsneRepulsion(), out double klExact);
        // Measured: Barnes-Hut (theta 0.5) 1.1%, FFT at FIt-SNE's default grid (1 interval per unit, 3 nodes) 2.4%.
        using var fft = new FftTsneRepulsion();
        foreach (var (name, repulsion, bound) in new (string, ITsneRepulsion, double)[] { ("Barnes-Hut", new BarnesHutTsneRepulsion(0.5), 0.02), ("FFT", fft, 0.035) })
        {
            var approx = Gradient(repulsion, out double kl);
            double diff = Math.Sqrt(exact.Zip(approx, (a, b) => (a - b) * (a - b)).Sum()), norm = Math.Sqrt(exact.Sum(a => a * a));
            Assert.IsTrue(diff / norm < bound, $"{name}: relative gradient error {diff / norm}");
            Assert.AreEqual(klExact, kl, 0.01 * klExact, $"{name}: KL");
        }
    }

    /// <summary>
    /// New rows from the same blobs, placed against the fitted embedding, land beside their input-space nearest training
    /// neighbour: in its blob's region (nearest training point in the embedding from the same blob for ≥ 95%) and
    /// within a small fraction of the embedding's extent of that neighbour for most rows.
    /// </summary>
    [TestMethod]
    public void NewRowsLandNearTheirNeighbours()
    {
        var (rows, blob) = Blobs(400, 12, 4, seed: 5);
        var train = rows.Take(300).ToArray();
        var fresh = rows.Skip(300).ToArray();
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 20, Iterations = 400 }).Fit(ml.ToDataView(train));
        var trained = model.GetTrainingEmbedding();
        var placed = Flatten(model.Transform(ml.ToDataView(fresh)).GetColumn<float[]>("Tsne").ToArray());
        double extent = Extent(trained);
        int sameBlob = 0, close = 0;
        for (int i = 0; i < fresh.Length; i++)
        {
            int inputNearest = Nearest(fresh[i], train);
            int embeddedNearest = NearestPoint(placed[2 * i], placed[2 * i + 1], trained);
            if (blob[embeddedNearest] == blob[300 + i]) sameBlob++;
            double dx = placed[2 * i] - trained[2 * inputNearest], dy = placed[2 * i + 1] - trained[2 * inputNearest + 1];
            if (Math.Sqrt(dx * dx + dy * dy) < 0.1 * extent) close++;
        }
        Assert.IsTrue(sameBlob >= 0.95 * fresh.Length, $"{sameBlob}/{fresh.Length} placed in their blob's region");
        Assert.IsTrue(close >= 0.9 * fresh.Length, $"{close}/{fresh.Length} within 10% of the extent of their input neighbour");
        var single = model.Place(fresh[0], 1);
        CollectionAssert.AreEqual(placed.Take(2).ToArray(), single, "a row's place does not depend on the rows placed with it");
    }

    /// <summary>Own file and <c>mlContext.Model.Save</c> load back to identical coordinates for training and new rows.</summary>
    [TestMethod]
    public void SaveAndLoadGiveIdenticalCoordinates()
    {
        using var temp = new TempDirectory("tsne-tests");
        var (rows, _) = Blobs(120, 6, 3, seed: 6);
        var ml = new MLContext(seed: 1);
        var train = ml.ToDataView(rows.Take(100).ToArray());
        var fresh = ml.ToDataView(rows.Skip(100).ToArray());
        var model = ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 10, Iterations = 100, EarlyExaggerationIterations = 40 }).Fit(train);
        float[][] Coordinates(ITransformer t, IDataView d) => t.Transform(d).GetColumn<float[]>("Tsne").ToArray();
        var expectedTrain = Coordinates(model, train);
        var expectedFresh = Coordinates(model, fresh);

        model.Save(temp.File("tsne.bin"));
        var loaded = TsneTransformer.Load(temp.File("tsne.bin"));
        AssertEqual(expectedTrain, Coordinates(loaded, train));
        AssertEqual(expectedFresh, Coordinates(loaded, fresh));

        ml.Model.Save(model, train.Schema, temp.File("model.zip"));
        var other = new MLContext(seed: 2); // its own empty component catalog: Model.Load registers the loaders itself
        var fromZip = other.Model.Load(temp.File("model.zip"), out _);
        AssertEqual(expectedFresh, Coordinates(fromZip, fresh));

        var bytes = File.ReadAllBytes(temp.File("tsne.bin"));
        bytes[bytes.Length / 3] ^= 1;
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => TsneTransformer.Load(new MemoryStream(bytes)));
    }

    /// <summary>Progress arrives every interval with a falling KL divergence after early exaggeration; bad input is refused clearly.</summary>
    [TestMethod]
    public void ProgressIsReportedAndBadInputRefused()
    {
        var (rows, _) = Blobs(90, 5, 3, seed: 7);
        var ml = new MLContext(seed: 1);
        var reports = new List<TsneProgress>();
        var options = new TsneOptions { Perplexity = 10, Iterations = 200, EarlyExaggerationIterations = 50, ProgressInterval = 25, Progress = new SyncProgress<TsneProgress>(reports.Add) };
        var model = ml.Transforms.ProjectToTsne(options).Fit(ml.ToDataView(rows));
        CollectionAssert.AreEqual(Enumerable.Range(1, 8).Select(i => i * 25).ToArray(), reports.Select(r => r.Iteration).ToArray());
        Assert.IsTrue(reports[^1].KlDivergence < reports[2].KlDivergence, "KL falls after early exaggeration");
        Assert.AreEqual(reports[^1].KlDivergence, model.KlDivergence, 0.05);

        var tooFew = Assert.ThrowsExactly<AutoencoderDataException>(() => ml.Transforms.ProjectToTsne(perplexity: 100).Fit(ml.ToDataView(rows)));
        StringAssert.Contains(tooFew.Message, "Perplexity");
        var bad = rows.Select(r => r.ToArray()).ToArray();
        bad[17][2] = float.NaN;
        var nan = Assert.ThrowsExactly<AutoencoderDataException>(() => ml.Transforms.ProjectToTsne(perplexity: 10).Fit(ml.ToDataView(bad)));
        Assert.AreEqual(17L, nan.Row);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.ProjectToTsne(new TsneOptions { Dimensions = 3, Method = TsneGradientMethod.FftInterpolation }));
        var wrongSize = Assert.ThrowsExactly<AutoencoderSchemaException>(() => model.Transform(ml.ToDataView(Blobs(10, 4, 2, 1).Rows)));
        Assert.AreEqual("Features", wrongSize.ColumnName);
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    internal static (float[][] Rows, int[] Blob) Blobs(int count, int features, int blobs, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, blobs).Select(_ => Enumerable.Range(0, features).Select(_ => 10 * Synthetic.Gaussian(random)).ToArray()).ToArray();
        var blob = Enumerable.Range(0, count).Select(i => i % blobs).ToArray();
        var rows = blob.Select(b => centres[b].Select(c => (float)(c + Synthetic.Gaussian(random))).ToArray()).ToArray();
        return (rows, blob);
    }

    private static float[] Flatten(float[][] rows) => rows.SelectMany(r => r).ToArray();

    private static double NearestNeighbourAgreement(float[] embedding, int dims, int[] blob)
    {
        int n = blob.Length, agree = 0;
        for (int i = 0; i < n; i++)
        {
            int best = -1;
            double bestD = double.PositiveInfinity;
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                double d = 0;
                for (int c = 0; c < dims; c++) d += Math.Pow(embedding[i * dims + c] - embedding[j * dims + c], 2);
                if (d < bestD) (bestD, best) = (d, j);
            }
            if (blob[best] == blob[i]) agree++;
        }
        return agree / (double)n;
    }

    private static int Nearest(float[] row, float[][] rows) =>
        Enumerable.Range(0, rows.Length).MinBy(j => rows[j].Zip(row, (a, b) => (a - b) * (double)(a - b)).Sum());

    private static int NearestPoint(float x, float y, float[] points) =>
        Enumerable.Range(0, points.Length / 2).MinBy(j => Math.Pow(points[2 * j] - x, 2) + Math.Pow(points[2 * j + 1] - y, 2));

    private static double Extent(float[] points)
    {
        var xs = points.Where((_, i) => i % 2 == 0).ToArray();
        var ys = points.Where((_, i) => i % 2 == 1).ToArray();
        return Math.Max(xs.Max() - xs.Min(), ys.Max() - ys.Min());
    }

    private static void AssertEqual(float[][] expected, float[][] actual)
    {
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
    }
}
