using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// The variational autoencoder 784-512-2 (Kingma &amp; Welling 2014; Keras' VAE example): test negative ELBO, a 20 x 20
/// grid of images decoded over the 2-d latent space, the test set's latent means coloured by class, samples from the prior.
/// </summary>
internal static class VaeSample
{
    private const int GridSize = 20;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        var ml = new MLContext(seed: 0);

        var options = AutoencoderPresets.Variational(latentDimension: 2);
        options.Optimizer = OptimizerKind.Adam;
        options.LearningRate = 1e-3;
        options.LearningRateSchedule = LearningRateSchedule.Constant;
        options.BatchSize = 128;
        options.Epochs = SampleMetrics.Epochs(args);
        options.Outputs = AutoencoderOutputs.AllVariational;
        options.Progress = new ConsoleProgress("vae");
        Console.WriteLine($"\nVAE 784-{string.Join("-", options.HiddenLayerSizes)}-{options.LatentDimension}, hidden {options.HiddenActivation}, Gaussian head, " +
            $"BCE summed per row + KL, Adam lr {options.LearningRate} {options.LearningRateSchedule}, batch {options.BatchSize}, {options.Epochs} epochs");

        var clock = Stopwatch.StartNew();
        var transformer = ml.Transforms.Autoencoder(options).Fit(ml.ToDataView(train));
        double fitSeconds = clock.Elapsed.TotalSeconds;
        var model = transformer.Model;

        // Test ELBO from the columns: KL in closed form from the posterior mean and log-variance, and the reconstruction
        // term from one sampled code z = μ + σ·ε per row (the SampledLatentCode column) decoded with Model.Decode, which is
        // the single-sample estimate training minimises. The Reconstruction column decodes μ itself, shown for comparison.
        var scored = transformer.Transform(ml.ToDataView(test));
        var mean = scored.Column(AutoencoderColumnNames.LatentCode);
        var logVariance = scored.Column(AutoencoderColumnNames.LatentLogVariance);
        var sampled = scored.Column(AutoencoderColumnNames.SampledLatentCode);
        double kl = mean.Select((m, i) => Kl(m, logVariance[i])).Average();
        double recSampled = SampleMetrics.RowBce(test.Pixels, model.Decode(sampled)).Average();
        double recMean = SampleMetrics.RowBce(test.Pixels, scored.Column(AutoencoderColumnNames.Reconstruction)).Average();
        double mse = scored.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
        var last = model.History.Epochs[^1];

        Console.WriteLine($"\n{"per image (nats)",-44} {"-ELBO",8} {"rec. BCE",9} {"KL",7}");
        Console.WriteLine($"{$"train, mean over epoch {last.Epoch}'s batches",-44} {last.TrainLoss,8:F2} {last.Terms["reconstruction"],9:F2} {last.Terms["kl"],7:F2}");
        Console.WriteLine($"{"test, z sampled from the posterior",-44} {recSampled + kl,8:F2} {recSampled,9:F2} {kl,7:F2}");
        Console.WriteLine($"{"test, z = posterior mean (Reconstruction)",-44} {"",8} {recMean,9:F2}");
        Console.WriteLine($"test MSE at the posterior mean {mse:F5}; fit {fitSeconds:F0}s");

        // Codes at the standard normal quantiles of evenly spaced probabilities: equal prior mass between neighbours.
        // The second latent unit grows upwards, as in the scatter plot.
        var quantiles = Enumerable.Range(0, GridSize).Select(i => (float)InverseNormalCdf(0.05 + 0.9 * i / (GridSize - 1))).ToArray();
        var grid = Enumerable.Range(0, GridSize)
            .Select(row => (IReadOnlyList<float[]>)model.Decode(quantiles.Select(x => new[] { x, quantiles[GridSize - 1 - row] }).ToList()))
            .ToList();
        string gridPng = Path.Combine(outDir, "vae-latent-grid.png");
        ImageGrid.SaveGreyGrid(gridPng, grid, 28, 28, scale: 2);
        Console.WriteLine($"\nWrote {Path.GetFullPath(gridPng)} ({GridSize} x {GridSize} decoded codes, z1 from {quantiles[0]:F2} left to {quantiles[^1]:F2} right, z2 the same bottom to top).");

        string scatterPng = Path.Combine(outDir, "vae-latent-scatter.png");
        ScatterPlot.Save(scatterPng, mean.Select(m => m[0]).ToArray(), mean.Select(m => m[1]).ToArray(), test.Labels, FashionMnist.ClassNames,
            $"VAE posterior means of {test.Count:N0} test images", xTitle: "z1", yTitle: "z2");
        Console.WriteLine($"Wrote {Path.GetFullPath(scatterPng)} (posterior means of the test set, coloured by class).");

        string samplesPng = Path.Combine(outDir, "vae-samples.png");
        ImageGrid.SaveGreyGrid(samplesPng, new[] { model.Sample(12, seed: 1) }, 28, 28, scale: 3);
        Console.WriteLine($"Wrote {Path.GetFullPath(samplesPng)} (12 images decoded from codes drawn from the prior N(0, I)).");
        model.Dispose();
    }

    /// <summary>KL(N(μ, σ²) ‖ N(0, I)) of one row: −½ Σ (1 + log σ² − μ² − σ²).</summary>
    private static double Kl(float[] mean, float[] logVariance) =>
        -0.5 * mean.Select((m, j) => 1 + logVariance[j] - m * m - Math.Exp(logVariance[j])).Sum();

    /// <summary>The standard normal quantile of <paramref name="p"/> in (0, 1) (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    private static double InverseNormalCdf(double p)
    {
        double[] a = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
        double[] b = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 };
        double[] c = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
        double[] d = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00 };
        if (p < 0.02425 || p > 1 - 0.02425)
        {
            double q = Math.Sqrt(-2 * Math.Log(Math.Min(p, 1 - p)));
            double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
            return p < 0.5 ? x : -x;
        }
        double r = p - 0.5, s = r * r;
        return (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}
