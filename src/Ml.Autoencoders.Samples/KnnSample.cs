using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// The 784-64-32-16 autoencoder's 16-d codes -> 5-nearest-neighbours classifier, in one ML.NET pipeline, next to the same
/// k-NN on raw pixels and on PCA-16 features (ML.NET's ProjectToPrincipalComponents), as a table of test accuracies.
/// </summary>
internal static class KnnSample
{
    private const int K = 5;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);
        var testView = ml.ToDataView(test);

        var classic = DenseFeaturesSample.ClassicOptions(epochs, "784-64-32-16");
        classic.Outputs = AutoencoderOutputs.LatentCode;
        var defaults = new AutoencoderOptions
        {
            LatentDimension = 16,
            Epochs = epochs,
            Outputs = AutoencoderOutputs.LatentCode,
            Progress = new ConsoleProgress("defaults"),
        };

        var rows = new List<(string Features, int Width, Result R)>
        {
            ("raw pixels", 784, Evaluate(ml, null, "Features", trainView, testView)),
            ("PCA-16 (ProjectToPrincipalComponents)", 16,
                Evaluate(ml, ml.Transforms.ProjectToPrincipalComponents("Pca", "Features", rank: 16, seed: 0), "Pca", trainView, testView)),
            ("784-64-32-16 ReLU autoencoder code", 16,
                Evaluate(ml, ml.Transforms.Autoencoder(classic), AutoencoderColumnNames.LatentCode, trainView, testView)),
            ("library-default autoencoder, 16-d code", 16,
                Evaluate(ml, ml.Transforms.Autoencoder(defaults), AutoencoderColumnNames.LatentCode, trainView, testView)),
        };

        Console.WriteLine($"\n{K}-NN (Euclidean, uniform votes) on {train.Count:N0} training and {test.Count:N0} test images:");
        Console.WriteLine($"{"features",-40} {"dims",5} {"accuracy",9} {"macro",7} {"fit",7} {"predict",8}");
        foreach (var (name, width, r) in rows)
            Console.WriteLine($"{name,-40} {width,5} {r.Accuracy,9:P2} {r.MacroAccuracy,7:P1} {r.FitSeconds,6:F1}s {r.PredictSeconds,7:F1}s");
        Console.WriteLine("fit: the feature step (PCA, autoencoder training) plus storing the rows; predict: Transform + Evaluate of the test set.");
    }

    private sealed record Result(double Accuracy, double MacroAccuracy, double FitSeconds, double PredictSeconds);

    private static Result Evaluate(MLContext ml, IEstimator<ITransformer>? features, string featureColumn, IDataView train, IDataView test)
    {
        IEstimator<ITransformer> pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
        if (features is not null) pipeline = pipeline.Append(features);
        pipeline = pipeline.Append(ml.MulticlassClassification.Trainers.KNearestNeighbors("Label", featureColumn, numberOfNeighbors: K));
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        double fit = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), "Label");
        double predict = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"  {featureColumn}: accuracy {metrics.MicroAccuracy:P2}, fit {fit:F1}s, predict {predict:F1}s");
        foreach (var disposable in ((IEnumerable<ITransformer>)model).OfType<AutoencoderTransformer>()) disposable.Model.Dispose();
        return new Result(metrics.MicroAccuracy, metrics.MacroAccuracy, fit, predict);
    }
}
