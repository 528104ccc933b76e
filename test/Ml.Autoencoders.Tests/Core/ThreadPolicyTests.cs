using Microsoft.ML;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;
using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// libtorch's thread settings are process-wide: the library sets a thread count only for the call that asked for it,
/// and with the default count trains with one thread while other processes keep the cores busy.
/// </summary>
[TestClass]
public sealed class ThreadPolicyTests
{
    /// <summary><c>Threads</c> holds during Fit and the count in force before it is back afterwards.</summary>
    [TestMethod]
    public void FitRestoresTheThreadCountItSet()
    {
        int before = torch.get_num_threads();
        int asked = Other(before);
        var ml = new MLContext(seed: 0);
        var data = ml.ToDataView(Synthetic.LowRank(64, 6, 2));
        int during = -1;
        var options = new AutoencoderOptions
        {
            LatentDimension = 2, HiddenLayerSizes = new[] { 4 }, Epochs = 2, Threads = asked,
            Progress = new SynchronousProgress(_ => during = torch.get_num_threads()),
        };
        using var model = ml.Transforms.Autoencoder(options).Fit(data).Model;
        Assert.AreEqual(asked, during, "Threads is in force while Fit trains");
        Assert.AreEqual(before, torch.get_num_threads(), "Fit restores the thread count that was in force before it");
    }

