using Microsoft.ML;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>Combinations of variant parts that make no sense are refused with an exception that names the option.</summary>
[TestClass]
public sealed class VariantValidationTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static AutoencoderOptions Small() => new() { LatentDimension = 2, HiddenLayerSizes = new[] { 4 }, Epochs = 1, BatchSize = 16 };

    private static AutoencoderOptions Variational()
    {
        var o = Small();
        o.LatentHead = LatentHead.Gaussian;
        return o;
    }

    /// <summary>Creating the estimator throws an <see cref="ArgumentException"/> whose message names each of <paramref name="names"/>.</summary>
    private static void Rejects(AutoencoderOptions options, params string[] names)
    {
        var e = Assert.Throws<ArgumentException>(() => Ml.Transforms.Autoencoder(options));
        foreach (var name in names) StringAssert.Contains(e.Message, name, $"the message names '{name}'");
    }

    /// <summary>Options of the variational head that a deterministic code cannot take, and deterministic-only parts on a Gaussian head.</summary>
    [TestMethod]
    public void HeadSpecificOptionsAreRejectedOnTheOtherHead()
    {
        var tied = Variational();
        tied.TiedWeights = true;
        Rejects(tied, nameof(AutoencoderOptions.TiedWeights));
        var pretrained = Variational();
        pretrained.PretrainEpochs = 2;
        Rejects(pretrained, nameof(AutoencoderOptions.PretrainEpochs));
        var reluCode = Variational();
        reluCode.CodeActivation = Activation.ReLU;
        Rejects(reluCode, nameof(AutoencoderOptions.CodeActivation), "Linear");
        var sparse = Variational();
        sparse.Penalties.Add(new SparsityPenalty());
        Rejects(sparse, "sparsity", nameof(AutoencoderOptions.LatentHead));

        var beta = Small();
        beta.KlWeight = 0.5;
        Rejects(beta, nameof(AutoencoderOptions.KlWeight), nameof(AutoencoderOptions.LatentHead));
        var warmup = Small();
        warmup.KlWarmupEpochs = 2;
        Rejects(warmup, nameof(AutoencoderOptions.KlWarmupEpochs));
        foreach (var output in new[] { AutoencoderOutputs.LatentLogVariance, AutoencoderOutputs.SampledLatentCode })
        {
            var o = Small();
            o.Outputs = AutoencoderOutputs.All | output;
            Rejects(o, output.ToString(), nameof(AutoencoderOptions.LatentHead));
        }
    }

    /// <summary>KL sparsity compares mean activations in (0, 1) with a rate: it needs a sigmoid code and a rate in (0, 1).</summary>
    [TestMethod]
    public void KlSparsityNeedsASigmoidCodeAndARate()
    {
        foreach (var code in new[] { Activation.ReLU, Activation.Linear, Activation.Tanh })
        {
            var o = Small();
            o.CodeActivation = code;
            o.Penalties.Add(new SparsityPenalty { Kind = SparsityKind.KlDivergence });
            Rejects(o, nameof(AutoencoderOptions.CodeActivation), "Sigmoid");
        }
        foreach (double rate in new[] { 0, 1, double.NaN, -0.1 })
        {
            var o = Small();
            o.CodeActivation = Activation.Sigmoid;
            o.Penalties.Add(new SparsityPenalty { Kind = SparsityKind.KlDivergence, TargetActivation = rate });
            Rejects(o, nameof(SparsityPenalty.TargetActivation));
        }
        var l1 = Small();
        l1.CodeActivation = Activation.Linear;
        l1.Penalties.Add(new SparsityPenalty { Kind = SparsityKind.L1, TargetActivation = 0 });
        Ml.Transforms.Autoencoder(l1); // L1 sparsity works on any code and ignores the rate
    }

    /// <summary>Weights out of range: negative, NaN or infinite KL weights and penalty weights; negative epoch counts; a null penalty.</summary>
    [TestMethod]
    public void WeightsAndCountsOutOfRangeAreRejected()
    {
        foreach (double bad in new[] { -1, double.NaN, double.PositiveInfinity })
        {
            var beta = Variational();
            beta.KlWeight = bad;
            Rejects(beta, nameof(AutoencoderOptions.KlWeight));
            var sparse = Small();
            sparse.Penalties.Add(new SparsityPenalty { Weight = bad });
            Rejects(sparse, "sparsity", nameof(AutoencoderPenalty.Weight));
            var contractive = Small();
            contractive.Penalties.Add(new ContractivePenalty { Weight = bad });
            Rejects(contractive, "contractive", nameof(AutoencoderPenalty.Weight));
        }
        var warmup = Variational();
        warmup.KlWarmupEpochs = -1;
        Rejects(warmup, nameof(AutoencoderOptions.KlWarmupEpochs));
        var pretrain = Small();
        pretrain.PretrainEpochs = -1;
        Rejects(pretrain, nameof(AutoencoderOptions.PretrainEpochs));
        var nullPenalty = Small();
        nullPenalty.Penalties.Add(null!);
        Rejects(nullPenalty, nameof(AutoencoderOptions.Penalties));
        var noList = Small();
        noList.Penalties = null!;
        Rejects(noList, nameof(AutoencoderOptions.Penalties));

        var zero = Variational(); // β = 0 is a legal (if degenerate) β-VAE
        zero.KlWeight = 0;
        zero.Penalties.Add(new ContractivePenalty { Weight = 0 });
        Ml.Transforms.Autoencoder(zero);
    }

    /// <summary>Corruption settings out of range are refused when the estimator is created, naming the setting.</summary>
    [TestMethod]
    public void CorruptionSettingsOutOfRangeAreRejected()
    {
        void RejectsCorruption(InputCorruption corruption, params string[] names)
        {
            var o = Small();
            o.Corruption = corruption;
            Rejects(o, names);
        }
        foreach (double bad in new[] { double.NaN, -0.1, double.PositiveInfinity })
            RejectsCorruption(new GaussianNoise { Factor = bad }, nameof(GaussianNoise.Factor));
        RejectsCorruption(new GaussianNoise { StandardDeviations = new[] { 1f, -1f } }, nameof(GaussianNoise.StandardDeviations));
        RejectsCorruption(new GaussianNoise { StandardDeviations = new[] { 1f, float.NaN } }, nameof(GaussianNoise.StandardDeviations));
        RejectsCorruption(new GaussianNoise { ClipMin = 1, ClipMax = 0 }, nameof(GaussianNoise.ClipMin), nameof(GaussianNoise.ClipMax));
        foreach (double bad in new[] { double.NaN, -0.1, 1.5 })
        {
            RejectsCorruption(new MaskingNoise { Rate = bad }, nameof(MaskingNoise.Rate));
            RejectsCorruption(new SaltAndPepperNoise { Rate = bad }, nameof(SaltAndPepperNoise.Rate));
        }
        RejectsCorruption(new MaskingNoise { MaskValue = float.NaN }, nameof(MaskingNoise.MaskValue));
        RejectsCorruption(new SaltAndPepperNoise { Low = 1, High = 0 }, nameof(SaltAndPepperNoise.Low), nameof(SaltAndPepperNoise.High));
    }

    /// <summary>Per-feature standard deviations of the wrong length pass the estimator (the width is unknown) and are refused at Fit, naming both counts.</summary>
    [TestMethod]
    public void StandardDeviationsOfTheWrongLengthAreRejectedAtFit()
    {
        var o = Small();
        o.Corruption = new GaussianNoise { StandardDeviations = new[] { 1f, 1f, 1f } };
        var estimator = Ml.Transforms.Autoencoder(o);
        var e = Assert.Throws<ArgumentException>(() => estimator.Fit(Ml.ToDataView(Synthetic.LowRank(20, 10, 2))));
        StringAssert.Contains(e.Message, nameof(GaussianNoise.StandardDeviations));
        StringAssert.Contains(e.Message, "3 values");
        StringAssert.Contains(e.Message, "10 features");
        var fits = Ml.Transforms.Autoencoder(o).Fit(Ml.ToDataView(Synthetic.LowRank(20, 3, 2)));
        fits.Model.Dispose();
    }

    /// <summary>Clipping that does not contain the data's range would corrupt clean values too: Fit refuses it, naming the clip settings, the column and the range found.</summary>
    [TestMethod]
    public void ClipRangeMustContainTheDataRange()
    {
        var rows = Synthetic.LowRank(40, 6, 2, squash: false);
        float min = rows.SelectMany(r => r).Min(), max = rows.SelectMany(r => r).Max();
        Assert.IsTrue(min < 0 && max > 1, "data outside [0, 1]");
        var options = AutoencoderPresets.Denoising(0.5);
        options.LatentDimension = 2;
        options.HiddenLayerSizes = new[] { 4 };
        options.Epochs = 1;
        var e = Assert.ThrowsExactly<AutoencoderDataException>(() => Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(rows)));
        foreach (var part in new[] { nameof(GaussianNoise.ClipMin), nameof(GaussianNoise.ClipMax), AutoencoderColumnNames.Features, "[0, 1]", min.ToString() })
            StringAssert.Contains(e.Message, part);
        Assert.AreEqual(AutoencoderColumnNames.Features, e.ColumnName);

        var oneSided = options.Clone();
        oneSided.Corruption = new GaussianNoise { Factor = 0.5, ClipMin = min };
        Ml.Transforms.Autoencoder(oneSided).Fit(Ml.ToDataView(rows)).Model.Dispose(); // [min, ∞) contains the data
        var tooHigh = options.Clone();
        tooHigh.Corruption = new GaussianNoise { Factor = 0.5, ClipMin = min + 0.01 };
        Assert.ThrowsExactly<AutoencoderDataException>(() => Ml.Transforms.Autoencoder(tooHigh).Fit(Ml.ToDataView(rows)));
    }

    /// <summary>Sensible combinations of parts are accepted: a denoising sparse autoencoder, a contractive VAE with corruption, tied weights with pretraining.</summary>
    [TestMethod]
    public void SensibleCombinationsAreAccepted()
    {
        var denoisingSparse = AutoencoderPresets.Denoising(0.3);
        denoisingSparse.CodeActivation = Activation.Sigmoid;
        denoisingSparse.Penalties.Add(new SparsityPenalty { Kind = SparsityKind.KlDivergence });
        denoisingSparse.Penalties.Add(new ContractivePenalty());
        Ml.Transforms.Autoencoder(denoisingSparse);
        var vae = AutoencoderPresets.Variational();
        vae.Corruption = new MaskingNoise();
        vae.Penalties.Add(new ContractivePenalty());
        vae.KlWarmupEpochs = 5;
        Ml.Transforms.Autoencoder(vae);
        Ml.Transforms.Autoencoder(AutoencoderPresets.Stacked(new[] { 64, 32 }, 8, pretrainEpochs: 3, tiedWeights: true));
    }
}
