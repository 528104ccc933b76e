using System.Diagnostics;
using Microsoft.ML;
using Ml.Autoencoders.Analysis;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// (f) The convolutional denoising autoencoder (the Keras tutorial's net, noise 0.6) against PyTorch: training
/// throughput, and PSNR/SSIM of denoised noisy test images after the same epochs; a raw TorchSharp loop of the same
/// net tells the library's overhead from the engine's speed.
/// </summary>
internal static partial class Program
{
    private static readonly ImageShape FashionShape = new(1, 28, 28);
    private const double ConvNoise = 0.6;
    private const int ConvBatch = 128;

    private static AutoencoderOptions ConvClassic(Config cfg, int seed)
    {
        var o = AutoencoderPresets.ConvolutionalDenoising(FashionShape, ConvNoise, classic: true);
        o.Epochs = cfg.ConvEpochs;
        o.BatchSize = ConvBatch;
        o.Seed = seed;
        o.Threads = cfg.Threads;
        return o;
    }

    private static void PartF(Config cfg, MLContext ml, IDataView trainView, FashionMnistSplit train, FashionMnistSplit test)
    {
        using var data = torch.tensor(train.Pixels, new long[] { train.Count, Pixels });
        string script = cfg.ReferenceScript ?? FindReferenceScript();
        string dataDir = FashionMnist.ResolveDirectory(cfg.DataDir);
        var noisyTest = NoisyImages(test.Pixels, ConvNoise, seed: 1234);
        var (psnrNoisy, ssimNoisy) = Quality(noisyTest, test.Pixels, test.Count);
        Header($"(f) conv denoising autoencoder: library vs PyTorch (bench/reference/conv_denoise.py), {cfg.Threads} threads, {cfg.ConvEpochs} epochs (1 warm-up), batch {ConvBatch}, {cfg.RefReps} reps interleaved");
        Console.WriteLine("    Conv 16, 8 (3x3, stride 2, ReLU) -> transposed Conv 8, 16 (3x3, stride 2, ReLU) -> Conv 1 (3x3) sigmoid; noise 0.6 clipped [0,1]; MSE; Adam 1e-3");
        Console.WriteLine($"    test images with noise (seed 1234): PSNR {psnrNoisy:F2} dB, SSIM {ssimNoisy:F3}");
        ConvWorkaroundCost(cfg);
        var libRate = new List<double>();
        var rawRate = new List<double>();
        string? rawFailure = null;
        var refRate = new List<double>();
        var libPsnr = new List<double>();
        var libSsim = new List<double>();
        var refPsnr = new List<double>();
        var refSsim = new List<double>();
        for (int r = 0; r < cfg.RefReps; r++)
        {
            bool rawFirst = r % 2 == 1;
            if (rawFirst) RunRaw();
            Collect();
            var t = ml.Transforms.Autoencoder(ConvClassic(cfg, r)).Fit(trainView);
            libRate.Add(Median(t.History.Epochs.Skip(1).Select(e => e.SamplesPerSecond)));
            var (p, s) = Quality(t.Model.Reconstruct(noisyTest, test.Count), test.Pixels, test.Count);
            libPsnr.Add(p);
            libSsim.Add(s);
            Console.WriteLine($"    rep {r + 1} A library : median {libRate[^1],8:N0} samples/s (epochs: {EpochList(t.History.Epochs.Select(e => e.SamplesPerSecond))}); denoised PSNR {p:F2} dB, SSIM {s:F3}; last epoch {t.History.Epochs[^1]}");
            t.Model.Dispose();
            if (!rawFirst) RunRaw();

            void RunRaw()
            {
                if (rawFailure is not null) return;
                Collect();
                try
                {
                    var raw = RawConvEpochs(data, cfg, r);
                    rawRate.Add(Median(raw.Skip(1)));
                    Console.WriteLine($"    rep {r + 1} A' raw TorchSharp : median {rawRate[^1],8:N0} samples/s (epochs: {EpochList(raw)})");
                }
                catch (InvalidOperationException e)
                {
                    // The raw loop calls libtorch's convolutions directly, so on a CPU where they are wrong it can diverge:
                    // report it and go on with the other measurements.
                    rawFailure = e.Message;
                    Console.WriteLine($"    rep {r + 1} A' raw TorchSharp : FAILED ({e.Message}); not run again");
                }
            }

            var args = $"\"{script}\" --script conv_denoise.py --data \"{dataDir}\" --threads {cfg.Threads} --epochs {cfg.ConvEpochs} --warmup-epochs 1 --seed {r} --json";
            if (RunReference(args, "(f)", r, out double secs) is not { } doc) break;
            using var _ = doc;
            var root = doc.RootElement;
            refRate.Add(root.GetProperty("samples_per_sec").GetDouble());
            refPsnr.Add(root.GetProperty("psnr_denoised").GetDouble());
            refSsim.Add(root.GetProperty("ssim_denoised").GetDouble());
            Console.WriteLine($"    rep {r + 1} B PyTorch : {refRate[^1],8:N0} samples/s; PSNR noisy {root.GetProperty("psnr_noisy").GetDouble():F2} -> denoised {refPsnr[^1]:F2} dB, SSIM {root.GetProperty("ssim_noisy").GetDouble():F3} -> {refSsim[^1]:F3} (process {secs:F1}s, torch {root.GetProperty("torch")}, BLAS {ShortBlas(root.GetProperty("blas").ToString())})");
        }

        Collect();
        var betterOptions = ConvBetter(cfg);
        var better = ml.Transforms.Autoencoder(betterOptions).Fit(trainView);
        var (bp, bs) = Quality(better.Model.Reconstruct(noisyTest, test.Count), test.Pixels, test.Count);
        Console.WriteLine($"    better preset ({ConvBetterText}): PSNR {bp:F2} dB, SSIM {bs:F3} after {cfg.ConvEpochs} epochs, {better.History.SamplesPerSecond(1):N0} samples/s");
        Console.WriteLine($"      {better.Model.Architecture}");
        better.Model.Dispose();

        if (refRate.Count == 0)
        {
            Table.Add(new Row("(f) conv denoising fit samples/s vs PyTorch", Fmt(Median(libRate)), "failed", null, ">= 0.9", null));
            return;
        }
        double ratio = Median(libRate) / Median(refRate);
        double dPsnr = Median(libPsnr) - Median(refPsnr);
        Console.WriteLine($"    => samples/s median {Median(libRate):N0} vs {Median(refRate):N0} = {ratio:F3}; PSNR {Median(libPsnr):F2} vs {Median(refPsnr):F2} dB ({dPsnr:+0.00;-0.00}); SSIM {Median(libSsim):F3} vs {Median(refSsim):F3}; better preset PSNR {bp:F2} dB ({bp - Median(refPsnr):+0.00;-0.00}), SSIM {bs:F3}");
        Table.Add(new Row($"(f) conv denoising fit samples/s vs PyTorch [median of {refRate.Count}]", Fmt(Median(libRate)), Fmt(Median(refRate)), ratio, ">= 0.9", ratio >= 0.9));
        if (rawFailure is not null)
            Table.Add(new Row("(f) conv denoising fit samples/s vs raw TorchSharp", Fmt(Median(libRate)), "failed", null, ">= 0.95", null));
        else if (rawRate.Count > 0)
        {
            double rawRatio = Median(libRate) / Median(rawRate);
            Console.WriteLine($"    => library vs raw TorchSharp loop: {Median(libRate):N0} vs {Median(rawRate):N0} = {rawRatio:F3}; raw TorchSharp vs PyTorch = {Median(rawRate) / Median(refRate):F3}");
            Table.Add(new Row($"(f) conv denoising fit samples/s vs raw TorchSharp [median of {rawRate.Count}]", Fmt(Median(libRate)), Fmt(Median(rawRate)), rawRatio, ">= 0.95", rawRatio >= 0.95));
        }
        Table.Add(new Row($"(f) conv denoised PSNR dB after {cfg.ConvEpochs} ep [median]", $"{Median(libPsnr):F2}", $"{Median(refPsnr):F2}", null, ">= ref - 0.2", dPsnr >= -0.2));
        Table.Add(new Row($"(f) conv denoised SSIM after {cfg.ConvEpochs} ep [median]", $"{Median(libSsim):F3}", $"{Median(refSsim):F3}", Median(libSsim) / Median(refSsim), "-", null));
        Table.Add(new Row("(f) conv denoised PSNR dB, better preset", $"{bp:F2}", $"{Median(refPsnr):F2}", null, "> ref", bp > Median(refPsnr)));
        Table.Add(new Row("(f) conv denoised SSIM, better preset", $"{bs:F3}", $"{Median(refSsim):F3}", bs / Median(refSsim), "> ref", bs > Median(refSsim)));
    }

