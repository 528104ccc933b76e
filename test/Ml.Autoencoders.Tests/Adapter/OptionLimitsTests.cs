using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Option values that cannot work are refused before any training with an error that names the option: NaN and
/// infinite numbers, absurd layer widths, oversubscribed threads, empty validation data; and sizes that merely exceed
/// the data (a batch or shuffle buffer larger than the rows, when streaming) just work.
/// </summary>
[TestClass]
public sealed class OptionLimitsTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static AutoencoderOptions Small() => new() { LatentDimension = 2, HiddenLayerSizes = [8], Epochs = 2, BatchSize = 16, Seed = 3 };

    /// <summary>Every floating-point option at NaN or infinity is refused when the estimator is created, naming the option.</summary>
    [TestMethod]
    [DataRow(nameof(AutoencoderOptions.LearningRate), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderOptions.LearningRate), double.NaN)]
    [DataRow(nameof(AutoencoderOptions.MinLearningRate), double.NaN)]
    [DataRow(nameof(AutoencoderOptions.StepFactor), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderOptions.WeightDecay), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderOptions.Momentum), double.NaN)]
    [DataRow(nameof(AutoencoderOptions.ValidationFraction), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderOptions.EarlyStoppingMinDelta), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderOptions.EarlyStoppingMinDelta), double.NaN)]
    [DataRow(nameof(AutoencoderOptions.PretrainLearningRate), double.PositiveInfinity)]
    [DataRow(nameof(AutoencoderOptions.KlWeight), double.PositiveInfinity)]
    [DataRow(nameof(GaussianNoise.ClipMin), double.NaN)]
    [DataRow(nameof(GaussianNoise.ClipMin), double.NegativeInfinity)]
    [DataRow(nameof(GaussianNoise.ClipMax), double.PositiveInfinity)]
    [DataRow(nameof(GaussianNoise.Factor), double.PositiveInfinity)]
    public void NonFiniteNumbersAreRefusedNamingTheOption(string option, double value)
    {
        var options = Small();
        switch (option)
        {
            case nameof(GaussianNoise.ClipMin): options.Corruption = new GaussianNoise { ClipMin = value }; break;
            case nameof(GaussianNoise.ClipMax): options.Corruption = new GaussianNoise { ClipMax = value }; break;
            case nameof(GaussianNoise.Factor): options.Corruption = new GaussianNoise { Factor = value }; break;
            case nameof(AutoencoderOptions.KlWeight): options.LatentHead = LatentHead.Gaussian; options.KlWeight = value; break;
            case nameof(AutoencoderOptions.PretrainLearningRate): options.PretrainLearningRate = value; break;
            default: typeof(AutoencoderOptions).GetProperty(option)!.SetValue(options, value); break;
        }
        var e = Assert.Throws<ArgumentException>(() => Ml.Transforms.Autoencoder(options));
        Assert.AreEqual(option, e.ParamName);
    }

    /// <summary>
    /// A width of int.MaxValue (latent or hidden) is refused when the estimator is created, naming the option and the
    /// weight count, instead of failing inside libtorch; a width that is only too large for the real input (200,000
    /// features x 20,000 hidden units) is refused at Fit before any training.
    /// </summary>
    [TestMethod]
    public void NetworksAboveTheParameterLimitAreRefusedNamingTheOption()
    {
        var latent = Small();
        latent.LatentDimension = int.MaxValue;
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Ml.Transforms.Autoencoder(latent));
        Assert.AreEqual(nameof(AutoencoderOptions.LatentDimension), e.ParamName);
        StringAssert.Contains(e.Message, AutoencoderOptions.Defaults.MaxParameters.ToString("N0"));

        var hidden = Small();
        hidden.HiddenLayerSizes = [64, int.MaxValue];
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Ml.Transforms.Autoencoder(hidden));
        Assert.AreEqual(nameof(AutoencoderOptions.HiddenLayerSizes), e.ParamName);
        StringAssert.Contains(e.Message, "HiddenLayerSizes[1]");

        var wide = Small();
        wide.HiddenLayerSizes = [20_000];
        var estimator = Ml.Transforms.Autoencoder(wide); // fine until the input size is known
        var rows = Enumerable.Range(0, 2).Select(i => Enumerable.Repeat(0.5f, 200_000).ToArray()).ToArray();
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(Ml.ToDataView(rows)));
        Assert.AreEqual(nameof(AutoencoderOptions.HiddenLayerSizes), e.ParamName);
        StringAssert.Contains(e.Message, "200000 inputs");
        StringAssert.Contains(e.Message, (2L * (200_000L * 20_000 + 20_000 * 2) + 20_000 + 2 + 20_000 + 200_000).ToString("N0"));
    }

    /// <summary>
    /// Streaming with BatchSize and ShuffleBufferRows of int.MaxValue trains (one batch per epoch, as in memory) instead
    /// of overflowing; without shuffling the losses equal those of in-memory training with the same batch size.
    /// </summary>
    [TestMethod]
    public void StreamingBatchAndBufferLargerThanTheDataWork()
    {
        var data = Ml.ToDataView(Synthetic.LowRank(50, 8, 2));
        AutoencoderOptions Options(DataCaching caching, bool shuffle) => new()
        {
            LatentDimension = 2, HiddenLayerSizes = [8], Epochs = 3, Seed = 3, Caching = caching, Shuffle = shuffle,
            BatchSize = int.MaxValue, ShuffleBufferRows = int.MaxValue,
        };
        var streamed = Ml.Transforms.Autoencoder(Options(DataCaching.Stream, shuffle: false)).Fit(data);
        var inMemory = Ml.Transforms.Autoencoder(Options(DataCaching.Memory, shuffle: false)).Fit(data);
        Assert.AreEqual(3, streamed.History.Epochs.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.AreEqual(50L, streamed.History.Epochs[i].Rows);
            Assert.AreEqual(inMemory.History.Epochs[i].TrainLoss, streamed.History.Epochs[i].TrainLoss, 1e-6, $"epoch {i + 1}");
        }
        var shuffled = Ml.Transforms.Autoencoder(Options(DataCaching.Stream, shuffle: true)).Fit(data);
        Assert.AreEqual(3, shuffled.History.Epochs.Count);
        Assert.IsTrue(shuffled.History.Epochs.All(r => double.IsFinite(r.TrainLoss) && r.Rows == 50));
        foreach (var m in new[] { streamed, inMemory, shuffled }) m.Model.Dispose();
    }

    /// <summary>Empty ValidationData is reported as validation data, not as training data.</summary>
    [TestMethod]
    public void EmptyValidationDataIsNamed()
    {
        var options = Small();
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 8);
        options.ValidationData = Ml.Data.LoadFromEnumerable(new List<VectorRow>(), schema);
        var e = Assert.ThrowsExactly<AutoencoderDataException>(() => Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Synthetic.LowRank(40, 8, 2))));
        StringAssert.Contains(e.Message, "validation data");
        StringAssert.Contains(e.Message, nameof(AutoencoderOptions.ValidationData));
        Assert.IsFalse(e.Message.Contains("training data"), e.Message);
    }

    /// <summary>More threads than 4 per core are refused when the estimator is created, naming the option and the core count; 4 per core is accepted.</summary>
    [TestMethod]
    public void OversubscribedThreadsAreRefused()
    {
        int cores = Environment.ProcessorCount;
        foreach (int threads in new[] { 1000, 4 * cores + 1 }.Where(t => t > 4 * cores))
        {
            var options = Small();
            options.Threads = threads;
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Ml.Transforms.Autoencoder(options));
            Assert.AreEqual(nameof(AutoencoderOptions.Threads), e.ParamName);
            StringAssert.Contains(e.Message, $"{cores} cores");
        }
        var most = Small();
        most.Threads = 4 * cores;
        Ml.Transforms.Autoencoder(most);
    }
}
