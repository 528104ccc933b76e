using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.SampleData;

namespace Ml.Autoencoders.Samples;

/// <summary>The variants example quoted in docs/autoencoders.md (DocumentationSnippetTests checks the quote), kept here so that it compiles and runs.</summary>
internal static class ReadmeVariantsSample
{
    public static void Run(string[] args)
    {
        // --- quoted in docs/autoencoders.md from here ---
        var ml = new MLContext(seed: 0);
        var (train, test) = FashionMnist.LoadDefault(maxTrain: 10_000, maxTest: 1_000);
        IDataView trainData = ml.Data.LoadFromEnumerable(SampleData.Rows(train));
        IDataView testData = ml.Data.LoadFromEnumerable(SampleData.Rows(test));

        // Presets are options; options combine. A beta-VAE with a deep body, trained on masked inputs:
        var options = AutoencoderPresets.Variational(latentDimension: 2, klWeight: 2.0, hiddenLayerSizes: new[] { 512, 256 });
        options.Corruption = new MaskingNoise { Rate = 0.1 };
        options.KlWarmupEpochs = 2;
        options.Epochs = 5;
        var vae = ml.Transforms.Autoencoder(options).Fit(trainData);
        float[][] generated = vae.Model.Sample(count: 16, seed: 1);                   // new images from the prior
        float[][] morph = vae.Model.Interpolate(test.Row(0), test.Row(1), steps: 8);  // decoded path between two images
        var means = vae.Transform(testData).GetColumn<float[]>("LatentCode").ToList();  // posterior means (deterministic)
        Console.WriteLine($"VAE: {vae.History.Epochs[^1]}");

        // A denoising sparse autoencoder: the denoising preset plus a penalty.
        var denoisingSparse = AutoencoderPresets.Denoising(noiseFactor: 0.5);
        denoisingSparse.Penalties.Add(new SparsityPenalty { Kind = SparsityKind.L1, Weight = 1e-3 });
        denoisingSparse.Epochs = 5;
        var dsae = ml.Transforms.Autoencoder(denoisingSparse).Fit(trainData);

        // Stacked, with greedy layer-wise pretraining (2 epochs per layer), then 5 epochs end to end.
        var stacked = ml.Transforms.StackedAutoencoder(new[] { 256, 64 }, latentDimension: 16, pretrainEpochs: 2, epochs: 5).Fit(trainData);
        foreach (var (stage, history) in stacked.Model.PretrainingHistory.Select((h, i) => (i + 1, h)))
            Console.WriteLine($"stacked, pretraining stage {stage}: loss {history.Epochs[0].TrainLoss:F4} -> {history.Epochs[^1].TrainLoss:F4}");
        // --- to here ---

        Console.WriteLine($"{generated.Length} samples, {morph.Length} interpolation steps, {means.Count} latent means; " +
                          $"denoising-sparse final loss {dsae.History.Epochs[^1].TrainLoss:F4} ({string.Join(", ", dsae.History.Epochs[^1].Terms.Select(t => $"{t.Key} {t.Value:G4}"))}); " +
                          $"stacked final loss {stacked.History.Epochs[^1].TrainLoss:F4}");
        foreach (var model in new[] { vae, dsae, stacked }) model.Model.Dispose();
    }
}