    private const string ConvBetterText = "ConvolutionalDenoising preset defaults: batch norm, Adam 2e-3 cosine";

    private static AutoencoderOptions ConvBetter(Config cfg)
    {
        var o = AutoencoderPresets.ConvolutionalDenoising(FashionShape, ConvNoise);
        o.Epochs = cfg.ConvEpochs;
        o.Threads = cfg.Threads;
        return o;
    }

    /// <summary>clip(x + factor·N(0,1), 0, 1), drawn once with a fixed seed.</summary>
    private static float[] NoisyImages(float[] pixels, double factor, int seed)
    {
        var random = new Random(seed);
        var noisy = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
            noisy[i] = (float)Math.Clamp(pixels[i] + factor * Gaussian(random), 0, 1);
        return noisy;
    }

    /// <summary>Mean PSNR and SSIM (bench/reference/conv_denoise.py's definitions) of 28x28 images against the originals.</summary>
    private static (double Psnr, double Ssim) Quality(float[] images, float[] originals, int count)
    {
        double psnr = 0, ssim = 0;
        for (int i = 0; i < count; i++)
        {
            var a = images.AsSpan(i * Pixels, Pixels);
            var b = originals.AsSpan(i * Pixels, Pixels);
            psnr += ImageQuality.Psnr(a, b);
            ssim += ImageQuality.Ssim(a, b, 28, 28);
        }
        return (psnr / count, ssim / count);
    }

