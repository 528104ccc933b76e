using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// A convolutional autoencoder (3x3 stride-2 convolutions with 16 and 8 channels: a 1x28x28 image becomes an 8x7x7 code
/// map) whose 392-value codes feed an ML.NET multiclass trainer in the same pipeline; the same trainer on the 784 raw
/// pixels and on the 256-unit dense code of the deep convolutional preset for comparison. The pixels come straight from the IDX vectors (the conv-denoising sample shows the route from
/// image files).
/// </summary>
internal static class ConvFeaturesSample
{
    private static readonly ImageShape Shape = new(1, 28, 28);

    public static void Run(string[] args)
    {
        var total = Stopwatch.StartNew();
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args, fallback: 5);
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);
        var testView = ml.ToDataView(test);

        var options = AutoencoderPresets.Convolutional(Shape);
        options.Epochs = epochs;
        options.Progress = new ConsoleProgress("conv");
        var withCodes = CodesToClassifier(ml, options);
        var deepOptions = AutoencoderPresets.DeepConvolutional(Shape);
        deepOptions.Epochs = epochs;
        deepOptions.Progress = new ConsoleProgress("deep conv");
        var withDeepCodes = CodesToClassifier(ml, deepOptions);
        var rawPixels = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMinMax(AutoencoderColumnNames.Features))
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", AutoencoderColumnNames.Features));

        Console.WriteLine($"\nConvolutional autoencoder on {Shape} images: {options.Loss}, {options.Optimizer} lr {options.LearningRate} " +
            $"{options.LearningRateSchedule}, batch {options.BatchSize}, {epochs} epochs; codes -> NormalizeMinMax -> SdcaMaximumEntropy");
        var (codeModel, codeMetrics, codeSeconds) = FitAndEvaluate(ml, withCodes, trainView, testView);
        var autoencoder = codeModel.OfType<AutoencoderTransformer>().Single();
        Console.WriteLine(autoencoder.Model.Architecture);
        double testMse = autoencoder.Transform(testView).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
        Console.WriteLine($"Test reconstruction MSE {testMse:F5}; training {autoencoder.History.SamplesPerSecond():F0} rows/s.");

        Console.WriteLine($"\nDeep convolutional autoencoder (16/32/64/128 channels, stride 2, 256-unit sigmoid dense code), {epochs} epochs; codes -> NormalizeMinMax -> SdcaMaximumEntropy");
        var (deepModel, deepMetrics, deepSeconds) = FitAndEvaluate(ml, withDeepCodes, trainView, testView);
        var deep = deepModel.OfType<AutoencoderTransformer>().Single();
        Console.WriteLine(deep.Model.Architecture);
        double deepMse = deep.Transform(testView).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
        Console.WriteLine($"Test reconstruction MSE {deepMse:F5}; training {deep.History.SamplesPerSecond():F0} rows/s.");

        Console.WriteLine("\nRaw pixels -> NormalizeMinMax -> SdcaMaximumEntropy");
        var (_, rawMetrics, rawSeconds) = FitAndEvaluate(ml, rawPixels, trainView, testView);

        Console.WriteLine($"\n{"features",-28} {"values",6} {"micro acc.",10} {"macro acc.",10} {"fit",6}");
        Console.WriteLine($"{"conv autoencoder code",-28} {autoencoder.Model.LatentDimension,6} {codeMetrics.MicroAccuracy,10:P1} {codeMetrics.MacroAccuracy,10:P1} {codeSeconds,5:F0}s");
        Console.WriteLine($"{"deep conv dense code",-28} {deep.Model.LatentDimension,6} {deepMetrics.MicroAccuracy,10:P1} {deepMetrics.MacroAccuracy,10:P1} {deepSeconds,5:F0}s");
        Console.WriteLine($"{"raw pixels",-28} {Shape.Size,6} {rawMetrics.MicroAccuracy,10:P1} {rawMetrics.MacroAccuracy,10:P1} {rawSeconds,5:F0}s");
        Console.WriteLine($"Total {total.Elapsed.TotalSeconds:F1}s.");
        autoencoder.Model.Dispose();
        deep.Model.Dispose();
    }

    /// <summary>Label to key, the autoencoder, its codes scaled to [0, 1], cached, then the multiclass trainer: one pipeline.</summary>
    private static EstimatorChain<MulticlassPredictionTransformer<Microsoft.ML.Trainers.MaximumEntropyModelParameters>> CodesToClassifier(MLContext ml, AutoencoderOptions options) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Autoencoder(options))
            .Append(ml.Transforms.NormalizeMinMax(AutoencoderColumnNames.LatentCode))
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", AutoencoderColumnNames.LatentCode));

    private static (TModel Model, MulticlassClassificationMetrics Metrics, double Seconds) FitAndEvaluate<TModel>(
        MLContext ml, IEstimator<TModel> pipeline, IDataView train, IDataView test) where TModel : ITransformer
    {
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        double seconds = clock.Elapsed.TotalSeconds;
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), "Label");
        Console.WriteLine($"  test accuracy {metrics.MicroAccuracy:P1} (macro {metrics.MacroAccuracy:P1}), fit {seconds:F1}s");
        return (model, metrics, seconds);
    }
}
