using Microsoft.ML;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>(e) The autoencoder family against PyTorch: VAE 784-512-2, stacked SELU 784-100-30, dense denoising 784-256-64.</summary>
internal static partial class Program
{
    private sealed record Variant(
        string Model,
        string Title,
        string TestFigure,
        Func<Config, AutoencoderOptions> Classic,
        Func<Config, AutoencoderOptions> Better,
        string BetterText,
        Func<AutoencoderModel, FashionMnistSplit, double> TestLoss);

    private static readonly Variant[] Variants =
    {
        new("vae", "VAE 784-512-2 (ReLU, Gaussian head), BCE summed + KL, Adam 1e-3 constant, batch 128", "test_neg_elbo",
            cfg => Tuned(AutoencoderPresets.Variational(2), cfg, OptimizerKind.Adam, 1e-3, LearningRateSchedule.Constant, 128),
            cfg => Tuned(AutoencoderPresets.Variational(2, hiddenLayerSizes: new[] { 512, 256 }), cfg, OptimizerKind.Adam, 2e-3, LearningRateSchedule.Cosine, 128),
            "Variational(2) with a 512-256 body, Adam 2e-3 cosine",
            NegativeElbo),
        new("stacked", "stacked 784-100-30 SELU, sigmoid output, BCE, SGD lr 1.5, batch 256", "test_bce",
            cfg => Tuned(AutoencoderPresets.Stacked(new[] { 100 }, 30), cfg, OptimizerKind.Sgd, 1.5, LearningRateSchedule.Constant, 256, momentum: 0),
            cfg => Tuned(AutoencoderPresets.Stacked(new[] { 100 }, 30), cfg, OptimizerKind.Adam, 2e-3, LearningRateSchedule.Cosine, 128),
            "Stacked(100, 30) with Adam 2e-3 cosine, batch 128",
            (m, test) => MeanBce(m.Reconstruct(test.Pixels, test.Count), test.Pixels)),
        new("denoising", "dense denoising 784-256-64 ReLU, Gaussian noise 0.6 clipped [0,1], BCE, Adam 1e-3, batch 256", "test_denoised_mse",
            cfg => Tuned(DenseDenoising(Activation.ReLU), cfg, OptimizerKind.Adam, 1e-3, LearningRateSchedule.Constant, 256),
            cfg => Tuned(DenseDenoising(Activation.LeakyReLU, code: Activation.Linear), cfg, OptimizerKind.Adam, 2e-3, LearningRateSchedule.Cosine, 128),
            "same shape, LeakyReLU hidden, linear code, Adam 2e-3 cosine, batch 128",
            DenoisedMse),
    };

    private static AutoencoderOptions DenseDenoising(Activation hidden, Activation? code = null)
    {
        var o = AutoencoderPresets.Denoising(0.6);
        o.HiddenLayerSizes = new[] { 256 };
        o.LatentDimension = 64;
        o.HiddenActivation = hidden;
        o.CodeActivation = code ?? hidden;
        o.OutputActivation = Activation.Sigmoid;
        o.Loss = ReconstructionLoss.BinaryCrossEntropy;
        return o;
    }

    private static AutoencoderOptions Tuned(AutoencoderOptions o, Config cfg, OptimizerKind optimizer, double lr, LearningRateSchedule schedule, int batch, double momentum = 0.9)
    {
        o.Optimizer = optimizer;
        o.LearningRate = lr;
        o.LearningRateSchedule = schedule;
        o.BatchSize = batch;
        o.Momentum = momentum;
        o.Epochs = cfg.VariantEpochs;
        o.Threads = cfg.Threads;
        o.Seed = 0;
        return o;
    }

