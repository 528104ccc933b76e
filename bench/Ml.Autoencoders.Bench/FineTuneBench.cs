using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>One labelled Fashion-MNIST image for the fine-tuning part (k).</summary>
internal sealed class LabelledImageRow
{
    [VectorType(784)]
    public float[] Features { get; set; } = Array.Empty<float>();

    public uint Label { get; set; }
}

/// <summary>
/// (k) Fine-tuning with few labels: an autoencoder pretrained on unlabelled Fashion-MNIST images, its encoder fine-tuned
/// as a classifier on 100, 600 and 6,000 labelled images (balanced, a new draw per seed), against the same network from
/// random weights with the same options, and ML.NET's L-BFGS maximum entropy on the raw pixels.
/// </summary>
internal static partial class Program
{
    private static void PartK(Config cfg, FashionMnistSplit train, FashionMnistSplit test)
    {
        var ml = new MLContext(seed: 0);
        int pretrainRows = Math.Min(cfg.FineTunePretrainRows ?? train.Count, train.Count);
        Header($"(k) Fine-tuning with few labels: pretrained encoder vs the same network from scratch vs L-BFGS on pixels; labels {string.Join(", ", cfg.FineTuneLabels)}, {cfg.FineTuneSeeds} seeds each, test {test.Count} rows");
        Console.WriteLine($"    pretraining: '{cfg.FineTunePretrain}' on the first {pretrainRows:N0} training images without their labels (seed 0), once;");
        Console.WriteLine("    each seed s draws its labelled images anew (the same number of each class, from all 60,000) and is the classifier's Seed;");
        Console.WriteLine("    classifier: mlContext.MulticlassClassification.Trainers.AutoencoderClassifier(options), options as the variant says (the first: the library's defaults);");
        Console.WriteLine("    scratch: the same options with ReinitializeEncoder = true (without freezing or a slower encoder rate); L-BFGS: LbfgsMaximumEntropy() with its defaults on the 784 pixels;");
        Console.WriteLine("    linear probe: NormalizeMeanVariance + LbfgsMaximumEntropy on the pretrained codes (what the features hold without fine-tuning)");

        var clock = Stopwatch.StartNew();
        var pretrained = Pretrained(cfg, ml, train, pretrainRows);
        Console.WriteLine($"    pretrained {pretrained.Model.Architecture} in {clock.Elapsed.TotalSeconds:F0}s ({pretrained.History.Epochs.Count} epochs, last train loss {pretrained.History.Epochs[^1].TrainLoss:F5})");
        var testView = ml.Data.LoadFromEnumerable(Labelled(test, Enumerable.Range(0, test.Count)));
        var variants = cfg.FineTuneVariants;
        // results[labels][variant] = (pretrained, scratch) accuracies per seed; lbfgs[labels] per seed.
        var results = new Dictionary<int, Dictionary<string, (List<double> Pretrained, List<double> Scratch)>>();
        var lbfgs = new Dictionary<int, List<double>>();
        var probe = new Dictionary<int, List<double>>();
        var testCodes = pretrained.Transform(testView);
        try
        {
            foreach (int labels in cfg.FineTuneLabels)
            {
                results[labels] = variants.ToDictionary(v => v, _ => (new List<double>(), new List<double>()));
                lbfgs[labels] = new List<double>();
                probe[labels] = new List<double>();
                for (int seed = 1; seed <= cfg.FineTuneSeeds; seed++)
                {
                    var chosen = Balanced(train, labels, seed);
                    var labelled = ml.Data.LoadFromEnumerable(Labelled(train, chosen));
                    clock.Restart();
                    double lb = KAccuracy(ml, ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(), labelled, testView);
                    lbfgs[labels].Add(lb);
                    // The linear probe: L-BFGS on the pretrained codes (standardised), what the features hold without fine-tuning.
                    var codes = ml.Transforms.NormalizeMeanVariance(AutoencoderColumnNames.LatentCode)
                        .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: AutoencoderColumnNames.LatentCode));
                    double pr = KAccuracy(ml, codes, pretrained.Transform(labelled), testCodes);
                    probe[labels].Add(pr);
                    Console.WriteLine($"    {labels,5} labels, seed {seed}: L-BFGS on pixels {lb:P2}, on the pretrained codes {pr:P2} ({clock.Elapsed.TotalSeconds:F1}s)");
                    foreach (var variant in variants)
                    {
                        foreach (bool scratch in new[] { false, true })
                        {
                            var options = FineTuneVariant(variant, pretrained, seed, scratch, labels);
                            options.Threads = cfg.Threads; // a fixed count: the default (0) drops to one thread on a busy box, and the sums then differ
                            options.ReinitializeEncoder = scratch;
                            clock.Restart();
                            string? choice = null;
                            double accuracy = KAccuracy(ml, ml.MulticlassClassification.Trainers.AutoencoderClassifier(options), labelled, testView, c => choice = c);
                            (scratch ? results[labels][variant].Scratch : results[labels][variant].Pretrained).Add(accuracy);
                            Console.WriteLine($"    {labels,5} labels, seed {seed}: {variant,-16} {(scratch ? "scratch   " : "pretrained")} {accuracy:P2} ({clock.Elapsed.TotalSeconds:F1}s)" +
                                              (seed == 1 && labels == cfg.FineTuneLabels[0] ? $"  [{choice}]" : ""));
                        }
                    }
                }
            }
        }
        finally
        {
            pretrained.Model.Dispose();
        }

        Console.WriteLine();
        Console.WriteLine($"    => test accuracy, mean ± sd over {cfg.FineTuneSeeds} seeds (pretraining '{cfg.FineTunePretrain}', {pretrainRows:N0} unlabelled images):");
        Console.WriteLine($"    {"labels",6} | {"variant",-16} | {"pretrained",15} | {"scratch",15} | {"L-BFGS pixels",15} | {"L-BFGS codes",15} | {"pretrained - scratch",20}");
        foreach (int labels in cfg.FineTuneLabels)
            foreach (var variant in variants)
            {
                var (p, s) = results[labels][variant];
                var gaps = p.Zip(s, (a, b) => (a - b) * 100).ToArray();
                Console.WriteLine($"    {labels,6} | {variant,-16} | {Pm(p),15} | {Pm(s),15} | {Pm(lbfgs[labels]),15} | {Pm(probe[labels]),15} | {gaps.Average(),8:+0.0;-0.0} ± {SampleStd(gaps):F1} pt");
                if (variant != variants[0]) continue;
                double gap = gaps.Average();
                bool few = labels <= 600;
                Table.Add(new Row($"(k) {labels} labels: pretrained vs scratch accuracy ({gap:+0.0;-0.0} pt; L-BFGS pixels {Pm(lbfgs[labels])})",
                    Pm(p), Pm(s), p.Average() / s.Average(), few ? ">= +2 pt" : "(info)", few ? gap >= 2 : null));
            }
    }

    /// <summary>The pretrained autoencoder of the recipe: loaded from --finetune-cache when a file of that recipe is there, otherwise fitted (and saved there).</summary>
    private static AutoencoderTransformer Pretrained(Config cfg, MLContext ml, FashionMnistSplit train, int rows)
    {
        string? file = cfg.FineTuneCache is { } dir ? Path.Combine(dir, $"{cfg.FineTunePretrain.Replace('+', '_')}-{rows}.bin") : null;
        if (file is not null && File.Exists(file))
        {
            Console.WriteLine($"    (pretrained model loaded from {file})");
            return AutoencoderTransformer.Load(file);
        }
        var options = PretrainRecipe(cfg.FineTunePretrain);
        options.Threads = cfg.Threads;
        var view = ml.Data.LoadFromEnumerable(ToRows(train, rows));
        var fitted = ml.Transforms.Autoencoder(options).Fit(view);
        if (file is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            fitted.Save(file);
        }
        return fitted;
    }

    /// <summary>
    /// Pretraining recipes, parts joined by '+': <c>default</c> (the library's default options), <c>sample</c> (the finetune
    /// sample's stacked denoising 784-128-64-10 before this part existed), <c>maskX</c> (masking noise, rate X),
    /// <c>noiseX</c> (Gaussian input noise X), <c>latentN</c>, <c>epN</c> (epochs), <c>hA_B</c> (hidden layers).
    /// </summary>
    private static AutoencoderOptions PretrainRecipe(string recipe)
    {
        var o = new AutoencoderOptions { Outputs = AutoencoderOutputs.LatentCode, Seed = 0 };
        foreach (var part in recipe.Split('+', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "default") continue;
            if (part == "sample")
            {
                o = AutoencoderPresets.Denoising(noiseFactor: 0.3);
                o.HiddenLayerSizes = [128, 64];
                o.LatentDimension = 10;
                o.PretrainEpochs = 3;
                o.Epochs = 10;
                o.Outputs = AutoencoderOutputs.LatentCode;
            }
            else if (part.StartsWith("mask", StringComparison.Ordinal)) o.Corruption = new MaskingNoise { Rate = double.Parse(part[4..], CultureInfo.InvariantCulture) };
            else if (part.StartsWith("noise", StringComparison.Ordinal)) o.Corruption = new GaussianNoise { Factor = double.Parse(part[5..], CultureInfo.InvariantCulture) };
            else if (part.StartsWith("latent", StringComparison.Ordinal)) o.LatentDimension = int.Parse(part[6..], CultureInfo.InvariantCulture);
            else if (part.StartsWith("ep", StringComparison.Ordinal)) o.Epochs = int.Parse(part[2..], CultureInfo.InvariantCulture);
            else if (part.StartsWith('h')) o.HiddenLayerSizes = part[1..].Split('_').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            else throw new ArgumentException($"--finetune-pretrain: unknown part '{part}' (default, sample, maskX, noiseX, latentN, epN, hA_B)");
        }
        return o;
    }

    /// <summary>
    /// Fine-tuning option sets, parts joined by '+': <c>default</c> (the library's defaults), <c>old</c> (the defaults
    /// before 2026-12-05: 30 epochs, ReconstructionWeight 0), <c>wX</c> (ReconstructionWeight X), <c>sN</c> (epochs for at
    /// least N optimizer steps, at least 30), <c>eN</c> (Epochs), <c>fN</c> (FreezeEncoderEpochs N), <c>elrX</c>
    /// (EncoderLearningRate X), <c>frozen</c> (FreezeEncoder), <c>lrX</c>, <c>bsN</c>, <c>dX</c> (HeadDropout),
    /// <c>sample</c> (the finetune sample's settings before this part: 60 epochs, batch 32, lr 2e-3, the encoder frozen
    /// for 20 epochs, then at 2e-4). A scratch run leaves out what only slows or freezes the encoder (f, elr, frozen).
    /// </summary>
    private static AutoencoderClassifierOptions FineTuneVariant(string variant, AutoencoderTransformer pretrained, int seed, bool scratch, int rows)
    {
        var o = new AutoencoderClassifierOptions { Autoencoder = pretrained, Seed = seed };
        foreach (var part in variant.Split('+', StringSplitOptions.RemoveEmptyEntries))
        {
            double Value(int skip) => double.Parse(part[skip..], CultureInfo.InvariantCulture);
            if (part == "default") continue;
            // Freezing or slowing a random encoder only handicaps it: scratch runs leave the encoder's own settings out.
            if (part == "sample") { o.Epochs = 60; o.BatchSize = 32; o.LearningRate = 2e-3; if (!scratch) { o.FreezeEncoderEpochs = 20; o.EncoderLearningRate = 2e-4; } }
            else if (part == "frozen") o.FreezeEncoder = !scratch;
            else if (part == "old") { o.Epochs = 30; o.ReconstructionWeight = 0; }
            else if (part.StartsWith('s')) o.Epochs = Math.Max(o.Epochs ?? AutoencoderClassifierOptions.Defaults.MinEpochs, (int)Math.Ceiling(Value(1) / Math.Ceiling(rows / (double)o.BatchSize)));
            else if (part.StartsWith("elr", StringComparison.Ordinal)) { if (!scratch) o.EncoderLearningRate = Value(3); }
            else if (part.StartsWith("lr", StringComparison.Ordinal)) o.LearningRate = Value(2);
            else if (part.StartsWith("bs", StringComparison.Ordinal)) o.BatchSize = (int)Value(2);
            else if (part.StartsWith('w')) o.ReconstructionWeight = Value(1);
            else if (part.StartsWith('f')) { if (!scratch) o.FreezeEncoderEpochs = (int)Value(1); }
            else if (part.StartsWith('e')) o.Epochs = (int)Value(1);
            else if (part.StartsWith('d')) o.HeadDropout = Value(1);
            else throw new ArgumentException($"--finetune-variants: unknown part '{part}' (default, old, sample, frozen, wX, sN, eN, fN, elrX, lrX, bsN, dX)");
        }
        return o;
    }

    /// <summary>The same number of images of each class (labels / 10), a new draw per seed, from all training images.</summary>
    private static List<int> Balanced(FashionMnistSplit train, int labels, int seed)
    {
        int classes = train.Labels.Max() + 1;
        var random = new Random(seed);
        var order = Enumerable.Range(0, train.Count).OrderBy(_ => random.Next()).ToArray();
        return Enumerable.Range(0, classes).SelectMany(c => order.Where(i => train.Labels[i] == c).Take(labels / classes)).OrderBy(i => i).ToList();
    }

    private static IEnumerable<LabelledImageRow> Labelled(FashionMnistSplit split, IEnumerable<int> rows) =>
        rows.Select(i => new LabelledImageRow { Features = split.Row(i), Label = (uint)split.Labels[i] }).ToList();

    /// <summary>Fits label-to-key + the trainer on the labelled rows; test accuracy (micro).</summary>
    private static double KAccuracy(MLContext ml, IEstimator<ITransformer> trainer, IDataView labelled, IDataView test, Action<string?>? choice = null)
    {
        var model = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Append(trainer).Fit(labelled);
        double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        foreach (var c in ((IEnumerable<ITransformer>)model).OfType<AutoencoderClassifierTransformer>())
        {
            choice?.Invoke(c.History.FineTuningChoice);
            c.Autoencoder.Model.Dispose();
        }
        return accuracy;
    }

    private static string Pm(IReadOnlyList<double> accuracies) =>
        string.Create(CultureInfo.InvariantCulture, $"{accuracies.Average() * 100:F1} ± {SampleStd(accuracies.Select(a => a * 100).ToArray()):F1}%");

    /// <summary>Sample standard deviation (n − 1); 0 for one value.</summary>
    private static double SampleStd(double[] values)
    {
        if (values.Length < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
