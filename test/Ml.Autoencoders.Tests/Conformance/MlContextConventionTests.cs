using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The stages meet a .NET user on ML.NET's terms: <c>new MLContext(seed: n)</c> decides the seed the options leave
/// null, training progress reaches <c>mlContext.Log</c>, and the context's <c>CancelExecution</c> stops a running Fit
/// with the exception ML.NET's trainers throw.
/// </summary>
[TestClass]
public sealed class MlContextConventionTests
{
    private const int FeatureCount = 10;

    /// <summary>Ten low-rank features in [0, 1] and a three-class label.</summary>
    public sealed class Row
    {
        /// <summary>Features.</summary>
        [VectorType(FeatureCount)]
        public float[] Features { get; set; } = [];

        /// <summary>Class 0, 1 or 2.</summary>
        public uint Label { get; set; }
    }

    private static readonly float[][] Rows = Synthetic.LowRank(200, FeatureCount, 3, seed: 4);

    private static IDataView Data(MLContext ml) => ml.ToDataView(Rows);

    private static IDataView Labelled(MLContext ml)
    {
        var view = ml.Data.LoadFromEnumerable(Rows.Select(f => new Row { Features = f, Label = (uint)(f[0] > 0.6 ? 2 : f[0] > 0.4 ? 1 : 0) }));
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
    }

    private static AutoencoderOptions Small(int? seed = null) => new() { LatentDimension = 3, HiddenLayerSizes = [8], Epochs = 3, Seed = seed };

    /// <summary>What <c>mlContext.CancelExecution()</c> of Microsoft.ML.Experimental (and AutoML) calls: ML.NET keeps the method internal.</summary>
    internal static void CancelExecution(MLContext ml)
    {
        var method = typeof(MLContext).GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new AssertFailedException("MLContext.CancelExecution is missing from this Microsoft.ML");
        method.Invoke(ml, null);
    }

    private static float[] Codes(AutoencoderTransformer t) => t.Model.Encode(Rows[0]).Concat(t.Model.Encode(Rows[1])).ToArray();

    // ---------------------------------------------------------------- seed

    /// <summary>
    /// Options without a seed train with the context's: <c>MLContext(seed: 123)</c> gives the weights of an explicit seed
    /// 123 and other weights than <c>MLContext(seed: 0)</c>; the estimator, the fitted options and the model record 123.
    /// </summary>
    [TestMethod]
    public void TheContextsSeedDecidesWhenTheOptionsHaveNone()
    {
        var ml123 = new MLContext(seed: 123);
        var estimator = ml123.Transforms.Autoencoder(Small());
        Assert.AreEqual(123, estimator.Options.Seed, "the estimator resolves the seed when the catalog creates it");
        var fromContext = estimator.Fit(Data(ml123));
        var ml0 = new MLContext(seed: 0);
        var fromZero = ml0.Transforms.Autoencoder(Small()).Fit(Data(ml0));
        var explicit123 = ml0.Transforms.Autoencoder(Small(123)).Fit(Data(ml0));
        try
        {
            Assert.AreEqual(123, fromContext.Model.Seed);
            Assert.AreEqual(123, fromContext.Options.Seed);
            Assert.AreEqual(0, fromZero.Model.Seed);
            CheckpointTests.AssertSameWeights(explicit123, fromContext);
            CollectionAssert.AreNotEqual(Codes(fromZero), Codes(fromContext), "MLContext(seed: 123) and MLContext(seed: 0) trained the same weights");
        }
        finally
        {
            foreach (var t in new[] { fromContext, fromZero, explicit123 }) t.Release();
        }
    }

    /// <summary>An explicit seed wins over the context's: the same weights whatever the context's seed.</summary>
    [TestMethod]
    public void AnExplicitSeedWinsOverTheContexts()
    {
        var a = new MLContext(seed: 5);
        var b = new MLContext(seed: 77);
        var fromA = a.Transforms.Autoencoder(Small(9)).Fit(Data(a));
        var fromB = b.Transforms.Autoencoder(Small(9)).Fit(Data(b));
        var oneLine = b.Transforms.Autoencoder(latentDimension: 3, epochs: 3, seed: 9).Options;
        Assert.AreEqual(9, fromA.Model.Seed);
        Assert.AreEqual(9, oneLine.Seed, "the one-line overload's seed argument is explicit too");
        CheckpointTests.AssertSameWeights(fromA, fromB);
        fromA.Release();
        fromB.Release();
    }

