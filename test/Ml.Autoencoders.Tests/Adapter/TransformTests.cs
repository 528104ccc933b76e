using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Transforms;
using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>Transform: batched, lazy, concurrent, and flat in memory.</summary>
[TestClass]
public sealed class TransformTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static AutoencoderTransformer? model;
    private static float[][] rows = Array.Empty<float[]>();

    private static AutoencoderTransformer Model()
    {
        if (model is not null) return model;
        rows = Synthetic.LowRank(500, 24, 4, seed: 3);
        return model = Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 4, HiddenLayerSizes = new[] { 12 }, Epochs = 2 }).Fit(Ml.ToDataView(rows));
    }

    /// <summary>Frees the shared model.</summary>
    [ClassCleanup]
    public static void Cleanup() => model?.Model.Dispose();

    /// <summary>The cursor's latent codes equal encoding each row alone, for every batch size.</summary>
    [TestMethod]
    public void BatchedTransformEqualsRowByRowEncoding()
    {
        var m = Model();
        foreach (int batch in new[] { 1, 7, 500, 4096 })
        {
            m.TransformBatchSize = batch;
            var codes = m.Transform(Ml.ToDataView(rows)).GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToList();
            Assert.AreEqual(rows.Length, codes.Count);
            for (int i = 0; i < rows.Length; i++)
                CollectionAssert.AreEqual(m.Model.Encode(rows[i]), codes[i], new EstimatorConformance.ToleranceComparer(1e-5f), $"batch {batch}, row {i}");
        }
        m.TransformBatchSize = 1024;
    }

    /// <summary>The model's batch methods equal its single-row methods, and decode(encode(x)) is the reconstruction.</summary>
    [TestMethod]
    public void ModelBatchMethodsEqualSingleRows()
    {
        var m = Model().Model;
        var some = rows.Take(37).ToList();
        var codes = m.Encode(some);
        var reconstructions = m.Reconstruct(some);
        var decoded = m.Decode(codes);
        for (int i = 0; i < some.Count; i++)
        {
            CollectionAssert.AreEqual(m.Encode(some[i]), codes[i], new EstimatorConformance.ToleranceComparer(1e-5f), $"code {i}");
            CollectionAssert.AreEqual(m.Reconstruct(some[i]), reconstructions[i], new EstimatorConformance.ToleranceComparer(1e-5f), $"reconstruction {i}");
            CollectionAssert.AreEqual(reconstructions[i], decoded[i], new EstimatorConformance.ToleranceComparer(1e-5f), $"decode(encode) {i}");
        }
        Assert.ThrowsExactly<ArgumentException>(() => m.Encode(new[] { new float[3] }));
    }

    /// <summary>Passed-through columns stay aligned with their rows across batch boundaries.</summary>
    [TestMethod]
    public void PassThroughColumnsStayAlignedWithTheirRows()
    {
        var m = Model();
        m.TransformBatchSize = 7;
        var output = m.Transform(Ml.ToDataView(rows));
        var labels = output.GetColumn<uint>(nameof(VectorRow.Label)).ToList();
        var features = output.GetColumn<float[]>(nameof(VectorRow.Features)).ToList();
        var errors = output.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToList();
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.AreEqual((uint)(i % 3), labels[i]);
            CollectionAssert.AreEqual(rows[i], features[i]);
            Assert.AreEqual(m.Model.ReconstructionError(rows[i]), errors[i], 1e-6f);
        }
        m.TransformBatchSize = 1024;
    }

    /// <summary>Several cursors over one transformer, on several threads, give what one thread gives.</summary>
    [TestMethod]
    public void ConcurrentCursorsAgreeWithOneThread()
    {
        var m = Model();
        var data = Ml.ToDataView(rows);
        var expected = EstimatorConformance.ReadOutputs(m.Transform(data), new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.ReconstructionError });
        var results = new Dictionary<string, List<float[]>>[4];
        Parallel.For(0, results.Length, i => results[i] = EstimatorConformance.ReadOutputs(m.Transform(data), expected.Keys));
        foreach (var r in results) EstimatorConformance.AssertSameOutputs(expected, r, "concurrent cursor");
    }

    /// <summary>Nothing is computed when no autoencoder column is read.</summary>
    [TestMethod]
    public void TransformIsLazy()
    {
        var m = Model();
        var bad = rows.Select(r => (float[])r.Clone()).ToArray();
        bad[3][0] = float.NaN;
        var output = m.Transform(Ml.ToDataView(bad));
        // Reading only the label never runs the network, so the NaN goes unnoticed.
        Assert.AreEqual(bad.Length, output.GetColumn<uint>(nameof(VectorRow.Label)).Count());
        Assert.ThrowsExactly<Data.AutoencoderDataException>(() => output.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToList());
    }

    /// <summary>Live native tensors and process memory stay flat over many Transform batches.</summary>
    [TestMethod]
    public void NativeMemoryStaysFlatOverManyBatches()
    {
        var m = Model();
        m.TransformBatchSize = 64;
        var data = Ml.ToDataView(rows);
        void Pass()
        {
            using var cursor = m.Transform(data).GetRowCursor(m.GetOutputSchema(data.Schema).Where(c => c.Name != nameof(VectorRow.Features)));
            var getter = cursor.GetGetter<VBuffer<float>>(cursor.Schema[AutoencoderColumnNames.Reconstruction]);
            VBuffer<float> value = default;
            while (cursor.MoveNext()) getter(ref value);
        }
        for (int i = 0; i < 3; i++) Pass();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long rssBefore = Environment.WorkingSet;
        for (int i = 0; i < 100; i++) Pass(); // 100 x 8 batches
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long growth = Environment.WorkingSet - rssBefore;
        m.TransformBatchSize = 1024;
        Assert.AreEqual(liveBefore, liveAfter, "live tensors must not grow with the number of batches");
        Assert.IsTrue(growth < 50L << 20, $"process memory grew by {growth >> 20} MiB over 800 batches");
    }

    /// <summary>Disposing a prediction engine (which disposes the disposable transformers it holds) leaves the model usable.</summary>
    [TestMethod]
    public void DisposingAPredictionEngineLeavesTheModelUsable()
    {
        var m = Model();
        var schema = EstimatorConformance.SchemaFor(rows[0].Length);
        var engine = Ml.Model.CreatePredictionEngine<VectorRow, PredictionRow>(m, inputSchemaDefinition: schema);
        var first = engine.Predict(new VectorRow { Features = rows[0] }).LatentCode;
        engine.Dispose();
        CollectionAssert.AreEqual(first, m.Model.Encode(rows[0]), new EstimatorConformance.ToleranceComparer(1e-6f));
        Assert.AreEqual(rows.Length, m.Transform(Ml.ToDataView(rows)).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Count());
    }

    /// <summary>Prediction engines (which ML.NET may never dispose rows of) leave no native tensor behind.</summary>
    [TestMethod]
    public void PredictionEnginesLeaveNoLiveTensors()
    {
        var m = Model();
        var schema = EstimatorConformance.SchemaFor(rows[0].Length);
        void Predict()
        {
            var engine = Ml.Model.CreatePredictionEngine<VectorRow, PredictionRow>(m, inputSchemaDefinition: schema);
            for (int i = 0; i < 20; i++) engine.Predict(new VectorRow { Features = rows[i] });
        }
        LiveTensors.AssertNoGrowth(Predict, 10, "prediction engine");
    }

    /// <summary>Saving and loading leave no native tensor behind.</summary>
    [TestMethod]
    public void SaveAndLoadLeaveNoLiveTensors()
    {
        var m = Model();
        void RoundTrip()
        {
            using var stream = new MemoryStream();
            m.Save(stream);
            stream.Position = 0;
            AutoencoderTransformer.Load(stream, Runtime.ComputeDevice.Cpu).Model.Dispose();
        }
        LiveTensors.AssertNoGrowth(RoundTrip, 5, "save and load");
    }

    /// <summary>NormalizeMinMax before the autoencoder and an ML.NET trainer on its codes, in one EstimatorChain.</summary>
    [TestMethod]
    public void WorksInsideAnEstimatorChainWithATrainerAfterIt()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(300, 10, 3, squash: false));
        var pipeline = Ml.Transforms.NormalizeMinMax("Features")
            .Append(Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = new[] { 8 }, Epochs = 2 }))
            .Append(Ml.Transforms.Conversion.MapValueToKey("Label"))
            .AppendCacheCheckpoint(Ml)
            .Append(Ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", AutoencoderColumnNames.LatentCode, maximumNumberOfIterations: 5));
        var model = pipeline.Fit(data);
        var metrics = Ml.MulticlassClassification.Evaluate(model.Transform(data), "Label");
        Assert.IsTrue(metrics.MicroAccuracy >= 0, "Evaluate runs on the chain's output");
        var preview = model.Transform(data).Preview(3);
        Assert.IsTrue(preview.Schema.GetColumnOrNull(AutoencoderColumnNames.LatentCode) is { } c && c.Type is VectorDataViewType { Size: 3 });
        Assert.AreEqual(3, preview.RowView.Length);
    }

    /// <summary>The vectorised finiteness check finds every NaN and infinity, at every position of a long row.</summary>
    [TestMethod]
    public void NonFiniteValuesAreFoundAtEveryPosition()
    {
        foreach (int length in new[] { 1, 7, 8, 16, 33, 784 })
            for (int at = 0; at < length; at++)
                foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                {
                    var values = Enumerable.Range(0, length).Select(i => (float)i * 1e30f).ToArray();
                    Assert.AreEqual(-1, Pipeline.VectorColumn.IndexOfNonFinite(values), "finite values, some huge");
                    values[at] = bad;
                    Assert.AreEqual(at, Pipeline.VectorColumn.IndexOfNonFinite(values), $"{bad} at {at} of {length}");
                }
    }

}