    private static void PartE(Config cfg, MLContext ml, IDataView trainView, FashionMnistSplit train, FashionMnistSplit test)
    {
        using var data = torch.tensor(train.Pixels, new long[] { train.Count, Pixels });
        string script = cfg.ReferenceScript ?? FindReferenceScript();
        string dataDir = FashionMnist.ResolveDirectory(cfg.DataDir);
        foreach (var v in Variants)
        {
            Header($"(e) {v.Model}: library vs PyTorch (bench/reference/variants_ae.py), {cfg.Threads} threads, {cfg.VariantEpochs} epochs ({cfg.Warmup} warm-up), {cfg.RefReps} reps interleaved A,B,A,B");
            Console.WriteLine($"    {v.Title}");
            var libMed = new List<double>();
            var rawMed = new List<double>();
            var refMed = new List<double>();
            var libLoss = new List<double>();
            var refLoss = new List<double>();
            for (int r = 0; r < cfg.RefReps; r++)
            {
                // The library and the raw loop swap order every rep, so neither always runs right after PyTorch.
                bool rawFirst = r % 2 == 1;
                if (rawFirst) RunRaw();
                Collect();
                var t = ml.Transforms.Autoencoder(v.Classic(cfg)).Fit(trainView);
                var timed = t.History.Epochs.Skip(cfg.Warmup).Select(e => e.SamplesPerSecond).ToList();
                libMed.Add(Median(timed));
                libLoss.Add(v.TestLoss(t.Model, test));
                Console.WriteLine($"    rep {r + 1} A library : median {libMed[^1],10:N0} samples/s (epochs: {EpochList(t.History.Epochs.Select(e => e.SamplesPerSecond))}); {v.TestFigure} {libLoss[^1]:F5}; last epoch {t.History.Epochs[^1]}");
                t.Model.Dispose();
                if (!rawFirst) RunRaw();

                void RunRaw()
                {
                    if (RawVariantStep(v.Model) is not { } rawStep) return;
                    Collect();
                    var raw = RawEpochs(data, cfg, rawStep);
                    rawMed.Add(Median(raw.Skip(cfg.Warmup)));
                    Console.WriteLine($"    rep {r + 1} A' raw TorchSharp : median {rawMed[^1],10:N0} samples/s (epochs: {EpochList(raw)})");
                }

                var args = $"\"{script}\" --script variants_ae.py --model {v.Model} --data \"{dataDir}\" --threads {cfg.Threads} --epochs {cfg.VariantEpochs} --warmup-epochs {cfg.Warmup} --seed {r} --json";
                if (RunReference(args, "(e)", r, out double secs) is not { } doc) break;
                using var _ = doc;
                var root = doc.RootElement;
                refMed.Add(root.GetProperty("samples_per_s_median").GetDouble());
                refLoss.Add(root.GetProperty(v.TestFigure).GetDouble());
                Console.WriteLine($"    rep {r + 1} B PyTorch : median {refMed[^1],10:N0} samples/s; {v.TestFigure} {refLoss[^1]:F5} (process {secs:F1}s, torch {root.GetProperty("torch")}, BLAS {ShortBlas(root.GetProperty("blas").ToString())})");
            }

            Collect();
            var better = ml.Transforms.Autoencoder(v.Better(cfg)).Fit(trainView);
            double betterLoss = v.TestLoss(better.Model, test);
            Console.WriteLine($"    better preset ({v.BetterText}): {v.TestFigure} {betterLoss:F5} after {cfg.VariantEpochs} epochs, {better.History.SamplesPerSecond(cfg.Warmup):N0} samples/s");
            better.Model.Dispose();

            if (refMed.Count == 0)
            {
                Table.Add(new Row($"(e) {v.Model} fit samples/s vs PyTorch", Fmt(Median(libMed)), "failed", null, ">= 0.95", null));
                continue;
            }
            double ratio = Median(libMed) / Median(refMed);
            double lossRatio = Median(libLoss) / Median(refLoss);
            Console.WriteLine($"    => samples/s median {Median(libMed):N0} vs {Median(refMed):N0} = {ratio:F3}; {v.TestFigure} median {Median(libLoss):F5} vs {Median(refLoss):F5} = {lossRatio:F4}; better preset {betterLoss:F5} ({(betterLoss / Median(refLoss) - 1) * 100:+0.0;-0.0}% vs PyTorch)");
            Table.Add(new Row($"(e) {v.Model} fit samples/s vs PyTorch [median of {refMed.Count}]", Fmt(Median(libMed)), Fmt(Median(refMed)), ratio, ">= 0.95", ratio >= 0.95));
            if (rawMed.Count > 0)
            {
                double rawRatio = Median(libMed) / Median(rawMed);
                Console.WriteLine($"    => library vs raw TorchSharp loop: {Median(libMed):N0} vs {Median(rawMed):N0} = {rawRatio:F3}; raw TorchSharp vs PyTorch = {Median(rawMed) / Median(refMed):F3}");
                Table.Add(new Row($"(e) {v.Model} fit samples/s vs raw TorchSharp [median of {rawMed.Count}]", Fmt(Median(libMed)), Fmt(Median(rawMed)), rawRatio, ">= 0.95", rawRatio >= 0.95));
            }
            // "Equal or better": within 1% of the reference median counts as equal (seeds differ between the two sides).
            Table.Add(new Row($"(e) {v.Model} {v.TestFigure} after {cfg.VariantEpochs} ep [median]", $"{Median(libLoss):F5}", $"{Median(refLoss):F5}", lossRatio, "<= 1.01", lossRatio <= 1.01));
            Table.Add(new Row($"(e) {v.Model} {v.TestFigure}, better preset", $"{betterLoss:F5}", $"{Median(refLoss):F5}", betterLoss / Median(refLoss), "< 1", betterLoss < Median(refLoss)));
        }
    }

