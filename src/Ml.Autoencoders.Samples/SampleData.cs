using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.SampleData;

namespace Ml.Autoencoders.Samples;

/// <summary>One Fashion-MNIST image as an ML.NET row.</summary>
public sealed class ImageRow
{
    /// <summary>784 pixels in [0, 1].</summary>
    [VectorType(784)]
    public float[] Features { get; set; } = Array.Empty<float>();

    /// <summary>Class 0..9.</summary>
    public uint Label { get; set; }
}

internal static class SampleData
{
    public static IEnumerable<ImageRow> Rows(FashionMnistSplit split)
    {
        for (int i = 0; i < split.Count; i++)
            yield return new ImageRow { Features = split.Row(i), Label = (uint)split.Labels[i] };
    }

    public static IDataView ToDataView(this MLContext ml, FashionMnistSplit split) =>
        ml.Data.LoadFromEnumerable(Rows(split).ToList());

    public static (FashionMnistSplit Train, FashionMnistSplit Test) Load(string[] args)
    {
        string? dir = Arg(args, "--data");
        int? maxTrain = Arg(args, "--train") is { } t ? int.Parse(t) : null;
        int? maxTest = Arg(args, "--test") is { } s ? int.Parse(s) : null;
        var (train, test) = FashionMnist.LoadDefault(dir, maxTrain, maxTest);
        Console.WriteLine($"Fashion-MNIST from {train.Source}: {train.Count} training and {test.Count} test images{(train.IsSubset ? " (subset; install dataset-fashion-mnist or pass --data for the full set)" : "")}.");
        return (train, test);
    }

    public static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