    /// <summary>
    /// A context without a seed draws one from its random generator, as ML.NET's trainers do: two such contexts train
    /// with different seeds, the seed used is recorded, and giving it explicitly repeats the run exactly. One estimator
    /// draws once, so fitting it twice gives the same model. Without any context (direct construction) null means 0.
    /// </summary>
    [TestMethod]
    public void AContextWithoutSeedDrawsOneAndRecordsIt()
    {
        var first = new MLContext();
        var estimator = first.Transforms.Autoencoder(Small());
        var once = estimator.Fit(Data(first));
        var twice = estimator.Fit(Data(first));
        var second = new MLContext();
        var other = second.Transforms.Autoencoder(Small()).Fit(Data(second));
        var repeat = new MLContext(seed: 3).Transforms.Autoencoder(Small(once.Model.Seed)).Fit(Data(second));
        try
        {
            Assert.AreEqual(estimator.Options.Seed, once.Model.Seed);
            Assert.AreNotEqual(once.Model.Seed, other.Model.Seed, "two contexts without a seed drew the same seed (a 1 in 2^31 chance, or no draw at all)");
            CheckpointTests.AssertSameWeights(once, twice);
            CheckpointTests.AssertSameWeights(once, repeat);
            Assert.AreEqual(0, new AutoencoderEstimator(Small()).Options.Seed, "no MLContext: 0, as before");
        }
        finally
        {
            foreach (var t in new[] { once, twice, other, repeat }) t.Release();
        }
    }

