using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// A dense denoising autoencoder 784-256-64 (Gaussian noise of factor 0.6 clipped to [0, 1] in training) against a plain
/// autoencoder of the same shape trained the same way, both asked to clean up noisy test images.
/// </summary>
internal static class DenoisingSample
{
    private const double NoiseFactor = 0.6;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);

        AutoencoderOptions Shape(AutoencoderOptions o, string label)
        {
            o.HiddenLayerSizes = new[] { 256 };
            o.LatentDimension = 64;
            o.HiddenActivation = Activation.ReLU;
            o.CodeActivation = Activation.ReLU;
            o.OutputActivation = Activation.Sigmoid;
            o.Loss = ReconstructionLoss.BinaryCrossEntropy;
            o.Optimizer = OptimizerKind.Adam;
            o.LearningRate = 1e-3;
            o.LearningRateSchedule = LearningRateSchedule.Constant;
            o.BatchSize = 256;
            o.Epochs = epochs;
            o.Progress = new ConsoleProgress(label);
            return o;
        }
        var models = new (string Name, AutoencoderOptions Options)[]
        {
            ("denoising AE", Shape(AutoencoderPresets.Denoising(NoiseFactor), "denoising")),
            ("plain AE", Shape(new AutoencoderOptions(), "plain")),
        };

        // The same corruption as in training, made here with a fixed seed: x + 0.6·N(0, 1), clipped to [0, 1].
        var noisy = AddNoise(test, NoiseFactor, seed: 42);
        var noisyView = ml.ToDataView(noisy);
        var cleanView = ml.ToDataView(test);

        var results = new List<(string Name, double NoisyMse, double CleanMse, double FitSeconds, float[][] Denoised)>();
        foreach (var (name, options) in models)
        {
            Console.WriteLine($"\n{name}: 784-256-64 ReLU, sigmoid output, BCE, Adam lr 1e-3 constant, batch 256, {epochs} epochs" +
                (options.Corruption is GaussianNoise g ? $", Gaussian noise {g.Factor} clipped to [{g.ClipMin}, {g.ClipMax}] in training" : ", no corruption"));
            var clock = Stopwatch.StartNew();
            var transformer = ml.Transforms.Autoencoder(options).Fit(trainView);
            double fitSeconds = clock.Elapsed.TotalSeconds;
            var denoised = transformer.Transform(noisyView).Column(AutoencoderColumnNames.Reconstruction);
            double cleanMse = transformer.Transform(cleanView).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
            results.Add((name, SampleMetrics.Mse(test.Pixels, denoised), cleanMse, fitSeconds, denoised));
            transformer.Model.Dispose();
        }

        double noisyMse = SampleMetrics.Mse(test.Pixels, Enumerable.Range(0, noisy.Count).Select(noisy.Row).ToList());
        Console.WriteLine($"\nMSE against the clean test images ({test.Count:N0}; noise {NoiseFactor} clipped to [0, 1], seed 42):");
        Console.WriteLine($"{"model",-16} {"noisy input",12} {"clean input",12} {"fit",6}");
        foreach (var r in results)
            Console.WriteLine($"{r.Name,-16} {r.NoisyMse,12:F5} {r.CleanMse,12:F5} {r.FitSeconds,5:F0}s");
        Console.WriteLine($"{"do nothing",-16} {noisyMse,12:F5} {0,12:F5}");

        var shown = SampleMetrics.FirstOfEachClass(test);
        string png = Path.Combine(outDir, "denoising-rows.png");
        ImageGrid.SaveRows(png, new (string, float[][])[]
        {
            ("noisy", shown.Select(noisy.Row).ToArray()),
            ("denoised", shown.Select(i => results[0].Denoised[i]).ToArray()),
            ("original", shown.Select(test.Row).ToArray()),
            ("plain AE", shown.Select(i => results[1].Denoised[i]).ToArray()),
        }, 28, 28, scale: 3);
        Console.WriteLine($"\nWrote {Path.GetFullPath(png)} (noisy inputs, the denoising autoencoder's output, the originals, the plain autoencoder's output).");
    }

    /// <summary>A copy of <paramref name="split"/> with x + factor·N(0, 1) clipped to [0, 1] (System.Random and Box-Muller, fixed seed).</summary>
    private static FashionMnistSplit AddNoise(FashionMnistSplit split, double factor, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[split.Pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            pixels[i] = (float)Math.Clamp(split.Pixels[i] + factor * gaussian, 0, 1);
        }
        return new FashionMnistSplit(pixels, split.Labels, split.Height, split.Width, split.Source, split.IsSubset);
    }
}
