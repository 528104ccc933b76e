using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// Sparse (KL to a 5% rate, and L1) and contractive autoencoders next to a plain one of the same shape, a
/// 784-64 sigmoid code as in the classic papers: what each penalty buys (sparser codes, a flatter encoder)
/// and what it costs in reconstruction.
/// </summary>
internal static class RegularisedSample
{
    private const int Latent = 64;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        var ml = new MLContext(seed: 0);
        var trainView = ml.ToDataView(train);
        var testView = ml.ToDataView(test);

        AutoencoderOptions Shape(AutoencoderOptions o, string label)
        {
            o.HiddenLayerSizes = Array.Empty<int>();
            o.LatentDimension = Latent;
            o.CodeActivation = o.Penalties.Any(p => p is SparsityPenalty { Kind: SparsityKind.L1 }) ? Activation.ReLU : Activation.Sigmoid;
            o.Epochs = epochs;
            o.Progress = new ConsoleProgress(label);
            return o;
        }
        var models = new (string Name, AutoencoderOptions Options)[]
        {
            ("plain", Shape(new AutoencoderOptions(), "plain")),
            ("sparse, KL to rho 0.05", Shape(AutoencoderPresets.Sparse(Latent, SparsityKind.KlDivergence), "sparse-kl")),
            ("sparse, L1", Shape(AutoencoderPresets.Sparse(Latent, SparsityKind.L1), "sparse-l1")),
            ("contractive", Shape(AutoencoderPresets.Contractive(Latent), "contractive")),
        };

        var rows = new List<(string Name, double Mse, double MeanCode, double Active, double Jacobian, double Seconds)>();
        var probe = Enumerable.Range(0, Math.Min(1000, test.Count)).Select(test.Row).ToList();
        foreach (var (name, options) in models)
        {
            Console.WriteLine($"\n{name}: 784-{Latent} {options.CodeActivation} code, {string.Join(", ", options.Penalties.Select(Describe).DefaultIfEmpty("no penalty"))}, Adam {options.LearningRate} {options.LearningRateSchedule}, {epochs} epochs");
            var clock = Stopwatch.StartNew();
            var model = ml.Transforms.Autoencoder(options).Fit(trainView);
            double seconds = clock.Elapsed.TotalSeconds;
            var scored = model.Transform(testView);
            double mse = scored.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).Average(x => (double)x);
            var codes = scored.Column(AutoencoderColumnNames.LatentCode);
            double meanCode = codes.Average(c => c.Average(v => (double)v));
            double active = codes.Average(c => c.Count(v => v > 0.1) / (double)Latent);
            rows.Add((name, mse, meanCode, active, JacobianNorm(model.Model, probe), seconds));
            model.Model.Dispose();
        }
        double pca = PcaBaseline.Fit(train.Pixels, 784, Latent).ReconstructionMse(test.Pixels);

        Console.WriteLine($"\n{"model (784-64 code)",-24} {"test MSE",9} {"mean code",10} {"units > 0.1",12} {"||J||²_F",10} {"fit",6}");
        foreach (var r in rows)
            Console.WriteLine($"{r.Name,-24} {r.Mse,9:F5} {r.MeanCode,10:F4} {r.Active,12:P1} {r.Jacobian,10:F2} {r.Seconds,5:F0}s");
        Console.WriteLine($"{"PCA-64",-24} {pca,9:F5}");
        Console.WriteLine("||J||²_F: squared Frobenius norm of the encoder Jacobian on 1,000 test rows, estimated as E||f(x+d)-f(x)||²/s² over random d ~ N(0, s²I), s = 0.01.");
    }

    private static string Describe(AutoencoderPenalty p) => p switch
    {
        SparsityPenalty s => $"sparsity {s.Kind} weight {s.Weight}" + (s.Kind == SparsityKind.KlDivergence ? $" rho {s.TargetActivation}" : ""),
        _ => $"{p.Name} weight {p.Weight}",
    };

    /// <summary>Finite-difference estimate of ‖∂code/∂x‖²_F: for d ~ N(0, s²I), E‖J d‖² = s²‖J‖²_F.</summary>
    private static double JacobianNorm(AutoencoderModel model, IReadOnlyList<float[]> rows)
    {
        const double s = 0.01;
        var random = new Random(7);
        var shifted = rows.Select(r => r.Select(v => (float)(v + s * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray()).ToList();
        var a = model.Encode(rows);
        var b = model.Encode(shifted);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < a[i].Length; j++)
                sum += Math.Pow(b[i][j] - a[i][j], 2);
        return sum / a.Length / (s * s);
    }
}
