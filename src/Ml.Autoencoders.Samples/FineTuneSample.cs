using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// Unsupervised pretraining, then supervised fine-tuning with few labels: the default 784-256-128 body with a 32-d code,
/// trained as a denoising autoencoder (30% of the pixels masked) on all 60,000 training images without their labels.
/// For 100, 600 and 6,000 labelled images (the same number of each class, a new draw per seed), the classifier with the
/// library's default options trains (a) the pretrained encoder, (b) the same network from random weights, and, next to
/// them, (c) a softmax on the frozen codes and (d) ML.NET's L-BFGS maximum entropy on the raw pixels; test accuracy on
/// the 10,000 test images, mean and standard deviation over three seeds, as a table.
/// </summary>
internal static class FineTuneSample
{
    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        var ml = new MLContext(seed: 0);
        var testView = ml.ToDataView(test);
        int[] labelCounts = (SampleData.Arg(args, "--labels") ?? "100,600,6000").Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        int seeds = SampleData.Arg(args, "--seeds") is { } sd ? int.Parse(sd, CultureInfo.InvariantCulture) : 3;

        // 1. Pretraining on every training image, labels unused: the default body, a wider code, masking noise.
        var pretrainOptions = new AutoencoderOptions
        {
            LatentDimension = SampleData.Arg(args, "--latent") is { } l ? int.Parse(l, CultureInfo.InvariantCulture) : 32,
            Corruption = new MaskingNoise { Rate = SampleData.Arg(args, "--mask") is { } m ? double.Parse(m, CultureInfo.InvariantCulture) : 0.3 },
            Epochs = SampleData.Arg(args, "--epochs") is { } e ? int.Parse(e, CultureInfo.InvariantCulture) : null,
            Outputs = AutoencoderOutputs.LatentCode,
            Progress = new ConsoleProgress("pretrain"),
        };
        var clock = Stopwatch.StartNew();
        var pretrained = ml.Transforms.Autoencoder(pretrainOptions).Fit(ml.ToDataView(train));
        Console.WriteLine($"Pretrained {pretrained.Model.Architecture} on {train.Count:N0} unlabelled images in {clock.Elapsed.TotalSeconds:F0}s.");

        // 2. The classifier's defaults, from the pretrained encoder and from scratch; a frozen encoder; L-BFGS on pixels.
        double? weight = SampleData.Arg(args, "--weight") is { } w ? double.Parse(w, CultureInfo.InvariantCulture) : null;
        AutoencoderClassifierOptions Options(int seed)
        {
            var o = new AutoencoderClassifierOptions { Autoencoder = pretrained, Seed = seed };
            if (weight is { } given) o.ReconstructionWeight = given;
            return o;
        }
        var variants = new (string Name, Func<int, IEstimator<ITransformer>> Trainer)[]
        {
            ("pretrained encoder, fine-tuned", seed => ml.MulticlassClassification.Trainers.AutoencoderClassifier(Options(seed))),
            ("same network from scratch", seed => { var o = Options(seed); o.ReinitializeEncoder = true; return ml.MulticlassClassification.Trainers.AutoencoderClassifier(o); }),
            ("softmax on the frozen codes", seed => { var o = Options(seed); o.FreezeEncoder = true; return ml.MulticlassClassification.Trainers.AutoencoderClassifier(o); }),
            ("L-BFGS max. entropy on raw pixels", _ => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
        };
        var accuracy = new Dictionary<(int Labels, string Name), List<double>>();
        foreach (int labels in labelCounts)
            for (int seed = 1; seed <= seeds; seed++)
            {
                var labelled = ml.Data.LoadFromEnumerable(Balanced(train, labels, seed).Select(i => new ImageRow { Features = train.Row(i), Label = (uint)train.Labels[i] }).ToList());
                foreach (var (name, trainer) in variants)
                {
                    clock.Restart();
                    var model = Keyed(ml).Append(trainer(seed)).Fit(labelled);
                    double value = ml.MulticlassClassification.Evaluate(model.Transform(testView)).MicroAccuracy;
                    var classifier = ((IEnumerable<ITransformer>)model).OfType<AutoencoderClassifierTransformer>().SingleOrDefault();
                    Console.WriteLine($"  {labels} labels, seed {seed}: {name}: {value:P1} ({clock.Elapsed.TotalSeconds:F1}s{(classifier is null ? "" : $", {classifier.History.Epochs.Count} epochs")})");
                    if (seed == 1 && labels == labelCounts[0] && classifier?.History.FineTuningChoice is { } choice) Console.WriteLine($"    {choice}");
                    classifier?.Autoencoder.Model.Dispose();
                    if (!accuracy.TryGetValue((labels, name), out var list)) accuracy[(labels, name)] = list = new List<double>();
                    list.Add(value);
                }
            }

        Console.WriteLine($"\nTest accuracy ({test.Count:N0} test images; encoder pretrained on {train.Count:N0} unlabelled images; mean ± sd over seeds 1..{seeds},");
        Console.WriteLine("each seed a new draw of the labelled images, the same number of each class):");
        Console.WriteLine($"{"model",-36} " + string.Join(" ", labelCounts.Select(n => $"{n + " labels",14}")));
        foreach (var (name, _) in variants)
            Console.WriteLine($"{name,-36} " + string.Join(" ", labelCounts.Select(n => $"{MeanSd(accuracy[(n, name)]),14}")));
        Console.WriteLine($"{"pretrained - scratch (points)",-36} " + string.Join(" ", labelCounts.Select(n =>
            $"{(accuracy[(n, variants[0].Name)].Average() - accuracy[(n, variants[1].Name)].Average()) * 100,14:+0.0;-0.0}")));
        pretrained.Model.Dispose();
    }

    /// <summary>The same number of images of each class (labels / 10), a new draw per seed, from all training images.</summary>
    private static List<int> Balanced(FashionMnistSplit train, int labels, int seed)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, train.Count).OrderBy(_ => random.Next()).ToArray();
        return Enumerable.Range(0, 10).SelectMany(c => order.Where(i => train.Labels[i] == c).Take(labels / 10)).OrderBy(i => i).ToList();
    }

    private static string MeanSd(List<double> values)
    {
        double mean = values.Average();
        double sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return string.Create(CultureInfo.InvariantCulture, $"{mean * 100:F1} ± {sd * 100:F1}%");
    }

    private static EstimatorChain<ValueToKeyMappingTransformer> Keyed(MLContext ml) =>
        new EstimatorChain<ITransformer>().Append(ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue));
}
