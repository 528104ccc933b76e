using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The five transformers share one plumbing stack (lazy view, batched cursor, row mapper) and one release story:
/// <c>Release()</c> frees, the older calls are equivalent, and later use throws an <see cref="ObjectDisposedException"/>
/// that names the transformer.
/// </summary>
[TestClass]
public sealed class OnePlumbingTests
{
    private sealed record Stage(string Name, ITransformer Model, string Column, Action Release, Func<bool> IsReleased);

    private static (MLContext Ml, IDataView Fresh, Stage[] Stages) Fit()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.ToDataView(Synthetic.LowRank(200, 12, 3, seed: 8));
        var keyed = ml.Transforms.Conversion.MapValueToKey(DefaultColumnNames.Label, keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(raw).Transform(raw);
        var options = new AutoencoderOptions { HiddenLayerSizes = [8], LatentDimension = 3, Epochs = 2, Seed = 7, TransformBatchSize = 16 };
        var autoencoder = ml.Transforms.Autoencoder(options).Fit(raw);
        var pretrained = ml.Transforms.Autoencoder(options).Fit(raw);
        var knn = ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: 4).Fit(keyed);
        knn.TransformBatchSize = 16;
        var tsne = ml.Transforms.ProjectToTsne(new TsneOptions { Perplexity = 10, Iterations = 60, EarlyExaggerationIterations = 20, TransformBatchSize = 16, TransformIterations = 10 }).Fit(raw);
        var anomaly = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = options.Clone() }).Fit(raw);
        var classifier = ml.MulticlassClassification.Trainers.AutoencoderClassifier(new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 2 }).Fit(keyed);
        pretrained.Release(); // the classifier holds a copy
        classifier.Autoencoder.TransformBatchSize = 16;
        var fresh = ml.ToDataView(Synthetic.LowRank(100, 12, 3, seed: 9));
        return (ml, fresh,
        [
            new("autoencoder", autoencoder, DefaultColumnNames.LatentCode, autoencoder.Release, () => autoencoder.IsReleased),
            new("k-NN", knn, DefaultColumnNames.Score, knn.Release, () => knn.IsReleased),
            new("t-SNE", tsne, DefaultColumnNames.Tsne, tsne.Release, () => tsne.IsReleased),
            new("anomaly", anomaly, DefaultColumnNames.Score, anomaly.Release, () => anomaly.IsReleased),
            new("classifier", classifier, DefaultColumnNames.Score, classifier.Release, () => classifier.IsReleased),
        ]);
    }

    /// <summary>Transform, its cursors and the row mapper of all five transformers are the shared pipeline types.</summary>
    [TestMethod]
    public void AllFiveTransformersGoThroughOneMapperType()
    {
        var (_, fresh, stages) = Fit();
        try
        {
            foreach (var stage in stages)
            {
                var view = stage.Model.Transform(fresh);
                Assert.IsInstanceOfType<MappedDataView>(view, stage.Name);
                using (var cursor = view.GetRowCursor([view.Schema[stage.Column]]))
                    Assert.IsInstanceOfType<MappedCursor>(cursor, stage.Name);
                Assert.IsInstanceOfType<MappedRowMapper>(stage.Model.GetRowToRowMapper(fresh.Schema), stage.Name);
                // No new column asked for: the source's own cursor, untouched.
                using (var cursor = view.GetRowCursor([view.Schema[DefaultColumnNames.Features]]))
                    Assert.IsInstanceOfType<PassThroughCursor>(cursor, stage.Name);
            }
        }
        finally
        {
            foreach (var stage in stages) stage.Release();
        }
    }

    /// <summary>Release frees once; Transform, the row mapper, an open cursor's next batch and a mapped row then throw ObjectDisposedException naming the type.</summary>
    [TestMethod]
    public void ReleaseFreesOnceAndLaterUseThrowsObjectDisposedNamingTheTransformer()
    {
        var (_, fresh, stages) = Fit();
        foreach (var stage in stages)
        {
            string type = stage.Model.GetType().Name;
            var view = stage.Model.Transform(fresh);
            using var cursor = view.GetRowCursor([view.Schema[stage.Column]]);
            Assert.IsTrue(cursor.MoveNext(), stage.Name); // first batch of 16 computed before the release
            var mapper = stage.Model.GetRowToRowMapper(fresh.Schema);
            using var source = fresh.GetRowCursor(fresh.Schema);
            using var row = mapper.GetRow(source, [mapper.OutputSchema[stage.Column]]);
            var read = Reader(row, mapper.OutputSchema[stage.Column]);

            Assert.IsFalse(stage.IsReleased(), stage.Name);
            stage.Release();
            Assert.IsTrue(stage.IsReleased(), stage.Name);
            stage.Release(); // a second call does nothing

            AssertReleased(() => stage.Model.Transform(fresh), type, stage.Name + ": Transform");
            AssertReleased(() => stage.Model.GetRowToRowMapper(fresh.Schema), type, stage.Name + ": GetRowToRowMapper");
            AssertReleased(() => { while (cursor.MoveNext()) { } }, type, stage.Name + ": the next batch of an open cursor");
            Assert.IsTrue(source.MoveNext());
            AssertReleased(read, type, stage.Name + ": a mapped row");
        }
    }

    /// <summary>Model.Dispose() (and Autoencoder.Model.Dispose()) count as a release: the same clear exception follows.</summary>
    [TestMethod]
    public void OlderReleaseCallsAreTheSameAsRelease()
    {
        var (_, fresh, stages) = Fit();
        var autoencoder = (AutoencoderTransformer)stages[0].Model;
        var knn = (KNearestNeighborsPredictionTransformer)stages[1].Model;
        var anomaly = (AutoencoderAnomalyTransformer)stages[3].Model;
        var classifier = (AutoencoderClassifierTransformer)stages[4].Model;
        autoencoder.Model.Dispose();
        knn.Model.Dispose();
        anomaly.Autoencoder.Model.Dispose();
        classifier.Autoencoder.Model.Dispose();
        foreach (var stage in stages.Where(s => s.Name != "t-SNE"))
        {
            Assert.IsTrue(stage.IsReleased(), stage.Name);
            AssertReleased(() => stage.Model.Transform(fresh), stage.Model.GetType().Name, stage.Name);
        }
        stages[2].Release();
    }

    /// <summary>Disposing a prediction engine (which owns its transformer by default) does not free the transformer.</summary>
    [TestMethod]
    public void DisposingAPredictionEngineLeavesItsTransformerUsable()
    {
        // Why the transformers are not IDisposable: an engine owns (and would dispose) its transformer by default.
        var (ml, fresh, stages) = Fit();
        try
        {
            var autoencoder = (AutoencoderTransformer)stages[0].Model;
            using (var engine = ml.Model.CreatePredictionEngine<Input, Codes>(autoencoder))
                Assert.HasCount(3, engine.Predict(new Input { Features = new float[12] }).LatentCode);
            Assert.IsFalse(autoencoder.IsReleased);
            var view = autoencoder.Transform(fresh);
            using var cursor = view.GetRowCursor(view.Schema);
            Assert.IsTrue(cursor.MoveNext());
        }
        finally
        {
            foreach (var stage in stages) stage.Release();
        }
    }

    /// <summary>Reads the row's value of a float or float-vector column.</summary>
    private static Action Reader(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type is VectorDataViewType)
        {
            var vector = row.GetGetter<VBuffer<float>>(column);
            return () => { var value = default(VBuffer<float>); vector(ref value); };
        }
        var scalar = row.GetGetter<float>(column);
        return () => { float value = 0; scalar(ref value); };
    }

    private static void AssertReleased(Action action, string type, string what)
    {
        var e = Assert.ThrowsExactly<ObjectDisposedException>(action, what);
        Assert.AreEqual(type, e.ObjectName, what);
        StringAssert.Contains(e.Message, "was released", what);
    }

    private sealed class Input
    {
        [VectorType(12)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Codes
    {
        public float[] LatentCode { get; set; } = [];
    }
}