    /// <summary>The same net and update hand-written on TorchSharp: samples/s per epoch (noise, forward, backward, Adam).</summary>
    private static List<double> RawConvEpochs(Tensor data, Config cfg, int seed)
    {
        torch.random.manual_seed(seed);
        using var net = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride: 2, padding: 1), nn.ReLU(),
            nn.Conv2d(16, 8, 3, stride: 2, padding: 1), nn.ReLU(),
            nn.ConvTranspose2d(8, 8, 3, stride: 2, padding: 1, output_padding: 1), nn.ReLU(),
            nn.ConvTranspose2d(8, 16, 3, stride: 2, padding: 1, output_padding: 1), nn.ReLU(),
            nn.Conv2d(16, 1, 3, padding: 1), nn.Sigmoid());
        using var opt = optim.Adam(net.parameters(), 1e-3);
        long n = data.shape[0];
        var perSecond = new List<double>();
        for (int e = 0; e < cfg.ConvEpochs; e++)
        {
            var sw = Stopwatch.StartNew();
            using var perm = torch.randperm(n);
            for (long s = 0; s < n; s += ConvBatch)
            {
                using var scope = NewDisposeScope();
                var xb = data.index_select(0, perm.narrow(0, s, Math.Min(ConvBatch, n - s))).view(-1, 1, 28, 28);
                var noisy = (xb + torch.randn_like(xb) * ConvNoise).clamp_(0, 1);
                opt.zero_grad();
                var loss = nn.functional.mse_loss(net.forward(noisy), xb);
                if (!float.IsFinite(loss.item<float>()))
                    throw new InvalidOperationException($"raw conv loop diverged (loss {loss.item<float>()} in epoch {e + 1}, libtorch's own convolution calls, see ENVIRONMENT.md on the backward-data fault)");
                loss.backward();
                opt.step();
            }
            perSecond.Add(n / sw.Elapsed.TotalSeconds);
        }
        return perSecond;
    }
}