    /// <summary>The anomaly detector's members train with the context's seed and the next ones; a given body without a seed takes it too.</summary>
    [TestMethod]
    public void TheAnomalyDetectorTakesTheContextsSeed()
    {
        var ml = new MLContext(seed: 3);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 2, EnsembleSize = 2 }).Fit(Data(ml));
        var given = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = Small() }).Fit(Data(ml));
        var ml0 = new MLContext(seed: 0);
        var explicit3 = ml0.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 2, EnsembleSize = 2, Seed = 3 }).Fit(Data(ml0));
        var fromZero = ml0.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 2, EnsembleSize = 2 }).Fit(Data(ml0));
        try
        {
            CollectionAssert.AreEqual(new[] { 3, 4 }, detector.Members.Select(m => m.Model.Seed).ToArray());
            Assert.AreEqual(3, given.Autoencoder.Model.Seed);
            CollectionAssert.AreEqual(explicit3.TrainingScores, detector.TrainingScores);
            CollectionAssert.AreNotEqual(fromZero.TrainingScores, detector.TrainingScores, "MLContext(seed: 3) and MLContext(seed: 0) trained the same detector");
        }
        finally
        {
            foreach (var t in new BatchTransformer[] { detector, given, explicit3, fromZero }) t.Release();
        }
    }

    /// <summary>The fine-tuning classifier takes the context's seed and records it.</summary>
    [TestMethod]
    public void TheClassifierTakesTheContextsSeed()
    {
        var ml0 = new MLContext(seed: 0);
        var pretrained = ml0.Transforms.Autoencoder(Small(1)).Fit(Data(ml0));
        AutoencoderClassifierOptions Head(int? seed) => new() { Autoencoder = pretrained, Epochs = 2, Seed = seed };
        var ml11 = new MLContext(seed: 11);
        var fromContext = ml11.MulticlassClassification.Trainers.AutoencoderClassifier(Head(null)).Fit(Labelled(ml11));
        var explicit11 = ml0.MulticlassClassification.Trainers.AutoencoderClassifier(Head(11)).Fit(Labelled(ml0));
        var fromZero = ml0.MulticlassClassification.Trainers.AutoencoderClassifier(Head(null)).Fit(Labelled(ml0));
        try
        {
            Assert.AreEqual(11, fromContext.Seed);
            Assert.AreEqual(0, fromZero.Seed);
            var features = Synthetic.Flatten(Rows.Take(20).ToArray());
            CollectionAssert.AreEqual(explicit11.Predict(features, 20).Scores, fromContext.Predict(features, 20).Scores);
            CollectionAssert.AreNotEqual(fromZero.Predict(features, 20).Scores, fromContext.Predict(features, 20).Scores);
        }
        finally
        {
            pretrained.Release();
            foreach (var t in new[] { fromContext, explicit11, fromZero }) t.Release();
        }
    }

    /// <summary>t-SNE's random initialisation takes the context's seed, and its options record it.</summary>
    [TestMethod]
    public void TsneTakesTheContextsSeed()
    {
        TsneOptions Options(int? seed) => new() { InputColumnName = "Features", Perplexity = 5, Iterations = 60, EarlyExaggerationIterations = 20, Initialization = TsneInitialization.Random, Seed = seed };
        float[][] Embed(MLContext ml, int? seed, out int used)
        {
            var t = ml.Transforms.ProjectToTsne(Options(seed)).Fit(ml.ToDataView(Rows.Take(40).ToArray()));
            used = t.Options.Seed!.Value;
            var result = t.Transform(ml.ToDataView(Rows.Take(40).ToArray())).GetColumn<float[]>("Tsne").ToArray();
            t.Release();
            return result;
        }
        var fromContext = Embed(new MLContext(seed: 21), null, out int seed);
        var explicit21 = Embed(new MLContext(seed: 0), 21, out _);
        var fromZero = Embed(new MLContext(seed: 0), null, out _);
        Assert.AreEqual(21, seed);
        CollectionAssert.AreEqual(explicit21.SelectMany(r => r).ToArray(), fromContext.SelectMany(r => r).ToArray());
        CollectionAssert.AreNotEqual(fromZero.SelectMany(r => r).ToArray(), fromContext.SelectMany(r => r).ToArray());
    }

    /// <summary>
    /// The checkpoint fingerprint sees the seed the context decided: a checkpoint of a run under <c>MLContext(seed: 1)</c>
    /// does not resume under <c>MLContext(seed: 2)</c> (the message names Seed), and resumes under another context of seed 1.
    /// </summary>
    [TestMethod]
    public void TheCheckpointFingerprintSeesTheResolvedSeed()
    {
        using var dir = new TempDirectory("ctx-seed");
        var written = Small();
        written.CheckpointPath = dir.File("run.ckpt");
        var first = new MLContext(seed: 1);
        var straight = first.Transforms.Autoencoder(written).Fit(Data(first));
        var resume = Small();
        resume.ResumeFromCheckpoint = written.CheckpointPath;
        var other = new MLContext(seed: 2);
        var e = Assert.ThrowsExactly<AutoencoderCheckpointException>(() => other.Transforms.Autoencoder(resume).Fit(Data(other)));
        StringAssert.Contains(e.Message, nameof(AutoencoderOptions.Seed));
        var same = new MLContext(seed: 1);
        var resumed = same.Transforms.Autoencoder(resume).Fit(Data(same));
        CheckpointTests.AssertSameWeights(straight, resumed);
        straight.Release();
        resumed.Release();
    }

    /// <summary>A catalog call reaches the context through ML.NET internals that are checked: something that is no ML.NET catalog is refused loudly.</summary>
    [TestMethod]
    public void TheContextIsReachedOnlyThroughAnMlNetCatalog()
    {
        var ml = new MLContext(seed: 42);
        Assert.AreEqual(42, MlNetEnvironment.Of(ml.Transforms).Seed);
        Assert.AreEqual(42, MlNetEnvironment.Of(ml.AnomalyDetection.Trainers).Seed);
        Assert.AreEqual(42, MlNetEnvironment.Of(ml.MulticlassClassification.Trainers).Seed);
        Assert.IsNull(MlNetEnvironment.Of(new MLContext().Transforms).Seed);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => MlNetEnvironment.Of(new object()));
        StringAssert.Contains(e.Message, "IInternalCatalog");
    }

    // ---------------------------------------------------------------- log

    private sealed class Recorder<T>(Action<T>? then = null) : IProgress<T>
    {
        public List<T> Seen { get; } = [];

        public void Report(T value)
        {
            Seen.Add(value);
            then?.Invoke(value);
        }
    }

    private static List<LoggingEventArgs> Listen(MLContext ml)
    {
        var log = new List<LoggingEventArgs>();
        ml.Log += (_, e) => { lock (log) log.Add(e); };
        return log;
    }

    private static string[] EpochLines(List<LoggingEventArgs> log, string source) =>
        log.Where(e => e.Kind == ChannelMessageKind.Info && e.Source == source && e.RawMessage.Contains("epoch ", StringComparison.Ordinal)).Select(e => e.RawMessage).ToArray();

    private static string Loss(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>
    /// Fit writes one Info line per epoch with its loss to <c>mlContext.Log</c> (source "Autoencoder"), the details
    /// (seed, epochs chosen, learning rate, time) at Trace, and the options' Progress still gets every epoch.
    /// </summary>
    [TestMethod]
    public void TrainingProgressReachesTheContextsLog()
    {
        var ml = new MLContext(seed: 1);
        var log = Listen(ml);
        var progress = new Recorder<EpochRecord>();
        var options = Small();
        options.ValidationFraction = 0.2;
        options.Progress = progress;
        var fitted = ml.Transforms.Autoencoder(options).Fit(Data(ml));
        var history = fitted.History.Epochs;
        fitted.Release();
        var lines = EpochLines(log, "Autoencoder");
        CollectionAssert.AreEqual(
            history.Select(e => $"epoch {e.Epoch}: train loss {Loss(e.TrainLoss)}, validation loss {Loss(e.ValidationLoss!.Value)}").ToArray(), lines,
            "one Info line per epoch with the losses; got:\n" + string.Join("\n", log.Select(e => e.Message)));
        Assert.HasCount(3, progress.Seen);
        var trace = log.Where(e => e.Kind == ChannelMessageKind.Trace && e.Source == "Autoencoder").Select(e => e.RawMessage).ToArray();
        Assert.Contains("seed 1 (the MLContext's seed)", trace);
        Assert.AreEqual(3, trace.Count(t => t.Contains("learning rate", StringComparison.Ordinal)), string.Join("\n", trace));
    }

    /// <summary>The anomaly detector logs each member's epochs and its threshold; the classifier its epochs.</summary>
    [TestMethod]
    public void DownstreamTrainingReachesTheContextsLog()
    {
        var ml = new MLContext(seed: 1);
        var log = Listen(ml);
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 2, EnsembleSize = 2 }).Fit(Data(ml));
        var members = detector.Members.Select(m => m.History.Epochs).ToArray();
        var lines = EpochLines(log, "Autoencoder");
        CollectionAssert.AreEqual(
            members.SelectMany((h, m) => h.Select(e => $"anomaly detector member {m + 1} of 2: epoch {e.Epoch}: train loss {Loss(e.TrainLoss)}")).ToArray(), lines);
        var threshold = log.Single(e => e.Source == "AutoencoderAnomalyDetector" && e.Kind == ChannelMessageKind.Info).RawMessage;
        StringAssert.StartsWith(threshold, $"threshold {detector.Threshold.ToString("G6", CultureInfo.InvariantCulture)} (contamination 0.1: 20 of 200 training rows");

        var classifier = ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = detector.Autoencoder, Epochs = 2 }).Fit(Labelled(ml));
        CollectionAssert.AreEqual(classifier.History.Epochs.Select(e => $"epoch {e.Epoch}: train loss {Loss(e.TrainLoss)}").ToArray(), EpochLines(log, "AutoencoderClassifier"));
        detector.Release();
        classifier.Release();
    }

    // ---------------------------------------------------------------- cancellation

    /// <summary>
    /// <c>CancelExecution</c> during the third of four epochs (streamed rows) stops Fit at the next batch with an
    /// <see cref="OperationCanceledException"/>, before the epoch ends. The context stays cancelled, as ML.NET's does: the
    /// same estimator refuses at once, reading nothing. The same options through a new context train, and give what a
    /// run that was never cancelled gives.
    /// </summary>
    [TestMethod]
    public void CancelExecutionStopsFitAtTheNextBatch()
    {
        AutoencoderOptions Streamed() => new() { LatentDimension = 3, HiddenLayerSizes = [8], Epochs = 4, BatchSize = 32, Caching = DataCaching.Stream, ShuffleBufferRows = 200 };
        var before = new MLContext(seed: 1);
        var straight = before.Transforms.Autoencoder(Streamed()).Fit(new GeneratedRows(1_500, 12));

        var ml = new MLContext(seed: 1);
        long lastRowOfEpoch3 = -1;
        var rows = new GeneratedRows(1_500, 12)
        {
            OnRow = (pass, row) =>
            {
                if (pass == 3) lastRowOfEpoch3 = row;
                if (pass == 3 && row == 700) CancelExecution(ml); // pass 0 checks the data; pass 3 is epoch 3
            },
        };
        var options = Streamed();
        var progress = new Recorder<EpochRecord>();
        options.Progress = progress;
        var estimator = ml.Transforms.Autoencoder(options);
        var e = Assert.ThrowsExactly<OperationCanceledException>(() => estimator.Fit(rows));
        StringAssert.Contains(e.Message, "CancelExecution");
        Assert.HasCount(2, progress.Seen, "epochs 1 and 2 completed, epoch 3 did not");
        Assert.AreEqual(4, rows.Passes, "the run stopped during the third epoch");
        Assert.IsLessThan(1_499L, lastRowOfEpoch3, "Fit stopped at the next batch, not at the end of the epoch");

        var again = new GeneratedRows(1_500, 12);
        Assert.ThrowsExactly<OperationCanceledException>(() => estimator.Fit(again));
        Assert.AreEqual(0, again.Passes, "a cancelled context stays cancelled: the second Fit reads nothing");
        // ML.NET's own stages on the cancelled context throw the same type (its normalizer checks CheckAlive per row).
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Transforms.NormalizeMinMax("Features").Fit(new GeneratedRows(100, 12)));

        var fresh = new MLContext(seed: 1).Transforms.Autoencoder(Streamed()).Fit(new GeneratedRows(1_500, 12));
        CheckpointTests.AssertSameWeights(straight, fresh);
        straight.Release();
        fresh.Release();
    }

    /// <summary>The anomaly detector, the classifier and t-SNE stop on <c>CancelExecution</c> during their training too.</summary>
    [TestMethod]
    public void CancelExecutionStopsTheDownstreamStages()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var pretrained = ml.Transforms.Autoencoder(Small(1)).Fit(data);
        var labelled = Labelled(ml);

        var body = Small();
        body.Epochs = 5;
        var bodyProgress = new Recorder<EpochRecord>(r => { if (r.Epoch == 2) CancelExecution(ml); });
        body.Progress = bodyProgress;
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = body, EnsembleSize = 3 }).Fit(data));
        Assert.HasCount(2, bodyProgress.Seen, "the first member stopped after its second epoch; no other member started");

        var ml2 = new MLContext(seed: 1);
        var headProgress = new Recorder<EpochRecord>(r => { if (r.Epoch == 1) CancelExecution(ml2); });
        var trainer = ml2.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 4, Progress = headProgress });
        Assert.ThrowsExactly<OperationCanceledException>(() => trainer.Fit(labelled));
        Assert.HasCount(1, headProgress.Seen);

        var ml3 = new MLContext(seed: 1);
        var tsneProgress = new Recorder<TsneProgress>(p => { if (p.Iteration == 20) CancelExecution(ml3); });
        var tsne = ml3.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 5, Iterations = 200, EarlyExaggerationIterations = 20, ProgressInterval = 10, Progress = tsneProgress });
        Assert.ThrowsExactly<OperationCanceledException>(() => tsne.Fit(ml3.ToDataView(Rows.Take(40).ToArray())));
        Assert.AreEqual(20, tsneProgress.Seen[^1].Iteration, "t-SNE stopped at the next iteration");
        pretrained.Release();
    }
}
