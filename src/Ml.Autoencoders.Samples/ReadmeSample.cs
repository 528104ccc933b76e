using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>The pipeline code quoted in docs/autoencoders.md (DocumentationSnippetTests checks the quote), kept here so that it compiles and runs.</summary>
internal static class ReadmeSample
{
    public static void Run(string[] args)
    {
        // --- quoted in docs/autoencoders.md from here ---
        var ml = new MLContext(seed: 0);
        var (train, test) = FashionMnist.LoadDefault(maxTrain: 10_000, maxTest: 2_000);
        IDataView trainData = ml.Data.LoadFromEnumerable(SampleData.Rows(train));
        IDataView testData = ml.Data.LoadFromEnumerable(SampleData.Rows(test));

        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Autoencoder(new AutoencoderOptions
            {
                LatentDimension = 16,                                   // everything else: library defaults
                Progress = new Progress<Ml.Autoencoders.Training.EpochRecord>(e => Console.WriteLine(e)),
            }))
            .Append(ml.Transforms.NormalizeMeanVariance("LatentCode"))
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "LatentCode"));

        var model = pipeline.Fit(trainData);
        var scored = model.Transform(testData);
        var metrics = ml.MulticlassClassification.Evaluate(scored, "Label");
        double mse = scored.GetColumn<float>("ReconstructionError").Average();
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}, test reconstruction MSE {mse:F4}");

        var autoencoder = model.OfType<AutoencoderTransformer>().Single();
        float[] code = autoencoder.Model.Encode(test.Row(0));           // the model, directly
        autoencoder.Save("fashion-ae.mlae");                             // one self-describing file
        var reloaded = AutoencoderTransformer.Load("fashion-ae.mlae");
        // --- to here ---
        Console.WriteLine($"code of test image 0: [{string.Join(", ", code.Select(v => v.ToString("F2")))}]");
        Console.WriteLine($"reloaded: {reloaded.Model.Architecture}, same code: {reloaded.Model.Encode(test.Row(0)).SequenceEqual(code)}");
    }
}