    /// <summary>
    /// The same network and update as the reference, hand-written on TorchSharp (one step on one batch), to tell the
    /// library's overhead from the engine's speed. Null for variants without a raw loop.
    /// </summary>
    private static (nn.Module Module, Func<Tensor, Tensor> Loss, Func<nn.Module, optim.Optimizer> Optimizer, int Batch)? RawVariantStep(string model)
    {
        torch.random.manual_seed(0);
        switch (model)
        {
            case "vae":
            {
                var net = new RawVae();
                return (net, net.Loss, m => optim.Adam(m.parameters(), 1e-3), 128);
            }
            case "stacked":
            {
                var net = nn.Sequential(nn.Linear(784, 100), nn.SELU(), nn.Linear(100, 30), nn.SELU(),
                    nn.Linear(30, 100), nn.SELU(), nn.Linear(100, 784), nn.Sigmoid());
                return (net, x => nn.functional.binary_cross_entropy(net.forward(x), x), m => optim.SGD(m.parameters(), 1.5), 256);
            }
            default:
                return null;
        }
    }

    /// <summary>Samples/s per epoch of a hand-written loop: randperm, index_select, NewDisposeScope and loss.item() per step.</summary>
    private static List<double> RawEpochs(Tensor data, Config cfg, (nn.Module Module, Func<Tensor, Tensor> Loss, Func<nn.Module, optim.Optimizer> Optimizer, int Batch) raw)
    {
        using var module = raw.Module;
        using var opt = raw.Optimizer(module);
        long n = data.shape[0];
        var perSecond = new List<double>();
        for (int e = 0; e < cfg.VariantEpochs; e++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var perm = torch.randperm(n);
            for (long s = 0; s < n; s += raw.Batch)
            {
                using var scope = NewDisposeScope();
                var xb = data.index_select(0, perm.narrow(0, s, Math.Min(raw.Batch, n - s)));
                opt.zero_grad();
                var loss = raw.Loss(xb);
                if (!float.IsFinite(loss.item<float>())) throw new InvalidOperationException("raw loop diverged");
                loss.backward();
                opt.step();
            }
            perSecond.Add(n / sw.Elapsed.TotalSeconds);
        }
        return perSecond;
    }

    private sealed class RawVae : nn.Module
    {
        private readonly TorchSharp.Modules.Linear enc = nn.Linear(784, 512), mu = nn.Linear(512, 2), lv = nn.Linear(512, 2), dec1 = nn.Linear(2, 512), dec2 = nn.Linear(512, 784);

        public RawVae() : base(nameof(RawVae)) => RegisterComponents();

        public Tensor Loss(Tensor x)
        {
            var h = nn.functional.relu(enc.forward(x));
            var m = mu.forward(h);
            var l = lv.forward(h);
            var z = m + (l * 0.5).exp() * torch.randn_like(m);
            var r = dec2.forward(nn.functional.relu(dec1.forward(z))).sigmoid();
            var kl = (1 + l - m.pow(2) - l.exp()).sum() * -0.5;
            return (nn.functional.binary_cross_entropy(r, x, reduction: nn.Reduction.Sum) + kl) / x.shape[0];
        }
    }

    /// <summary>Negative ELBO per test row in nats: BCE summed over pixels + KL, z sampled once per row (as the reference does).</summary>
    private static double NegativeElbo(AutoencoderModel model, FashionMnistSplit test)
    {
        int n = test.Count, k = model.LatentDimension;
        var rows = Enumerable.Range(0, n).Select(test.Row).ToList();
        var (mean, logVariance) = model.EncodeDistribution(rows);
        var random = new Random(12345);
        var z = new float[n * k];
        double kl = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
            {
                double mu = mean[i][j], lv = logVariance[i][j];
                z[i * k + j] = (float)(mu + Math.Exp(0.5 * lv) * Gaussian(random));
                kl += -0.5 * (1 + lv - mu * mu - Math.Exp(lv));
            }
        var reconstruction = model.Decode(z, n);
        return (Bce(reconstruction, test.Pixels) + kl) / n;
    }

    private static double DenoisedMse(AutoencoderModel model, FashionMnistSplit test)
    {
        var random = new Random(54321);
        var noisy = test.Pixels.Select(x => (float)Math.Clamp(x + 0.6 * Gaussian(random), 0, 1)).ToArray();
        var denoised = model.Reconstruct(noisy, test.Count);
        double sum = 0;
        for (int i = 0; i < denoised.Length; i++) sum += (denoised[i] - test.Pixels[i]) * (double)(denoised[i] - test.Pixels[i]);
        return sum / denoised.Length;
    }

    private static double MeanBce(float[] reconstruction, float[] target) => Bce(reconstruction, target) / target.Length;

    /// <summary>Summed binary cross-entropy with PyTorch's clamp of each log at -100.</summary>
    private static double Bce(float[] reconstruction, float[] target)
    {
        double sum = 0;
        for (int i = 0; i < target.Length; i++)
        {
            double r = reconstruction[i], x = target[i];
            sum -= x * Math.Max(Math.Log(r), -100) + (1 - x) * Math.Max(Math.Log(1 - r), -100);
        }
        return sum;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
