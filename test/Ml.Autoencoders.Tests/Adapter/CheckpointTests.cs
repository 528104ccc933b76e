using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>Checkpoints: resume equals straight training bit for bit, writes are atomic, cancellation keeps the last one, mismatches are refused.</summary>
[TestClass]
public sealed class CheckpointTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static AutoencoderOptions Options(string variant) => variant switch
    {
        "dense" => new() { LatentDimension = 3, HiddenLayerSizes = [16], Epochs = 6, BatchSize = 32, LearningRate = 5e-3, Seed = 3 },
        // The training generator (noise and latent sampling) and the KL warm-up are part of the state.
        "denoising VAE" => new() { LatentDimension = 2, HiddenLayerSizes = [16], Epochs = 6, BatchSize = 32, LatentHead = LatentHead.Gaussian, KlWarmupEpochs = 4, Corruption = new GaussianNoise { Factor = 0.2 }, Seed = 5 },
        // SGD momentum buffers, a validation split and early-stopping state (patience never reached).
        "SGD + validation" => new() { LatentDimension = 3, HiddenLayerSizes = [12], Epochs = 6, BatchSize = 16, Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, LearningRateSchedule = LearningRateSchedule.Step, StepSize = 2, StepFactor = 0.5, ValidationFraction = 0.2, EarlyStoppingPatience = 50, Seed = 7 },
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    /// <summary>6 epochs straight, or 3 epochs, cancel, resume for 3: identical weights and history (CPU, seeded).</summary>
    [TestMethod]
    [DataRow("dense")]
    [DataRow("denoising VAE")]
    [DataRow("SGD + validation")]
    public void ResumeAfterCancellationEqualsStraightTraining(string variant)
    {
        using var dir = new TempDirectory("ckpt");
        var data = Ml.ToDataView(Synthetic.LowRank(300, 10, 3, seed: 4));
        var straight = Ml.Transforms.Autoencoder(Options(variant)).Fit(data);

        string path = dir.File("run.ckpt");
        using var cts = new CancellationTokenSource();
        var first = Options(variant);
        first.CheckpointPath = path;
        first.CancellationToken = cts.Token;
        first.Progress = new OnEpoch(r => { if (r.Epoch == 3) cts.Cancel(); });
        Assert.ThrowsExactly<OperationCanceledException>(() => Ml.Transforms.Autoencoder(first).Fit(data));
        var saved = AutoencoderCheckpoint.Read(path);
        Assert.AreEqual(3, saved.CompletedEpochs);
        Assert.AreEqual(6, saved.TotalEpochs);
        Assert.IsFalse(saved.IsComplete);

        var second = Options(variant);
        second.CheckpointPath = path;
        second.ResumeFromCheckpoint = path;
        var resumed = Ml.Transforms.Autoencoder(second).Fit(data);

        AssertSameWeights(straight, resumed);
        CollectionAssert.AreEqual(straight.History.Epochs.Select(e => e.TrainLoss).ToArray(), resumed.History.Epochs.Select(e => e.TrainLoss).ToArray());
        CollectionAssert.AreEqual(straight.History.Epochs.Select(e => e.ValidationLoss).ToArray(), resumed.History.Epochs.Select(e => e.ValidationLoss).ToArray());
        Assert.AreEqual(6, AutoencoderCheckpoint.Read(path).CompletedEpochs);
        Assert.IsTrue(AutoencoderCheckpoint.Read(path).IsComplete);
    }

    /// <summary>
    /// Streamed data (read afresh each epoch through the shuffle buffer), cancelled in the middle of epoch 3: the
    /// checkpoint of epoch 2 stays valid and resuming from it ends with the weights of an uninterrupted run.
    /// </summary>
    [TestMethod]
    public void StreamingRunCancelledMidEpochResumesExactly()
    {
        using var dir = new TempDirectory("ckpt");
        AutoencoderOptions Streamed() => new() { LatentDimension = 3, HiddenLayerSizes = [8], Epochs = 4, BatchSize = 32, Caching = DataCaching.Stream, ShuffleBufferRows = 200, Seed = 9 };
        var straight = Ml.Transforms.Autoencoder(Streamed()).Fit(new GeneratedRows(1_500, 12));

        string path = dir.File("stream.ckpt");
        using var cts = new CancellationTokenSource();
        var rows = new GeneratedRows(1_500, 12) { OnRow = (pass, row) => { if (pass == 3 && row == 700) cts.Cancel(); } }; // pass 0 checks the data; pass 3 is epoch 3
        var first = Streamed();
        first.CheckpointPath = path;
        first.CancellationToken = cts.Token;
        Assert.ThrowsExactly<OperationCanceledException>(() => Ml.Transforms.Autoencoder(first).Fit(rows));
        Assert.AreEqual(4, rows.Passes, "the run stopped during the third epoch");
        Assert.AreEqual(2, AutoencoderCheckpoint.Read(path).CompletedEpochs);

        var second = Streamed();
        second.ResumeFromCheckpoint = path;
        AssertSameWeights(straight, Ml.Transforms.Autoencoder(second).Fit(new GeneratedRows(1_500, 12)));
    }

    /// <summary>
    /// Checkpoints written before the one container (format version 1, by main at e963929 on 2026-12-05: the runs of
    /// <see cref="ResumeAfterCancellationEqualsStraightTraining"/> cancelled after epoch 3, committed under
    /// TestData/formats/checkpoints-before-container) still load and resume to the weights and history of a straight run.
    /// </summary>
    [TestMethod]
    [DataRow("dense")]
    [DataRow("denoising VAE")]
    [DataRow("SGD + validation")]
    public void CheckpointsFromBeforeTheContainerResumeExactly(string variant)
    {
        using var dir = new TempDirectory("ckpt");
        var data = Ml.ToDataView(Synthetic.LowRank(300, 10, 3, seed: 4));
        var straight = Ml.Transforms.Autoencoder(Options(variant)).Fit(data);
        string committed = Path.Combine(AppContext.BaseDirectory, "TestData", "formats", "checkpoints-before-container", variant.Replace(" + ", "-").Replace(' ', '-') + ".ckpt");
        Assert.AreEqual(1, BitConverter.ToInt32(File.ReadAllBytes(committed), 8), "the committed checkpoint is of format version 1");
        string path = dir.File("run.ckpt");
        File.Copy(committed, path);
        var saved = AutoencoderCheckpoint.Read(path);
        Assert.AreEqual((3, 6), (saved.CompletedEpochs, saved.TotalEpochs));

        var resume = Options(variant);
        resume.CheckpointPath = path;
        resume.ResumeFromCheckpoint = path;
        var resumed = Ml.Transforms.Autoencoder(resume).Fit(data);
        AssertSameWeights(straight, resumed);
        CollectionAssert.AreEqual(straight.History.Epochs.Select(e => e.TrainLoss).ToArray(), resumed.History.Epochs.Select(e => e.TrainLoss).ToArray());
        CollectionAssert.AreEqual(straight.History.Epochs.Select(e => e.ValidationLoss).ToArray(), resumed.History.Epochs.Select(e => e.ValidationLoss).ToArray());
        Assert.AreEqual(CheckpointFile.FormatVersion, BitConverter.ToInt32(File.ReadAllBytes(path), 8), "the resumed run writes its checkpoints in the current version");
    }

    /// <summary>
    /// A run that dies before its epoch-2 checkpoint, then a checkpoint write that dies after its header (through the
    /// same container writer and atomic write the trainer uses, on a stream that fails part-way), leave the epoch-1
    /// checkpoint untouched and loadable with no temporary file left; a stray temporary file does not matter either.
    /// </summary>
    [TestMethod]
    public void CheckpointInterruptedMidWriteLeavesThePreviousOneLoadable()
    {
        using var dir = new TempDirectory("ckpt");
        var data = Ml.ToDataView(Synthetic.LowRank(200, 10, 3, seed: 2));
        string path = dir.File("run.ckpt");
        var options = Options("dense");
        options.CheckpointPath = path;
        // Epoch 2 is reported before its checkpoint is written: the run ends with the checkpoint of epoch 1 on disk.
        options.Progress = new OnEpoch(e =>
        {
            if (e.Epoch == 2) throw new InvalidOperationException("simulated crash after epoch 2");
        });
        var died = Assert.ThrowsExactly<InvalidOperationException>(() => Ml.Transforms.Autoencoder(options).Fit(data));
        StringAssert.Contains(died.Message, "simulated crash");
        byte[] before = File.ReadAllBytes(path);
        Assert.AreEqual(1, AutoencoderCheckpoint.Read(path).CompletedEpochs);

        // The next checkpoint's write dies after its header and some of its tensors reached the disk.
        var artifact = ArtifactContainer.Read(before, CheckpointFile.Kind);
        var e = Assert.ThrowsExactly<IOException>(() => AtomicFile.Write(path, stream =>
            ArtifactContainer.Write(new FailingStream(stream, ArtifactContainer.Prefix + artifact.Header.Length + 100), CheckpointFile.Kind, artifact.Header.Span, artifact.Sections)));
        StringAssert.Contains(e.Message, "simulated crash");
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path), "the previous checkpoint is left as it was");
        Assert.AreEqual(1, AutoencoderCheckpoint.Read(path).CompletedEpochs);
        CollectionAssert.AreEqual(new[] { "run.ckpt" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).ToArray(), "the failed write's temporary file was removed");

        // A process killed mid-write leaves its temporary file behind: the checkpoint itself is still the old one.
        File.WriteAllBytes(path + ".tmp-" + Guid.NewGuid().ToString("N"), before.AsSpan(0, before.Length / 2).ToArray());
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        var resume = Options("dense");
        resume.ResumeFromCheckpoint = path;
        AssertSameWeights(Ml.Transforms.Autoencoder(Options("dense")).Fit(data), Ml.Transforms.Autoencoder(resume).Fit(data));
    }

    /// <summary>Other options, other data, a damaged file or no file: refused with a specific exception that says why.</summary>
    [TestMethod]
    public void MismatchedOrDamagedCheckpointsAreRefused()
    {
        using var dir = new TempDirectory("ckpt");
        var data = Ml.ToDataView(Synthetic.LowRank(200, 10, 3, seed: 2));
        string path = dir.File("run.ckpt");
        var options = Options("dense");
        options.Epochs = 2;
        options.CheckpointPath = path;
        Ml.Transforms.Autoencoder(options).Fit(data);

        AutoencoderOptions Resume(Action<AutoencoderOptions> change)
        {
            var o = Options("dense");
            o.Epochs = 2;
            o.ResumeFromCheckpoint = path;
            change(o);
            return o;
        }
        var lr = Assert.ThrowsExactly<AutoencoderCheckpointException>(() => Ml.Transforms.Autoencoder(Resume(o => o.LearningRate = 1e-2)).Fit(data));
        StringAssert.Contains(lr.Message, "LearningRate");
        var width = Assert.ThrowsExactly<AutoencoderCheckpointException>(() => Ml.Transforms.Autoencoder(Resume(o => o.HiddenLayerSizes = [12])).Fit(data));
        StringAssert.Contains(width.Message, "HiddenLayerSizes");
        var other = Assert.ThrowsExactly<AutoencoderCheckpointException>(() => Ml.Transforms.Autoencoder(Resume(_ => { })).Fit(Ml.ToDataView(Synthetic.LowRank(150, 10, 3, seed: 3))));
        StringAssert.Contains(other.Message, "the data differ");
        var epochs = Assert.ThrowsExactly<AutoencoderCheckpointException>(() => Ml.Transforms.Autoencoder(Resume(o => o.Epochs = 4)).Fit(data));
        StringAssert.Contains(epochs.Message, "Epochs");
        // Options that cannot change the weights may differ.
        Ml.Transforms.Autoencoder(Resume(o => { o.TransformBatchSize = 7; o.LatentColumnName = "Code"; })).Fit(data);

        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var damaged = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => Ml.Transforms.Autoencoder(Resume(_ => { })).Fit(data));
        StringAssert.Contains(damaged.Message, "checksum");
        File.WriteAllBytes(path, bytes.AsSpan(0, 40).ToArray());
        Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderCheckpoint.Read(path));
        Assert.ThrowsExactly<FileNotFoundException>(() => Ml.Transforms.Autoencoder(Resume(o => o.ResumeFromCheckpoint = dir.File("missing.ckpt"))).Fit(data));
    }

    /// <summary>The options of the run the LoadCheck program trains and this process resumes (LoadCheck's "train" mode uses the same).</summary>
    private static AutoencoderOptions KilledRunOptions(int epochs) => new() { LatentDimension = 3, HiddenLayerSizes = [16], Epochs = epochs, BatchSize = 16, Seed = 3 };

    /// <summary>
    /// A real kill: a separate process trains 6 epochs with a checkpoint after each and is killed (SIGKILL) as soon as it
    /// reports epoch 4 (it reports before writing that epoch's checkpoint, then pauses 300 ms): the checkpoint of epoch 3
    /// (4 if the kill came late) is on disk, loads, and resuming from it here for the remaining epochs ends with the
    /// weights of an uninterrupted 6-epoch run in this process, bit for bit.
    /// </summary>
    [TestMethod]
    public void KilledProcessResumesFromItsLastCheckpointExactly()
    {
        using var dir = new TempDirectory("ckpt-kill");
        var rows = Synthetic.LowRank(600, 10, 3, seed: 12);
        File.WriteAllLines(dir.File("rows.txt"), rows.Select(r => string.Join(" ", r.Select(MlNetModelSaveLoadTests.Hex))));
        string checkpoint = dir.File("run.ckpt");
        var start = MlNetModelSaveLoadTests.LoadCheckStartInfo("train", dir.File("rows.txt"), checkpoint, "6");
        using (var child = System.Diagnostics.Process.Start(start)!)
        {
            var stderr = child.StandardError.ReadToEndAsync();
            string? line;
            var seen = new List<string>();
            while ((line = child.StandardOutput.ReadLine()) is not null)
            {
                seen.Add(line);
                if (line == "EPOCH 4")
                {
                    child.Kill(entireProcessTree: true);
                    break;
                }
            }
            Assert.IsTrue(child.WaitForExit(TimeSpan.FromSeconds(60)), "the killed process did not end");
            Assert.AreEqual("EPOCH 4", line, $"the training process ended before it was killed: {string.Join(" / ", seen)} {stderr.Result}");
        }

        var saved = AutoencoderCheckpoint.Read(checkpoint);
        Assert.IsTrue(saved.CompletedEpochs is 3 or 4, $"the checkpoint left holds {saved.CompletedEpochs} epochs");
        var data = Ml.ToDataView(rows);
        var resume = KilledRunOptions(6);
        resume.ResumeFromCheckpoint = checkpoint;
        AssertSameWeights(Ml.Transforms.Autoencoder(KilledRunOptions(6)).Fit(data), Ml.Transforms.Autoencoder(resume).Fit(data));
    }

    internal static void AssertSameWeights(AutoencoderTransformer expected, AutoencoderTransformer actual)
    {
        var a = expected.Model.Network.state_dict();
        var b = actual.Model.Network.state_dict();
        CollectionAssert.AreEqual(a.Keys.ToArray(), b.Keys.ToArray());
        foreach (var (name, tensor) in a)
        {
            var x = Runtime.TensorSpans.ToArray<float>(tensor.to_type(TorchSharp.torch.ScalarType.Float32));
            var y = Runtime.TensorSpans.ToArray<float>(b[name].to_type(TorchSharp.torch.ScalarType.Float32));
            int differ = x.Zip(y).Count(p => BitConverter.SingleToInt32Bits(p.First) != BitConverter.SingleToInt32Bits(p.Second));
            Assert.AreEqual(0, differ, $"{differ} of {x.Length} values of '{name}' differ (largest difference {x.Zip(y).Max(p => Math.Abs(p.First - p.Second))})");
        }
    }

    /// <summary>A write-only stream that passes <paramref name="limit"/> bytes on to <paramref name="inner"/>, then fails as a crashing disk would.</summary>
    private sealed class FailingStream(Stream inner, long limit) : Stream
    {
        private long written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int passed = (int)Math.Min(buffer.Length, limit - written);
            inner.Write(buffer[..passed]);
            written += passed;
            if (passed < buffer.Length) throw new IOException($"simulated crash after {written} bytes of the checkpoint");
        }
    }

    internal sealed class OnEpoch(Action<EpochRecord> action) : IProgress<EpochRecord>
    {
        public void Report(EpochRecord value) => action(value);
    }
}
