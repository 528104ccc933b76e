using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Every variant survives the library's model file (and ML.NET's model zip): identical outputs in every column, the
/// whole history with its terms and pretraining stages, and the options that make the variant.
/// </summary>
[TestClass]
public sealed class VariantPersistenceTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly float[][] Rows = Synthetic.LowRank(120, 10, 2, seed: 8);

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The named variants, each with its own corruption, penalties, head or pretraining.</summary>
    public static IEnumerable<object[]> Variants => new[]
    {
        new object[] { "denoising" }, new object[] { "denoising, heteroscedastic" }, new object[] { "masking" },
        new object[] { "salt and pepper" }, new object[] { "sparse KL" }, new object[] { "sparse L1" },
        new object[] { "contractive" }, new object[] { "variational" }, new object[] { "stacked, pretrained, tied" },
    };

    private static AutoencoderOptions Variant(string name)
    {
        var options = name switch
        {
            "denoising" => AutoencoderPresets.Denoising(0.3),
            "denoising, heteroscedastic" => new AutoencoderOptions
            {
                Corruption = new GaussianNoise { Factor = 0.5, StandardDeviations = Enumerable.Range(0, 10).Select(i => 0.1f * i).ToArray(), ClipMin = -0.5 },
            },
            "masking" => new AutoencoderOptions { Corruption = new MaskingNoise { Rate = 0.2, MaskValue = 0.5f } },
            "salt and pepper" => new AutoencoderOptions { Corruption = new SaltAndPepperNoise { Rate = 0.15, Low = 0.1f, High = 0.9f } },
            "sparse KL" => AutoencoderPresets.Sparse(latentDimension: 5, kind: SparsityKind.KlDivergence, weight: 0.2, targetActivation: 0.1),
            "sparse L1" => AutoencoderPresets.Sparse(latentDimension: 5, kind: SparsityKind.L1, weight: 2e-3),
            "contractive" => AutoencoderPresets.Contractive(latentDimension: 3, weight: 0.02),
            "variational" => AutoencoderPresets.Variational(latentDimension: 2, klWeight: 0.5, hiddenLayerSizes: new[] { 8 }),
            "stacked, pretrained, tied" => AutoencoderPresets.Stacked(hiddenLayerSizes: new[] { 8, 6 }, latentDimension: 3, pretrainEpochs: 2, tiedWeights: true),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown variant."),
        };
        if (options.Corruption is not null) options.LatentDimension = 3;
        if (options.LatentHead == Networks.LatentHead.Deterministic && options.PretrainEpochs == 0) options.HiddenLayerSizes = new[] { 8 };
        if (name == "variational")
        {
            options.KlWarmupEpochs = 2;
            options.Outputs = AutoencoderOutputs.AllVariational;
        }
        options.Epochs = 3;
        options.BatchSize = 32;
        options.ValidationFraction = 0.25;
        options.Seed = 6;
        return options;
    }

    private static string[] Columns(AutoencoderTransformer t) =>
        AutoencoderTransformer.OutputColumns(t.Outputs, t.Options).Select(c => c.Name).ToArray();

    private static AutoencoderTransformer RoundTrip(AutoencoderTransformer model)
    {
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        return AutoencoderTransformer.Load(stream);
    }

    /// <summary>
    /// Save then Load gives bit-identical values in every output column, the same history (losses, terms, validation
    /// terms, best epoch, pretraining stages) and the same options; fitting again from the loaded options reproduces
    /// the model, so nothing that shapes training was lost.
    /// </summary>
    [TestMethod]
    [DynamicData(nameof(Variants))]
    public void VariantRoundTripsThroughTheModelFile(string name)
    {
        var data = Ml.ToDataView(Rows);
        var model = Ml.Transforms.Autoencoder(Variant(name)).Fit(data);
        var loaded = RoundTrip(model);

        var columns = Columns(model);
        CollectionAssert.AreEqual(columns, Columns(loaded), "same output columns");
        Assert.IsTrue(columns.Length >= 3);
        var expected = EstimatorConformance.ReadOutputs(model.Transform(data), columns);
        EstimatorConformance.AssertSameOutputs(expected, EstimatorConformance.ReadOutputs(loaded.Transform(data), columns), $"{name}: loaded model");

        AssertSameHistory(model.History, loaded.History, name);
        Assert.HasCount(model.Model.PretrainingHistory.Count, loaded.Model.PretrainingHistory, $"{name}: pretraining stages");
        for (int i = 0; i < model.Model.PretrainingHistory.Count; i++)
            AssertSameHistory(model.Model.PretrainingHistory[i], loaded.Model.PretrainingHistory[i], $"{name}, stage {i + 1}");
        Assert.AreEqual(model.Model.Architecture, loaded.Model.Architecture);
        Assert.AreEqual(model.Model.LatentHead, loaded.Model.LatentHead);

        string savedOptions = JsonSerializer.Serialize(model.Options, Json);
        Assert.AreEqual(savedOptions, JsonSerializer.Serialize(loaded.Options, Json), $"{name}: options");
        var refit = Ml.Transforms.Autoencoder(loaded.Options).Fit(data);
        EstimatorConformance.AssertSameOutputs(expected, EstimatorConformance.ReadOutputs(refit.Transform(data), columns), $"{name}: refit from the loaded options");
        foreach (var t in new[] { model, loaded, refit }) t.Model.Dispose();
    }

    /// <summary>What makes each variant is in its loaded options: corruption and its settings, penalties and their settings, head, β, tying, pretraining.</summary>
    [TestMethod]
    public void LoadedOptionsKeepTheVariantsParts()
    {
        var data = Ml.ToDataView(Rows);
        AutoencoderOptions Loaded(string name)
        {
            var model = Ml.Transforms.Autoencoder(Variant(name)).Fit(data);
            var loaded = RoundTrip(model);
            model.Model.Dispose();
            loaded.Model.Dispose();
            return loaded.Options;
        }
        var heteroscedastic = (GaussianNoise)Loaded("denoising, heteroscedastic").Corruption!;
        Assert.AreEqual(0.5, heteroscedastic.Factor);
        CollectionAssert.AreEqual(Enumerable.Range(0, 10).Select(i => 0.1f * i).ToArray(), heteroscedastic.StandardDeviations);
        Assert.AreEqual(-0.5, heteroscedastic.ClipMin);
        Assert.IsNull(heteroscedastic.ClipMax);
        var pepper = (SaltAndPepperNoise)Loaded("salt and pepper").Corruption!;
        Assert.AreEqual((0.15, 0.1f, 0.9f), (pepper.Rate, pepper.Low, pepper.High));
        var masking = (MaskingNoise)Loaded("masking").Corruption!;
        Assert.AreEqual((0.2, 0.5f), (masking.Rate, masking.MaskValue));
        var sparse = (SparsityPenalty)Loaded("sparse KL").Penalties.Single();
        Assert.AreEqual((SparsityKind.KlDivergence, 0.2, 0.1), (sparse.Kind, sparse.Weight, sparse.TargetActivation));
        var contractive = (ContractivePenalty)Loaded("contractive").Penalties.Single();
        Assert.AreEqual(0.02, contractive.Weight);
        var variational = Loaded("variational");
        Assert.AreEqual((Networks.LatentHead.Gaussian, 0.5, 2, AutoencoderOutputs.AllVariational, ReconstructionLoss.BinaryCrossEntropy),
            (variational.LatentHead, variational.KlWeight, variational.KlWarmupEpochs, variational.Outputs, variational.Loss));
        var stacked = Loaded("stacked, pretrained, tied");
        Assert.AreEqual((true, 2), (stacked.TiedWeights, stacked.PretrainEpochs));
    }

    /// <summary>A variational autoencoder saved by ML.NET's <c>Model.Save</c> loads with identical values in all five columns.</summary>
    [TestMethod]
    public void VariationalAutoencoderRoundTripsThroughMlNetModelSave()
    {
        using var temp = new TempDirectory("mlae-variant-tests");
        var data = Ml.ToDataView(Rows);
        var model = Ml.Transforms.Autoencoder(Variant("variational")).Fit(data);
        string path = temp.File("vae.zip");
        Ml.Model.Save(model, data.Schema, path);
        var loaded = (AutoencoderTransformer)Ml.Model.Load(path, out _);
        var columns = Columns(model);
        Assert.HasCount(5, columns);
        EstimatorConformance.AssertSameOutputs(
            EstimatorConformance.ReadOutputs(model.Transform(data), columns),
            EstimatorConformance.ReadOutputs(loaded.Transform(data), columns), "ML.NET save/load");
        AssertSameHistory(model.History, loaded.History, "ML.NET save/load");
        model.Model.Dispose();
        loaded.Model.Dispose();
    }

    private static void AssertSameHistory(TrainingHistory expected, TrainingHistory actual, string what)
    {
        Assert.AreEqual(expected.BestEpoch, actual.BestEpoch, $"{what}: best epoch");
        Assert.AreEqual(expected.StoppedEarly, actual.StoppedEarly, $"{what}: stopped early");
        Assert.AreEqual(expected.RestoredBestWeights, actual.RestoredBestWeights, $"{what}: restored best weights");
        Assert.HasCount(expected.Epochs.Count, actual.Epochs, $"{what}: epochs");
        for (int i = 0; i < expected.Epochs.Count; i++)
        {
            var (e, a) = (expected.Epochs[i], actual.Epochs[i]);
            Assert.AreEqual((e.Epoch, e.TrainLoss, e.ValidationLoss, e.LearningRate, e.Duration, e.Rows, e.PretrainingStage),
                (a.Epoch, a.TrainLoss, a.ValidationLoss, a.LearningRate, a.Duration, a.Rows, a.PretrainingStage), $"{what}: epoch {i + 1}");
            CollectionAssert.AreEquivalent(e.Terms.ToArray(), a.Terms.ToArray(), $"{what}: epoch {i + 1} terms");
            CollectionAssert.AreEquivalent(e.ValidationTerms.ToArray(), a.ValidationTerms.ToArray(), $"{what}: epoch {i + 1} validation terms");
        }
    }
}
