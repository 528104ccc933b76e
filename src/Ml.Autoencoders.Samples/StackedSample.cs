using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// The stacked 784-100-30 SELU autoencoder (sigmoid output, binary cross-entropy) with the classic settings (plain SGD at
/// learning rate 1.5), then the same net with greedy layer-wise pretraining, then with Adam; PCA-30 for comparison.
/// </summary>
internal static class StackedSample
{
    private static readonly int[] Hidden = { 100 };
    private const int Latent = 30;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);
        var testView = ml.ToDataView(test);

        AutoencoderOptions Classic(int pretrainEpochs, string label)
        {
            var o = AutoencoderPresets.Stacked(Hidden, Latent, pretrainEpochs);
            o.Optimizer = OptimizerKind.Sgd;
            o.Momentum = 0;
            o.LearningRate = 1.5;
            o.LearningRateSchedule = LearningRateSchedule.Constant;
            o.BatchSize = 256;
            o.Epochs = epochs;
            // Deeper pretraining stages fit unbounded SELU codes with squared error: SGD at 1.5 diverges there.
            if (pretrainEpochs > 0) o.PretrainLearningRate = 0.05;
            o.Progress = new ConsoleProgress(label);
            return o;
        }
        var adam = AutoencoderPresets.Stacked(Hidden, Latent);
        adam.Epochs = epochs; // optimizer, learning rate 2e-3, cosine schedule and batch 128: the library's defaults
        adam.Progress = new ConsoleProgress("adam");

        var models = new (string Name, AutoencoderOptions Options)[]
        {
            ("SGD 1.5, end to end", Classic(0, "sgd")),
            ("SGD 1.5, pretrained 3/stage", Classic(3, "pretrained")), // stages at SGD 0.05, then end to end at 1.5
            ("Adam 2e-3 cosine", adam),
        };
        var results = new List<(string Name, Result R)>();
        foreach (var (name, options) in models)
        {
            Console.WriteLine($"\n{name}: {Describe(options)}");
            results.Add((name, Evaluate(ml, options, trainView, testView, test.Pixels)));
        }

        double pcaMse = PcaBaseline.Fit(train.Pixels, 784, Latent).ReconstructionMse(test.Pixels);

        Console.WriteLine($"\n{"model (784-100-30 SELU)",-28} {"test BCE",9} {"test MSE",9} {"vs PCA-30",10} {"fit",6}");
        foreach (var (name, r) in results)
            Console.WriteLine($"{name,-28} {r.Bce,9:F4} {r.Mse,9:F5} {(r.Mse / pcaMse - 1) * 100,9:+0.0;-0.0}% {r.FitSeconds,5:F0}s");
        Console.WriteLine($"{"PCA-30",-28} {"",9} {pcaMse,9:F5}");
        foreach (var (name, r) in results.Where(x => x.R.Model.PretrainingHistory.Count > 0))
        {
            var stages = r.Model.PretrainingHistory.Select((h, i) => $"stage {i + 1} {h.Epochs[^1].TrainLoss:F4}");
            Console.WriteLine($"{name}: final pretraining loss {string.Join(", ", stages)} (stage 1 BCE on pixels, stage 2 squared error on the 100-d codes)");
        }

        var shown = SampleMetrics.FirstOfEachClass(test);
        var grid = new List<IReadOnlyList<float[]>> { shown.Select(test.Row).ToList() };
        grid.AddRange(results.Select(r => r.R.Model.Reconstruct(shown.Select(test.Row).ToList())));
        string png = Path.Combine(outDir, "stacked-reconstructions.png");
        ImageGrid.SaveGreyGrid(png, grid, 28, 28, scale: 3, rowLabels: results.Select(r => r.Name).Prepend("original").ToList());
        Console.WriteLine($"\nWrote {Path.GetFullPath(png)} (originals above reconstructions, one image per class).");
        foreach (var (_, r) in results) r.Model.Dispose();
    }

    private sealed record Result(double Bce, double Mse, double FitSeconds, Models.AutoencoderModel Model);

    private static Result Evaluate(MLContext ml, AutoencoderOptions options, IDataView train, IDataView test, float[] testPixels)
    {
        var clock = Stopwatch.StartNew();
        var transformer = ml.Transforms.Autoencoder(options).Fit(train);
        double fitSeconds = clock.Elapsed.TotalSeconds;
        var scored = transformer.Transform(test);
        var reconstructions = scored.Column(AutoencoderColumnNames.Reconstruction);
        double bce = SampleMetrics.RowBce(testPixels, reconstructions).Sum() / testPixels.Length;
        double mse = scored.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
        Console.WriteLine($"  test BCE {bce:F4} per pixel, test MSE {mse:F5}, fit {fitSeconds:F1}s");
        return new Result(bce, mse, fitSeconds, transformer.Model);
    }

    private static string Describe(AutoencoderOptions o) =>
        $"784-{string.Join("-", o.HiddenLayerSizes)}-{o.LatentDimension}, {o.HiddenActivation}, {o.Loss}, {o.Optimizer} lr {o.LearningRate} " +
        $"{(o.Optimizer == OptimizerKind.Sgd ? $"momentum {o.Momentum} " : "")}{o.LearningRateSchedule}, batch {o.BatchSize}, " +
        $"{(o.PretrainEpochs > 0 ? $"{o.PretrainEpochs} pretraining epochs per stage (lr {o.PretrainLearningRate ?? o.LearningRate}), then " : "")}{o.Epochs} epochs";
}