    /// <summary>The fine-tuning classifier takes the same knob: set during its Fit, restored after, oversubscription refused by name.</summary>
    [TestMethod]
    public void FineTuningRestoresTheThreadCountItSet()
    {
        int before = torch.get_num_threads();
        int asked = Other(before);
        var ml = new MLContext(seed: 0);
        var rows = LabelledRows(80, seed: 3);
        var data = ml.Data.LoadFromEnumerable(rows);
        var autoencoder = ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = new[] { 4 }, Epochs = 2 }).Fit(data);
        int during = -1;
        var options = new Ml.Autoencoders.Classification.AutoencoderClassifierOptions
        {
            Autoencoder = autoencoder, Epochs = 2, Threads = asked,
            Progress = new SynchronousProgress(_ => during = torch.get_num_threads()),
        };
        var classifier = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.AutoencoderClassifier(options)).Fit(data);
        Assert.AreEqual(asked, during, "Threads is in force while the classifier trains");
        Assert.AreEqual(before, torch.get_num_threads(), "Fit restores the thread count that was in force before it");
        var tooMany = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.AutoencoderClassifier(
            new Ml.Autoencoders.Classification.AutoencoderClassifierOptions { Autoencoder = autoencoder, Threads = 1000 }));
        Assert.AreEqual("Threads", tooMany.ParamName);
        classifier.LastTransformer.Autoencoder.Model.Dispose();
        autoencoder.Model.Dispose();
    }

    /// <summary>The anomaly detector takes the same knob for its whole Fit (every member), restores the count, refuses oversubscription by name.</summary>
    [TestMethod]
    public void AnomalyDetectorRestoresTheThreadCountItSet()
    {
        int before = torch.get_num_threads();
        int asked = Other(before);
        var ml = new MLContext(seed: 0);
        var data = ml.ToDataView(Synthetic.LowRank(64, 6, 2));
        var seen = new List<int>();
        var body = new AutoencoderOptions
        {
            LatentDimension = 2, HiddenLayerSizes = new[] { 4 }, Epochs = 2,
            Progress = new SynchronousProgress(_ => seen.Add(torch.get_num_threads())),
        };
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new Ml.Autoencoders.Anomaly.AutoencoderAnomalyOptions { Autoencoder = body, EnsembleSize = 2, Threads = asked }).Fit(data);
        foreach (var member in detector.Members) member.Model.Dispose();
        Assert.IsTrue(seen.Count == 4 && seen.All(t => t == asked), $"Threads is in force for every member's epochs: {string.Join(",", seen)}");
        Assert.AreEqual(before, torch.get_num_threads(), "Fit restores the thread count that was in force before it");
        var tooMany = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(new Ml.Autoencoders.Anomaly.AutoencoderAnomalyOptions { Threads = 1000 }));
        Assert.AreEqual("Threads", tooMany.ParamName);
    }

    /// <summary>t-SNE takes the knob too: its managed loops and TorchSharp's count follow it during Fit, both restored after.</summary>
    [TestMethod]
    public void TsneRestoresTheThreadCountItSet()
    {
        int before = torch.get_num_threads();
        int asked = Other(before);
        var ml = new MLContext(seed: 0);
        var data = ml.ToDataView(Synthetic.LowRank(60, 6, 2));
        int during = -1, degree = 0;
        var options = new Ml.Autoencoders.Embedding.TsneOptions
        {
            Perplexity = 5, Iterations = 60, EarlyExaggerationIterations = 20, ProgressInterval = 10, Threads = asked,
            Progress = new InlineProgress<Ml.Autoencoders.Embedding.TsneProgress>(_ =>
            {
                during = torch.get_num_threads();
                degree = TorchThreads.Parallel.MaxDegreeOfParallelism;
            }),
        };
        ml.Transforms.ProjectToTsne(options).Fit(data).Release();
        Assert.AreEqual(asked, during, "TorchSharp's count during Fit");
        Assert.AreEqual(asked, degree, "the managed loops' limit during Fit");
        Assert.AreEqual(before, torch.get_num_threads(), "restored after Fit");
        Assert.AreEqual(-1, TorchThreads.Parallel.MaxDegreeOfParallelism, "no limit outside a scope");
        var tooMany = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.ProjectToTsne(new Ml.Autoencoders.Embedding.TsneOptions { Threads = 1000 }));
        Assert.AreEqual("Threads", tooMany.ParamName);
    }

    /// <summary>k-NN: the trainer's Threads reaches the model, holds during each search and is restored after it.</summary>
    [TestMethod]
    public void NeighbourSearchesRestoreTheThreadCountTheySet()
    {
        int before = torch.get_num_threads();
        int asked = Other(before);
        var ml = new MLContext(seed: 0);
        var rows = LabelledRows(60, seed: 4);
        var data = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var knn = ml.MulticlassClassification.Trainers.KNearestNeighbors(new Ml.Autoencoders.Neighbors.KNearestNeighborsTrainer.Options { NumberOfNeighbors = 3, Threads = asked }).Fit(keyed);
        Assert.AreEqual(asked, knn.Model.Threads);
        var (scores, classes) = knn.Model.Predict(rows.SelectMany(r => r.Features).ToArray(), rows.Length);
        Assert.AreEqual(rows.Length, classes.Length);
        Assert.AreEqual(before, torch.get_num_threads(), "each search restores the count");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => knn.Model.Threads = 1000);
        knn.Model.Dispose();
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>A thread count other than <paramref name="count"/> (1 or 2), so a test sees the count change and come back.</summary>
    private static int Other(int count) => count == 2 ? 1 : 2;

    /// <summary><paramref name="count"/> rows of <see cref="LabelledRow"/>: two classes told apart by the odd features.</summary>
    private static LabelledRow[] LabelledRows(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new LabelledRow
        {
            Features = Enumerable.Range(0, 6).Select(j => (float)(random.NextDouble() + (i % 2) * (j % 2))).ToArray(),
            Label = (uint)(i % 2),
        }).ToArray();
    }

    /// <summary>Six features and a two-class label.</summary>
    public sealed class LabelledRow
    {
        /// <summary>Features.</summary>
        [Microsoft.ML.Data.VectorType(6)]
        public float[] Features { get; set; } = [];

        /// <summary>Class 0 or 1.</summary>
        public uint Label { get; set; }
    }

    /// <summary>A scope inside a scope restores each count in turn; 0 changes nothing.</summary>
    [TestMethod]
    public void NestedScopesRestoreInTurn()
    {
        int before = torch.get_num_threads();
        using (TorchThreads.Use(3))
        {
            Assert.AreEqual(3, torch.get_num_threads());
            using (TorchThreads.Use(2)) Assert.AreEqual(2, torch.get_num_threads());
            Assert.AreEqual(3, torch.get_num_threads());
            using (TorchThreads.Use(0)) Assert.AreEqual(3, torch.get_num_threads());
        }
        Assert.AreEqual(before, torch.get_num_threads());
    }

    /// <summary>
    /// With the default thread count, training drops to one thread while other processes use at least 0.4 of a core
    /// (spinning OpenMP workers made fits 20-50x slower next to other work) and goes back below 0.2 (hysteresis).
    /// </summary>
    [TestMethod]
    public void DefaultThreadsDropToOneWhileOtherProcessesAreBusy()
    {
        Assert.IsFalse(TorchThreads.LoadWatch.Decide(reduced: false, otherCores: 0.05), "a quiet machine keeps the default count");
        Assert.IsTrue(TorchThreads.LoadWatch.Decide(reduced: false, otherCores: 0.9), "a busy process next to the fit: one thread");
        Assert.IsTrue(TorchThreads.LoadWatch.Decide(reduced: true, otherCores: 0.3), "between the thresholds: stays at one thread");
        Assert.IsFalse(TorchThreads.LoadWatch.Decide(reduced: false, otherCores: 0.3), "between the thresholds: stays at the default");
        Assert.IsFalse(TorchThreads.LoadWatch.Decide(reduced: true, otherCores: 0.1), "quiet again: back to the default count");
        if (OperatingSystem.IsLinux()) Assert.IsNotNull(TorchThreads.LoadWatch.Sample(), "/proc/stat and /proc/self/stat are readable here");
    }

    /// <summary>A watching scope that dropped to one thread restores the default count when it ends.</summary>
    [TestMethod]
    public void WatchingScopeRestoresTheCountItReduced()
    {
        if (!OperatingSystem.IsLinux()) Assert.Inconclusive("The load watch reads /proc.");
        int before = torch.get_num_threads();
        torch.set_num_threads(2);
        try
        {
            using (var scope = TorchThreads.Use(0))
            {
                var watch = scope as TorchThreads.LoadWatch;
                Assert.IsNotNull(watch, "with 2 default threads on Linux, Use(0) watches the machine");
                watch.Apply(reduce: true);
                Assert.AreEqual(1, torch.get_num_threads(), "busy machine: one thread");
                watch.Apply(reduce: false);
                Assert.AreEqual(2, torch.get_num_threads(), "quiet again: the default count");
                watch.Apply(reduce: true);
            }
            Assert.AreEqual(2, torch.get_num_threads());
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }

    private sealed class SynchronousProgress(Action<Ml.Autoencoders.Training.EpochRecord> report) : IProgress<Ml.Autoencoders.Training.EpochRecord>
    {
        public void Report(Ml.Autoencoders.Training.EpochRecord value) => report(value);
    }
}
