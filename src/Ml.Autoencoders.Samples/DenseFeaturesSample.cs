using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// The classic 784-64-32-16 ReLU autoencoder on Fashion-MNIST; its 16-d codes feed an ML.NET
/// classifier in the same pipeline. Then the library's defaults for a 16-d code, and PCA-16, side by side.
/// </summary>
internal static class DenseFeaturesSample
{
    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int? epochs = SampleData.Arg(args, "--epochs") is { } e ? int.Parse(e) : null;
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);
        var testView = ml.ToDataView(test);

        var classic = ClassicOptions(epochs ?? 10, "classic");
        var defaults = new AutoencoderOptions { LatentDimension = 16, Progress = new ConsoleProgress("defaults") };
        defaults.Epochs = epochs;

        // The test loss per epoch, for the training-history plot: with no early stopping it changes no weight, so every
        // result below is that of a run without it. The defaults are not watched where the small-data rule picks their
        // epochs (fewer than SmallDataRows rows, epochs left to the library): it holds out its own validation rows, and
        // any ValidationData would turn it off.
        bool smallDataRule = epochs is null && train.Count < defaults.SmallDataRows;
        classic.ValidationData = testView;
        if (!smallDataRule) defaults.ValidationData = testView;
        Console.WriteLine("(Each epoch's \"validation\" loss below is the test set's, watched only: no epoch or weight is chosen by it.)");

        var results = new List<(string Name, Result R)>();
        Console.WriteLine($"\nClassic: {Describe(classic)}");
        results.Add(("classic 784-64-32-16 ReLU", Evaluate(ml, classic, trainView, testView)));
        Console.WriteLine($"\nLibrary defaults: {Describe(defaults)}");
        results.Add(("library defaults, 16-d code", Evaluate(ml, defaults, trainView, testView)));

        var clock = Stopwatch.StartNew();
        double pcaMse = PcaBaseline.Fit(train.Pixels, 784, 16).ReconstructionMse(test.Pixels);
        Console.WriteLine($"\nPCA-16 fitted in {clock.Elapsed.TotalSeconds:F1}s.");

        Console.WriteLine($"\n{"model",-30} {"test MSE",10} {"vs PCA-16",10} {"accuracy",9} {"dead code",10} {"fit",7}");
        foreach (var (name, r) in results)
            Console.WriteLine($"{name,-30} {r.TestMse,10:F5} {(r.TestMse / pcaMse - 1) * 100,9:+0.0;-0.0}% {r.Accuracy,9:P1} {r.DeadUnits,7}/16 {r.FitSeconds,6:F0}s");
        Console.WriteLine($"{"PCA-16",-30} {pcaMse,10:F5}");

        // Originals above the reconstructions of each model.
        var shown = Enumerable.Range(0, 10).Select(c => Array.IndexOf(test.Labels, c)).Where(i => i >= 0).ToList();
        var grid = new List<IReadOnlyList<float[]>> { shown.Select(test.Row).ToList() };
        grid.AddRange(results.Select(r => (IReadOnlyList<float[]>)shown.Select(i => r.R.Autoencoder.Model.Reconstruct(test.Row(i))).ToList()));
        string png = Path.Combine(outDir, "dense-reconstructions.png");
        ImageGrid.SaveGreyGrid(png, grid, 28, 28, scale: 3, rowLabels: new[] { "original" }.Concat(results.Select(r => r.Name.Split(',')[0])).ToList());
        Console.WriteLine($"\nWrote {Path.GetFullPath(png)} (originals above reconstructions, one image per class).");

        string historyPng = Path.Combine(outDir, "dense-training-history.png");
        TrainingCurves.Save(historyPng, results.Select(r => (r.Name.Split(',')[0], r.R.Autoencoder.History)).ToList(),
            $"Training history on {train.Count:N0} Fashion-MNIST images", "MSE per pixel", validationName: "test",
            note: smallDataRule ? "library defaults: no test curve, the small-data rule chose their epochs with its own validation rows" : null);
        Console.WriteLine($"Wrote {Path.GetFullPath(historyPng)} (training and test loss per epoch, best epoch marked).");
        foreach (var (_, r) in results) r.Autoencoder.Model.Dispose();
    }

    /// <summary>The classic 784-64-32-16 ReLU autoencoder (sigmoid output, MSE, Adam 1e-3 constant, batch 256).</summary>
    internal static AutoencoderOptions ClassicOptions(int epochs, string progressLabel) => new()
    {
        LatentDimension = 16,
        HiddenLayerSizes = new[] { 64, 32 },
        HiddenActivation = Activation.ReLU,
        CodeActivation = Activation.ReLU,
        OutputActivation = Activation.Sigmoid,
        Loss = ReconstructionLoss.MeanSquaredError,
        Optimizer = OptimizerKind.Adam,
        LearningRate = 1e-3,
        LearningRateSchedule = LearningRateSchedule.Constant,
        BatchSize = 256,
        Epochs = epochs,
        Progress = new ConsoleProgress(progressLabel),
    };

    private sealed record Result(double TestMse, double Accuracy, int DeadUnits, double FitSeconds, AutoencoderTransformer Autoencoder);

    private static Result Evaluate(MLContext ml, AutoencoderOptions options, IDataView train, IDataView test)
    {
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Autoencoder(options))
            .Append(ml.Transforms.NormalizeMeanVariance(AutoencoderColumnNames.LatentCode))
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", AutoencoderColumnNames.LatentCode));
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        double fitSeconds = clock.Elapsed.TotalSeconds;
        var autoencoder = model.OfType<AutoencoderTransformer>().Single();

        var scored = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(scored, "Label");
        double mse = scored.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
        var codes = autoencoder.Transform(test).GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToList();
        int dead = Enumerable.Range(0, options.LatentDimension).Count(j => codes.All(c => c[j] == 0));
        Console.WriteLine($"  test reconstruction MSE {mse:F5}, accuracy {metrics.MacroAccuracy:P1} (micro {metrics.MicroAccuracy:P1}), fit {fitSeconds:F1}s");
        return new Result(mse, metrics.MicroAccuracy, dead, fitSeconds, autoencoder);
    }

    private static string Describe(AutoencoderOptions o) =>
        $"784-{string.Join("-", o.HiddenLayerSizes)}-{o.LatentDimension}, hidden {o.HiddenActivation}, code {o.CodeActivation}, " +
        $"{o.Loss}, {o.Optimizer} lr {o.LearningRate} {o.LearningRateSchedule}, batch {o.BatchSize}, {(o.Epochs is { } n ? $"{n} epochs" : "epochs chosen by the library")}";
}
