using System.Runtime.InteropServices;
using Microsoft.ML;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;
using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// libtorch's thread settings are process-wide: the library sets a thread count only for the call that asked for it,
/// and makes libtorch's OpenMP workers wait passively (spinning workers made fits 20-50x slower next to other work).
/// </summary>
[TestClass]
public sealed class ThreadPolicyTests
{
    /// <summary><c>Threads</c> holds during Fit and the count in force before it is back afterwards.</summary>
    [TestMethod]
    public void FitRestoresTheThreadCountItSet()
    {
        int before = torch.get_num_threads();
        int asked = before == 2 ? 1 : 2;
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
        int asked = before == 2 ? 1 : 2;
        var ml = new MLContext(seed: 0);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 80).Select(i => new LabelledRow
        {
            Features = Enumerable.Range(0, 6).Select(j => (float)(random.NextDouble() + (i % 2) * (j % 2))).ToArray(),
            Label = (uint)(i % 2),
        }).ToArray();
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
    /// Loading libtorch through the library sets OMP_WAIT_POLICY=PASSIVE in the process environment (before libgomp
    /// reads it) unless the host set a policy, and says which in the runtime description.
    /// </summary>
    [TestMethod]
    public void OpenMpWorkersWaitPassivelyUnlessTheHostSaysOtherwise()
    {
        if (!OperatingSystem.IsLinux()) Assert.Inconclusive("libgomp's policy is set on Linux only.");
        string description = TorchRuntime.EnsureLoaded();
        string? now = Marshal.PtrToStringAnsi(GetEnv("OMP_WAIT_POLICY"));
        Assert.IsNotNull(now, description);
        if (description.Contains("(host)", StringComparison.Ordinal))
            StringAssert.Contains(description, $"OMP_WAIT_POLICY={now} (host)");
        else
        {
            StringAssert.Contains(description, "OMP_WAIT_POLICY=PASSIVE (set by Ml.Autoencoders)");
            Assert.AreEqual("PASSIVE", now);
        }
    }

    [DllImport("libc.so.6", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPStr)] string name);

    private sealed class SynchronousProgress(Action<Ml.Autoencoders.Training.EpochRecord> report) : IProgress<Ml.Autoencoders.Training.EpochRecord>
    {
        public void Report(Ml.Autoencoders.Training.EpochRecord value) => report(value);
    }
}
