using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>The k-NN, t-SNE and fine-tuning code quoted in docs/knn.md, docs/tsne.md and docs/fine-tuning.md (DocumentationSnippetTests checks the quotes), kept here so that it compiles and runs.</summary>
internal static class ReadmeDownstreamSample
{
    public static void Run(string[] args)
    {
        // --- quoted in docs/ from here ---
        var ml = new MLContext(seed: 0);
        var (train, test) = FashionMnist.LoadDefault(maxTrain: 10_000, maxTest: 2_000);
        IDataView trainData = ml.Data.LoadFromEnumerable(SampleData.Rows(train));
        IDataView testData = ml.Data.LoadFromEnumerable(SampleData.Rows(test));

        // Autoencoder codes -> 5-nearest-neighbours classifier, one pipeline.
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.Transforms.Autoencoder(latentDimension: 16))
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors("Label", "LatentCode", numberOfNeighbors: 5));
        var model = pipeline.Fit(trainData);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(testData), "Label");
        Console.WriteLine($"5-NN on 16-d codes: accuracy {metrics.MicroAccuracy:P1}");

        // t-SNE of the test codes: Fit embeds the rows, Transform returns their coordinates.
        IDataView codes = model.Transform(testData);
        var tsne = ml.Transforms.ProjectToTsne(outputColumnName: "Tsne", inputColumnName: "LatentCode").Fit(codes);
        float[][] xy = tsne.Transform(codes).GetColumn<float[]>("Tsne").ToArray();
        float[] input = codes.GetColumn<float[]>("LatentCode").SelectMany(v => v).ToArray();
        double trust = EmbeddingQuality.Trustworthiness(input, 16, xy.SelectMany(p => p).ToArray(), 2);
        Console.WriteLine($"t-SNE ({tsne.Method}) of {xy.Length} codes: KL {tsne.KlDivergence:F3}, trustworthiness {trust:F4}");

        // Fine-tuning: the pipeline's autoencoder (trained without labels), its encoder trained on with a softmax head.
        var pretrained = ((IEnumerable<ITransformer>)model).OfType<AutoencoderTransformer>().Single();
        var fine = new AutoencoderClassifierOptions { Autoencoder = pretrained, Epochs = 10, FreezeEncoderEpochs = 3, EncoderLearningRate = 2e-4 };
        var classifier = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.AutoencoderClassifier(fine)).Fit(trainData);
        var fineMetrics = ml.MulticlassClassification.Evaluate(classifier.Transform(testData), "Label");
        Console.WriteLine($"fine-tuned encoder + softmax: accuracy {fineMetrics.MicroAccuracy:P1}");
        // --- to here ---
        foreach (var t in ((IEnumerable<ITransformer>)classifier).OfType<AutoencoderClassifierTransformer>()) t.Autoencoder.Model.Dispose();
        pretrained.Model.Dispose();
        tsne.Release();
    }
}
