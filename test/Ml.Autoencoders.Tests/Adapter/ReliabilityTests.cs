using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>Numerical faults (divergence, far-out inputs) and data larger than the cache.</summary>
[TestClass]
public sealed class ReliabilityTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>
    /// A run whose third epoch meets an extreme row stops with an error naming epoch and batch, hands over the best
    /// epoch's (finite) weights, and leaves the checkpoint of epoch 2 on disk: nothing non-finite is saved.
    /// </summary>
    [TestMethod]
    public void DivergingRunStopsNamingEpochAndBatchAndKeepsTheBestWeights()
    {
        using var dir = new TempDirectory("diverge");
        string checkpoint = dir.File("run.ckpt");
        var rows = new GeneratedRows(1_000, 12) { Override = (pass, row, values) => { if (pass == 3 && row == 500) values[0] = 1e30f; } };
        var options = new AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = [8], Epochs = 5, BatchSize = 50, Caching = DataCaching.Stream, ShuffleBufferRows = 100, CheckpointPath = checkpoint, Seed = 4 };
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => Ml.Transforms.Autoencoder(options).Fit(rows));

        Assert.AreEqual(3, e.Epoch);
        Assert.IsTrue(e.Batch is >= 1 and <= 20, $"batch {e.Batch}");
        StringAssert.Contains(e.Message, $"epoch 3, batch {e.Batch}");
        Assert.IsFalse(double.IsFinite(e.Loss));
        Assert.IsTrue(e.BestEpoch is 1 or 2, $"best epoch {e.BestEpoch}");
        StringAssert.Contains(e.Message, $"epoch {e.BestEpoch}, the best so far");
        var best = e.BestModel ?? throw new AssertFailedException("no best model handed over");
        Assert.AreEqual(e.BestEpoch, best.History.BestEpoch);
        Assert.IsNull(AutoencoderTrainer.FirstNonFinite(best.Model.Network), "the best model's weights are finite");
        Assert.AreEqual(2, AutoencoderCheckpoint.Read(checkpoint).CompletedEpochs, "the last checkpoint is the one after epoch 2");

        // The best model is usable and saves (Save refuses non-finite weights, so this also shows they are finite).
        string saved = dir.File("best.mlae");
        best.Save(saved);
        var probe = Ml.ToDataView(Synthetic.LowRank(20, 12, 3, seed: 5));
        var errors = best.Transform(probe).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray();
        Assert.IsTrue(errors.All(float.IsFinite));
        var loaded = AutoencoderModelFile.Load(saved);
        CollectionAssert.AreEqual(errors, loaded.Transform(probe).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray());
    }

    /// <summary>A run that diverges in its first epoch has no best model and writes no checkpoint.</summary>
    [TestMethod]
    public void RunDivergingInTheFirstEpochSavesNothing()
    {
        using var dir = new TempDirectory("diverge");
        var rows = new GeneratedRows(400, 12) { Override = (pass, row, values) => { if (pass == 1 && row == 10) values[3] = -3e38f; } };
        var options = new AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = [8], Epochs = 3, BatchSize = 50, Caching = DataCaching.Stream, Shuffle = false, CheckpointPath = dir.File("run.ckpt") };
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => Ml.Transforms.Autoencoder(options).Fit(rows));
        Assert.AreEqual((1, 1), (e.Epoch, e.Batch), e.Message);
        Assert.AreEqual(0, e.BestEpoch);
        Assert.IsNull(e.BestModel);
        StringAssert.Contains(e.Message, "no best model");
        Assert.IsFalse(File.Exists(dir.File("run.ckpt")));
        Assert.AreEqual(0, Directory.GetFiles(dir.Path).Length);
    }

    /// <summary>Rows far outside the training range (up to float.MaxValue) give finite codes and reconstructions and a large, finite error, also after save and load.</summary>
    [TestMethod]
    public void FarOutInputsGiveFiniteOutputsAndALargeError()
    {
        var train = Synthetic.LowRank(300, 10, 3, seed: 6);
        var model = Ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = [16], Epochs = 5, BatchSize = 32, Seed = 1 }).Fit(Ml.ToDataView(train));
        float[][] far =
        [
            Enumerable.Repeat(1e30f, 10).ToArray(),
            Enumerable.Repeat(-float.MaxValue, 10).ToArray(),
            Enumerable.Range(0, 10).Select(j => j % 2 == 0 ? float.MaxValue : -float.MaxValue).ToArray(),
            Enumerable.Repeat(1e7f, 10).ToArray(),
            train[0].Select((v, j) => j == 4 ? 1e20f : v).ToArray(),
        ];
        var rows = far.Append(train[0]).ToArray();
        using var dir = new TempDirectory("far");
        model.Save(dir.File("m.mlae"));
        var loaded = AutoencoderModelFile.Load(dir.File("m.mlae"));
        Assert.AreEqual(model.Model.TrainingRange, loaded.Model.TrainingRange);
        foreach (var m in new[] { model, loaded })
        {
            var output = m.Transform(Ml.ToDataView(rows));
            var latent = output.GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToArray();
            var reconstruction = output.GetColumn<float[]>(AutoencoderColumnNames.Reconstruction).ToArray();
            var error = output.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray();
            for (int r = 0; r < rows.Length; r++)
            {
                Assert.IsTrue(latent[r].All(float.IsFinite) && reconstruction[r].All(float.IsFinite) && float.IsFinite(error[r]), $"row {r}: non-finite output");
                if (r < far.Length) Assert.IsTrue(error[r] > 1e12, $"row {r}: error {error[r]} is not large");
            }
            Assert.IsTrue(error[^1] < 0.1, $"an ordinary row's error {error[^1]}");
            Assert.AreEqual(float.MaxValue, error[1], "a squared error beyond float's range saturates");
        }

        var detector = Ml.AnomalyDetection.Trainers.Autoencoder(new Anomaly.AutoencoderAnomalyOptions { Autoencoder = new AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = [16], Epochs = 2 } }).Fit(Ml.ToDataView(train));
        var scores = detector.Score(Synthetic.Flatten(rows), rows.Length);
        Assert.IsTrue(scores.All(float.IsFinite) && scores.Take(far.Length).All(s => s > 1e12), string.Join(", ", scores));
    }

    /// <summary>
    /// Fit streams a generated data view of 200,000 x 256 floats (205 MB, 50x the 4 MB cache limit; rows made on the
    /// fly) with the process's resident memory growing by far less than the data: the bound is the shuffle buffer and
    /// batches, (4,096 + 2 x 256) x 256 x 4 bytes = 4.7 MB, plus the network, not the row count.
    /// </summary>
    [TestMethod]
    public void StreamingFitMemoryIsBoundedByBufferNotRows()
    {
        const int features = 256, rowsCount = 200_000;
        var options = new AutoencoderOptions { LatentDimension = 8, HiddenLayerSizes = [32], Epochs = 1, BatchSize = 256, ShuffleBufferRows = 4_096, MaxCacheBytes = 4 << 20, Seed = 2 };
        Ml.Transforms.Autoencoder(options).Fit(new GeneratedRows(20_000, features)); // warm up: libtorch, thread pools, JIT
        GC.Collect();
        long baseline = ResidentBytes(), peak = baseline;
        var rows = new GeneratedRows(rowsCount, features, announceCount: false) { OnRow = (_, row) => { if (row % 10_000 == 0) peak = Math.Max(peak, ResidentBytes()); } };
        var model = Ml.Transforms.Autoencoder(options).Fit(rows);

        Assert.AreEqual(2, rows.Passes, "one checking pass and one epoch, both streamed");
        Assert.AreEqual(rowsCount, model.History.Epochs[0].Rows);
        long data = (long)rowsCount * features * sizeof(float), growth = peak - baseline;
        Console.WriteLine($"streamed {data >> 20} MB of rows; resident memory grew by {growth >> 20} MB at most");
        Assert.IsTrue(growth < data / 2, $"resident memory grew by {growth >> 20} MB while streaming {data >> 20} MB");
    }

    internal static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return Environment.WorkingSet;
    }
}
