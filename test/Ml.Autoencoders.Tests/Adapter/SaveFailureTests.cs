using Microsoft.ML;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Saves that fail: they never destroy the user's earlier file (the atomic <c>Model.SaveAtomically</c> route), their
/// file-system errors name the path the user gave rather than an internal temporary file and leave no temporary file
/// behind, and an unwritable <see cref="AutoencoderOptions.CheckpointPath"/> is refused before any training.
/// </summary>
[TestClass]
public sealed class SaveFailureTests
{
    private static AutoencoderOptions Tiny(int epochs = 1) => new() { HiddenLayerSizes = [6], LatentDimension = 2, Epochs = epochs, BatchSize = 16, Seed = 4 };

    private static (MLContext Ml, IDataView Data, AutoencoderTransformer Model) Trained()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(Synthetic.LowRank(40, 8, 2, seed: 21));
        return (ml, data, ml.Transforms.Autoencoder(Tiny()).Fit(data));
    }

    private static string[] Leftovers(string directory) =>
        Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Where(f => f.Contains(".tmp-") || f.Contains(".probe-")).ToArray();

    /// <summary>
    /// <c>mlContext.Model.Save(model, schema, path)</c> with a disposed model used to replace a good file with a 193-byte
    /// stub (ML.NET empties the file before our save runs). <c>mlContext.Model.SaveAtomically</c> leaves the earlier
    /// file byte for byte (and loadable), with an error naming the problem; the plain route's error names the atomic one.
    /// </summary>
    [TestMethod]
    public void FailedModelSaveLeavesThePreviousFile()
    {
        using var temp = new TempDirectory("save-failure");
        var (ml, data, model) = Trained();
        string path = temp.File("model.zip");
        ml.Model.SaveAtomically(model, data.Schema, path);
        var good = File.ReadAllBytes(path);
        model.Model.Dispose();

        var atomic = Assert.Throws<InvalidOperationException>(() => ml.Model.SaveAtomically(model, data.Schema, path));
        StringAssert.Contains(atomic.Message, "autoencoder cannot be saved");
        StringAssert.Contains(atomic.Message, "left as it was");
        CollectionAssert.AreEqual(good, File.ReadAllBytes(path), "the earlier model file is untouched");
        Assert.IsEmpty(Leftovers(temp.Path), "no temporary file is left behind");
        var loaded = (AutoencoderTransformer)ml.Model.Load(path, out _);
        Assert.AreEqual(8, loaded.InputSize, "the earlier file still loads");
        loaded.Model.Dispose();

        string other = temp.File("plain.zip");
        File.Copy(path, other);
        var plain = Assert.Throws<InvalidOperationException>(() => ml.Model.Save(model, data.Schema, other));
        StringAssert.Contains(plain.Message, "SaveAtomically");
    }

    /// <summary>
    /// A path whose parent is a regular file cannot be written (also as root, unlike a read-only directory): every file the
    /// library writes reports the path the user gave and the reason, keeps the original error inside, never mentions the
    /// temporary file, and leaves nothing behind; a target that is a directory (the temporary file is written, the rename
    /// fails) leaves no temporary file either.
    /// </summary>
    [TestMethod]
    public void FileSystemErrorsNameTheUsersPath()
    {
        using var temp = new TempDirectory("save-errors");
        var (ml, data, model) = Trained();
        var knn = new KNearestNeighborsModel(new NearestNeighborIndex(new float[] { 0, 1, 2, 3 }, 2, 2, NeighborMetric.Euclidean), [0, 1], 2, 1, NeighborWeighting.Uniform, null, 0);
        var anomaly = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = Tiny() }).Fit(data);
        File.WriteAllText(temp.File("blocker"), "a file, not a directory");
        Directory.CreateDirectory(temp.File("a-directory"));
        var writes = new (string Route, Action<string> Save)[]
        {
            ("AutoencoderTransformer.Save", p => model.Save(p)),
            ("AutoencoderModelFile.Save", p => AutoencoderModelFile.Save(model, p)),
            ("AutoencoderAnomalyTransformer.Save", p => anomaly.Save(p)),
            ("KNearestNeighborsModel.Save", p => knn.Save(p)),
            ("ConvertAutoencoderToOnnx", p => ml.Model.ConvertAutoencoderToOnnx(model, p)),
            ("Model.SaveAtomically", p => ml.Model.SaveAtomically(model, data.Schema, p)),
            ("checkpoint", p => CheckpointFile.Write(p, new CheckpointHeader(), [])),
        };
        foreach (string target in new[] { Path.Combine(temp.File("blocker"), "model.bin"), temp.File("a-directory") })
        {
            foreach (var (route, save) in writes)
            {
                var e = Assert.Throws<Exception>(() => save(target), $"{route} to {target}");
                Assert.IsTrue(e is IOException or UnauthorizedAccessException, $"{route}: {e.GetType().Name}: {e.Message}");
                StringAssert.Contains(e.Message, target, $"{route} names the path given");
                Assert.IsFalse(e.Message.Contains(".tmp-"), $"{route} does not name the temporary file: {e.Message}");
                Assert.IsNotNull(e.InnerException, $"{route} keeps the original error");
                Assert.IsEmpty(Leftovers(temp.Path), $"{route}: no temporary file is left behind");
            }
        }
        knn.Dispose();
    }

    /// <summary>
    /// An unwritable CheckpointPath used to be reported only after the first epoch: Fit now refuses it before training
    /// (no epoch runs), naming the option and the path, for a missing directory and for a parent that is a file; a
    /// writable path trains and its check leaves no probe file.
    /// </summary>
    [TestMethod]
    public void UnwritableCheckpointPathIsRefusedBeforeTraining()
    {
        using var temp = new TempDirectory("checkpoint-path");
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(Synthetic.LowRank(40, 8, 2, seed: 22));
        File.WriteAllText(temp.File("blocker"), "a file");
        foreach (string bad in new[] { Path.Combine(temp.Path, "missing", "run.ckpt"), Path.Combine(temp.File("blocker"), "run.ckpt"), temp.Path })
        {
            int epochs = 0;
            var options = Tiny(epochs: 3);
            options.CheckpointPath = bad;
            options.Progress = new Progress(() => epochs++);
            var e = Assert.ThrowsExactly<AutoencoderCheckpointException>(() => ml.Transforms.Autoencoder(options).Fit(data), bad);
            StringAssert.Contains(e.Message, nameof(AutoencoderOptions.CheckpointPath));
            StringAssert.Contains(e.Message, bad);
            Assert.AreEqual(bad, e.Path);
            Assert.AreEqual(0, epochs, "no epoch ran");
        }
        Assert.IsFalse(Directory.Exists(Path.Combine(temp.Path, "missing")), "the directory is not created");

        var good = Tiny(epochs: 2);
        good.CheckpointPath = temp.File("run.ckpt");
        ml.Transforms.Autoencoder(good).Fit(data).Model.Dispose();
        Assert.IsTrue(File.Exists(temp.File("run.ckpt")));
        Assert.IsEmpty(Leftovers(temp.Path), "the probe file is removed");
    }

    /// <summary>Counts epochs synchronously (System.Progress would post to the thread pool).</summary>
    private sealed class Progress(Action onEpoch) : IProgress<EpochRecord>
    {
        public void Report(EpochRecord value) => onEpoch();
    }
}
