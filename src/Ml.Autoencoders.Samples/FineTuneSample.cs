using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Classification;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// Unsupervised pretraining, then supervised fine-tuning with few labels: a stacked denoising 784-128-64-10 autoencoder
/// (greedy layer-wise, then end to end) is pretrained on all 60,000 training images without their labels; 600 labelled images (60 per class) then train
/// (a) the pretrained encoder with a softmax head, fine-tuned end to end, (b) the same network from random weights,
/// (c) a softmax on the frozen codes, and (d) ML.NET's L-BFGS maximum entropy on the raw pixels; test accuracy on the
/// 10,000 test images (mean over three head seeds), as a table.
/// </summary>
internal static class FineTuneSample
{
    private const int PerClass = 60;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        var ml = new MLContext(seed: 0);
        var testView = ml.ToDataView(test);

        // 1. Pretraining on every training image, labels unused.
        double noise = SampleData.Arg(args, "--noise") is { } n ? double.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 0.3;
        int latent = SampleData.Arg(args, "--latent") is { } l ? int.Parse(l) : 10;
        double dropout = SampleData.Arg(args, "--dropout") is { } dr ? double.Parse(dr, System.Globalization.CultureInfo.InvariantCulture) : 0.2;
        var pretrainOptions = AutoencoderPresets.Denoising(noiseFactor: noise);
        pretrainOptions.HiddenLayerSizes = [128, 64];
        pretrainOptions.LatentDimension = latent;
        // Greedy layer-wise pretraining first (3 epochs per layer), then end to end: the classic stacked denoising recipe.
        pretrainOptions.PretrainEpochs = SampleData.Arg(args, "--greedy") is { } greedy ? int.Parse(greedy) : 3;
        if (args.Contains("--stacked"))
        {
            pretrainOptions = AutoencoderPresets.Stacked([100], 30);
            pretrainOptions.Corruption = AutoencoderPresets.Denoising(noiseFactor: noise).Corruption;
        }
        pretrainOptions.Epochs = epochs;
        pretrainOptions.Outputs = AutoencoderOutputs.LatentCode;
        pretrainOptions.Progress = new ConsoleProgress("pretrain 784-128-64-code");
        var clock = Stopwatch.StartNew();
        var pretrained = ml.Transforms.Autoencoder(pretrainOptions).Fit(ml.ToDataView(train));
        Console.WriteLine($"Pretrained on {train.Count:N0} unlabelled images in {clock.Elapsed.TotalSeconds:F0}s.");

        // 2. The labelled few: the first 60 images of each class.
        var chosen = Enumerable.Range(0, 10).SelectMany(c => Enumerable.Range(0, train.Count).Where(i => train.Labels[i] == c).Take(PerClass)).ToList();
        var labelled = ml.Data.LoadFromEnumerable(chosen.Select(i => new ImageRow { Features = train.Row(i), Label = (uint)train.Labels[i] }).ToList());
        Console.WriteLine($"Labelled set: {chosen.Count} images ({PerClass} per class).");

        int freeze = SampleData.Arg(args, "--freeze") is { } fz ? int.Parse(fz) : 20;
        double encoderRate = SampleData.Arg(args, "--encoder-lr") is { } elr ? double.Parse(elr, System.Globalization.CultureInfo.InvariantCulture) : 2e-4;
        AutoencoderClassifierOptions Head(string label, int seed) => new()
        {
            Autoencoder = pretrained,
            Epochs = 60,
            BatchSize = 32,
            LearningRate = 2e-3,
            HeadDropout = dropout,
            Seed = seed,
            Progress = seed == Seeds[0] ? new EveryTenth(label) : null,
        };
        var variants = new (string Name, Func<int, AutoencoderClassifierOptions> Options)[]
        {
            // the head first (frozen encoder), then everything, the encoder at a tenth of the head's rate
            ("pretrained encoder, fine-tuned", seed => { var o = Head("fine-tuned", seed); o.FreezeEncoderEpochs = freeze; o.EncoderLearningRate = encoderRate; return o; }),
            ("same network from scratch", seed => { var o = Head("from scratch", seed); o.ReinitializeEncoder = true; return o; }),
            ("softmax on the frozen codes", seed => { var o = Head("frozen codes", seed); o.FreezeEncoder = true; return o; }),
        };
        var rows = new List<(string Name, double[] Accuracy, double Seconds)>();
        foreach (var (name, options) in variants)
        {
            var runs = Seeds.Select(seed => Score(ml, name, Keyed(ml).Append(ml.MulticlassClassification.Trainers.AutoencoderClassifier(options(seed))), labelled, testView)).ToArray();
            rows.Add((name, runs.Select(r => r.Item2).ToArray(), runs.Average(r => r.Item3)));
        }
        var lbfgs = Score(ml, "L-BFGS max. entropy on raw pixels", Keyed(ml).Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()), labelled, testView);
        rows.Add((lbfgs.Item1, [lbfgs.Item2], lbfgs.Item3));

        Console.WriteLine($"\nTest accuracy with {chosen.Count} labels ({test.Count:N0} test images; encoder pretrained on {train.Count:N0} unlabelled images;");
        Console.WriteLine($"head seeds {string.Join(", ", Seeds)}: mean, then min..max):");
        Console.WriteLine($"{"model",-38} {"accuracy",9} {"range",15} {"train",7}");
        foreach (var (name, accuracy, seconds) in rows)
            Console.WriteLine($"{name,-38} {accuracy.Average(),9:P1} {(accuracy.Length > 1 ? $"{accuracy.Min():P1}..{accuracy.Max():P1}" : ""),15} {seconds,6:F1}s");
        pretrained.Model.Dispose();
    }

    private static readonly int[] Seeds = [1, 2, 3];

    private static EstimatorChain<ValueToKeyMappingTransformer> Keyed(MLContext ml) =>
        new EstimatorChain<ITransformer>().Append(ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue));

    private static (string, double, double) Score(MLContext ml, string name, IEstimator<ITransformer> estimator, IDataView labelled, IDataView test)
    {
        var clock = Stopwatch.StartNew();
        var model = estimator.Fit(labelled);
        double seconds = clock.Elapsed.TotalSeconds;
        double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        Console.WriteLine($"  {name}: test accuracy {accuracy:P1} ({seconds:F1}s)");
        foreach (var t in ((IEnumerable<ITransformer>)model).OfType<AutoencoderClassifierTransformer>()) t.Autoencoder.Model.Dispose();
        return (name, accuracy, seconds);
    }

    private sealed class EveryTenth(string label) : IProgress<Ml.Autoencoders.Training.EpochRecord>
    {
        public void Report(Ml.Autoencoders.Training.EpochRecord value)
        {
            if (value.Epoch % 10 == 0) Console.WriteLine($"  [{label}] {value}");
        }
    }
}
