namespace Ml.Autoencoders.Embedding;

/// <summary>
/// The repulsive half of the t-SNE gradient (Student-t kernel, one degree of freedom): for every point i of an
/// embedding, F_i = Σ_{j≠i} w_ij² (y_i − y_j) with w_ij = 1 / (1 + ‖y_i − y_j‖²), and the normalisation
/// Z = Σ_{i≠j} w_ij. The full gradient (bhtsne convention, without the factor 4) is
/// Σ_j p_ij w_ij (y_i − y_j) − F_i / Z.
/// </summary>
internal interface ITsneRepulsion
{
    /// <summary>
    /// Writes F (row-major, <paramref name="count"/> x <paramref name="dimensions"/>) into <paramref name="forces"/>
    /// for the embedding <paramref name="embedding"/> (same layout) and returns Z.
    /// </summary>
    double Compute(ReadOnlySpan<double> embedding, int count, int dimensions, Span<double> forces);
}

/// <summary>Exact O(n²) repulsion: the reference the accelerated methods are tested against, and the method for small n.</summary>
internal sealed class ExactTsneRepulsion : ITsneRepulsion
{
    /// <inheritdoc />
    public double Compute(ReadOnlySpan<double> embedding, int count, int dimensions, Span<double> forces)
    {
        TsneRepulsionChecks.Check(embedding, count, dimensions, forces);
        forces.Clear();
        double z = 0;
        for (int i = 0; i < count; i++)
        {
            var yi = embedding.Slice(i * dimensions, dimensions);
            var fi = forces.Slice(i * dimensions, dimensions);
            for (int j = 0; j < count; j++)
            {
                if (j == i) continue;
                var yj = embedding.Slice(j * dimensions, dimensions);
                double d2 = 0;
                for (int c = 0; c < dimensions; c++)
                {
                    double diff = yi[c] - yj[c];
                    d2 += diff * diff;
                }
                double w = 1 / (1 + d2);
                z += w;
                double w2 = w * w;
                for (int c = 0; c < dimensions; c++) fi[c] += w2 * (yi[c] - yj[c]);
            }
        }
        return z;
    }
}

/// <summary>Argument checks shared by the repulsion methods.</summary>
internal static class TsneRepulsionChecks
{
    /// <summary>Throws when the spans do not hold <paramref name="count"/> x <paramref name="dimensions"/> values.</summary>
    public static void Check(ReadOnlySpan<double> embedding, int count, int dimensions, Span<double> forces)
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, "t-SNE needs at least two points.");
        if (dimensions is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "t-SNE embeds into 1, 2 or 3 dimensions.");
        long expected = (long)count * dimensions;
        if (embedding.Length != expected) throw new ArgumentException($"Expected {expected} embedding values, got {embedding.Length}.", nameof(embedding));
        if (forces.Length != expected) throw new ArgumentException($"Expected {expected} force values, got {forces.Length}.", nameof(forces));
    }
}
