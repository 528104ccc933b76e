using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.SampleData;

namespace Ml.Autoencoders.Samples;

/// <summary>Small helpers the variant samples share: options, per-pixel losses, reading columns and picking images.</summary>
internal static class SampleMetrics
{
    /// <summary>Smallest and largest reconstruction value fed to the logarithms of the cross-entropy.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>The <c>--epochs</c> option, else <paramref name="fallback"/>.</summary>
    public static int Epochs(string[] args, int fallback = 10) => SampleData.Arg(args, "--epochs") is { } e ? int.Parse(e) : fallback;

    /// <summary>Binary cross-entropy of each row: the sum over its pixels of -(x log r + (1 - x) log(1 - r)), r clamped to [1e-7, 1 - 1e-7].</summary>
    /// <param name="clean">Targets, row-major (rows x width), in [0, 1].</param>
    /// <param name="reconstructions">One reconstruction per row, each of width values.</param>
    public static double[] RowBce(float[] clean, IReadOnlyList<float[]> reconstructions)
    {
        int width = clean.Length / reconstructions.Count;
        var sums = new double[reconstructions.Count];
        for (int i = 0; i < sums.Length; i++)
        {
            var r = reconstructions[i];
            double sum = 0;
            for (int j = 0; j < width; j++)
            {
                double x = clean[i * width + j], p = Math.Clamp(r[j], Epsilon, 1 - Epsilon);
                sum -= x * Math.Log(p) + (1 - x) * Math.Log(1 - p);
            }
            sums[i] = sum;
        }
        return sums;
    }

    /// <summary>Mean squared error per pixel between row-major <paramref name="clean"/> rows and <paramref name="rows"/>.</summary>
    public static double Mse(float[] clean, IReadOnlyList<float[]> rows)
    {
        int width = clean.Length / rows.Count;
        double sum = 0;
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < width; j++)
                sum += Math.Pow(rows[i][j] - clean[i * width + j], 2);
        return sum / clean.Length;
    }

    /// <summary>A vector column of a data view as one array per row.</summary>
    public static float[][] Column(this IDataView view, string name) => view.GetColumn<float[]>(name).ToArray();

    /// <summary>The index of the first image of each class, class 0 first (classes without an image are left out).</summary>
    public static int[] FirstOfEachClass(FashionMnistSplit split) =>
        Enumerable.Range(0, FashionMnist.ClassNames.Length).Select(c => Array.IndexOf(split.Labels, c)).Where(i => i >= 0).ToArray();
}
