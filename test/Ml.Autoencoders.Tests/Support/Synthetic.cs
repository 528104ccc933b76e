using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Tests;

/// <summary>A row with a float vector and a label, the shape every test data set here has.</summary>
public sealed class VectorRow
{
    /// <summary>The features.</summary>
    [VectorType]
    public float[] Features { get; set; } = Array.Empty<float>();

    /// <summary>A class label.</summary>
    public uint Label { get; set; }
}

/// <summary>Small synthetic data sets.</summary>
internal static class Synthetic
{
    /// <summary>Rows on a <paramref name="rank"/>-dimensional subspace plus a little noise, squashed into (0, 1).</summary>
    public static float[][] LowRank(int rows, int features, int rank, int seed = 1, double noise = 0.01, bool squash = true)
    {
        var random = new Random(seed);
        var basis = new double[rank, features];
        for (int r = 0; r < rank; r++)
            for (int j = 0; j < features; j++) basis[r, j] = Gaussian(random);
        var data = new float[rows][];
        for (int i = 0; i < rows; i++)
        {
            var z = Enumerable.Range(0, rank).Select(_ => Gaussian(random)).ToArray();
            data[i] = new float[features];
            for (int j = 0; j < features; j++)
            {
                double v = noise * Gaussian(random);
                for (int r = 0; r < rank; r++) v += z[r] * basis[r, j];
                data[i][j] = squash ? (float)(1 / (1 + Math.Exp(-0.5 * v))) : (float)v;
            }
        }
        return data;
    }

    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    public static IDataView ToDataView(this MLContext ml, float[][] rows)
    {
        int d = rows.Length == 0 ? 1 : rows[0].Length;
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        return ml.Data.LoadFromEnumerable(rows.Select((r, i) => new VectorRow { Features = r, Label = (uint)(i % 3) }).ToList(), schema);
    }

    public static float[] Flatten(float[][] rows) => rows.SelectMany(r => r).ToArray();

    /// <summary>Area under the ROC curve of <paramref name="scores"/> for <paramref name="positive"/> rows (every pair compared; a tie counts half).</summary>
    public static double Auroc(float[] scores, bool[] positive)
    {
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < scores.Length; i++)
            if (positive[i])
                for (int j = 0; j < scores.Length; j++)
                    if (!positive[j])
                    {
                        pairs++;
                        wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                    }
        return wins / pairs;
    }
}
