using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// The stacked 784-100-30 autoencoder's codes of 5,000 test images -> t-SNE -> a PNG scatter coloured by class with a
/// legend; the same for PCA-30 of the pixels, with trustworthiness and 5-NN accuracy inside each map.
/// </summary>
internal static class TsneSample
{
    private const int Points = 5000;

    public static void Run(string[] args)
    {
        var (train, test) = SampleData.Load(args);
        int epochs = SampleMetrics.Epochs(args);
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        int points = Math.Min(Points, test.Count);
        var ml = new MLContext(seed: 0);

        // The stacked 784-100-30 autoencoder (SELU, sigmoid output, cross-entropy) with the library's Adam schedule.
        var options = AutoencoderPresets.Stacked(new[] { 100 }, 30);
        options.Epochs = epochs;
        options.Outputs = AutoencoderOutputs.LatentCode;
        options.Progress = new ConsoleProgress("784-100-30");
        var clock = Stopwatch.StartNew();
        var autoencoder = ml.Transforms.Autoencoder(options).Fit(ml.ToDataView(train));
        Console.WriteLine($"Autoencoder trained in {clock.Elapsed.TotalSeconds:F0}s.");

        var shown = ml.Data.TakeRows(ml.ToDataView(test), points);
        var labels = test.Labels.Take(points).ToArray();
        var codes = autoencoder.Transform(shown);
        var maps = new[]
        {
            ("stacked 784-100-30 autoencoder codes", "tsne-autoencoder-codes.png",
                (IEstimator<ITransformer>)ml.Transforms.ProjectToTsne(Options(AutoencoderColumnNames.LatentCode)), codes, AutoencoderColumnNames.LatentCode),
            ("PCA-30 of the pixels", "tsne-pca30.png",
                ml.Transforms.ProjectToPrincipalComponents("Pca", "Features", rank: 30, seed: 0).Append(ml.Transforms.ProjectToTsne(Options("Pca"))), shown, "Pca"),
        };
        Console.WriteLine();
        foreach (var (name, file, pipeline, data, inputColumn) in maps)
        {
            clock.Restart();
            var fitted = pipeline.Fit(data);
            var embedded = fitted.Transform(data);
            double seconds = clock.Elapsed.TotalSeconds;
            var xy = embedded.GetColumn<float[]>("Tsne").ToArray();
            var input = embedded.GetColumn<float[]>(inputColumn).SelectMany(v => v).ToArray();
            var flat = xy.SelectMany(v => v).ToArray();
            double trust = EmbeddingQuality.Trustworthiness(input, input.Length / points, flat, 2, 10);
            double knn = KnnAccuracyInMap(flat, labels);
            string png = Path.Combine(outDir, file);
            ScatterPlot.Save(png, xy.Select(p => p[0]).ToArray(), xy.Select(p => p[1]).ToArray(), labels, FashionMnist.ClassNames,
                $"t-SNE of {name}, {points:N0} Fashion-MNIST test images");
            Console.WriteLine($"{name}: t-SNE {seconds:F1}s, trustworthiness (k=10) {trust:F4}, 5-NN accuracy inside the 2-d map {knn:P1}");
            Console.WriteLine($"  wrote {Path.GetFullPath(png)}");
        }
        autoencoder.Model.Dispose();
    }

    private static TsneOptions Options(string input) => new()
    {
        InputColumnName = input,
        OutputColumnName = "Tsne",
        Progress = new Progress(),
        ProgressInterval = 250,
    };

    /// <summary>Leave-one-out 5-NN accuracy of the classes in the 2-d map: how well the map keeps classes together.</summary>
    private static double KnnAccuracyInMap(float[] xy, int[] labels)
    {
        var ml = new MLContext(seed: 0);
        int n = labels.Length, correct = 0;
        var rows = Enumerable.Range(0, n).Select(i => new ImageRow2 { Features = [xy[2 * i], xy[2 * i + 1]], Label = (uint)labels[i] });
        var view = ml.Data.LoadFromEnumerable(rows.ToList());
        var model = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(view);
        var keyed = model.Transform(view);
        var knn = ml.MulticlassClassification.Trainers.KNearestNeighbors(numberOfNeighbors: K + 1).Fit(keyed);
        // Each point's first neighbour is itself: vote with the other five.
        var (_, neighbors) = knn.Model.FindNeighbors(xy, n);
        for (int i = 0; i < n; i++)
        {
            var votes = new int[10];
            for (int j = 1; j <= K; j++) votes[labels[neighbors[i * (K + 1) + j]]]++;
            int best = Array.IndexOf(votes, votes.Max());
            if (best == labels[i]) correct++;
        }
        knn.Model.Dispose();
        return correct / (double)n;
    }

    private const int K = 5;

    private sealed class ImageRow2
    {
        [Microsoft.ML.Data.VectorType(2)]
        public float[] Features { get; set; } = [];

        public uint Label { get; set; }
    }

    private sealed class Progress : IProgress<TsneProgress>
    {
        public void Report(TsneProgress value) =>
            Console.WriteLine($"  [t-SNE] iteration {value.Iteration}/{value.Iterations}, KL {value.KlDivergence:F4}, {value.Elapsed.TotalSeconds:F1}s");
    }
}
