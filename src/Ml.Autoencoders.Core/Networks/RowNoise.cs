namespace Ml.Autoencoders.Networks;

/// <summary>
/// Standard normal numbers addressed by (seed, row, unit) instead of drawn in sequence: a row's noise is the
/// same whichever batch, thread or cursor computes it.
/// </summary>
internal static class RowNoise
{
    public static float Normal(ulong seed, long row, int unit)
    {
        ulong key = Mix(seed ^ Mix((ulong)row * 0x9E3779B97F4A7C15UL + (ulong)unit));
        // Box-Muller from two 53-bit uniforms; u1 in (0, 1] keeps the logarithm finite.
        double u1 = ((Mix(key) >> 11) + 1) * (1.0 / (1UL << 53));
        double u2 = (Mix(key + 0x632BE59BD9B4E019UL) >> 11) * (1.0 / (1UL << 53));
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>Noise for <paramref name="rows"/> rows starting at position <paramref name="firstRow"/>, <paramref name="units"/> per row, row-major.</summary>
    public static float[] Rows(ulong seed, long firstRow, int rows, int units)
    {
        var noise = new float[rows * units];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < units; j++)
                noise[r * units + j] = Normal(seed, firstRow + r, j);
        return noise;
    }

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mixer.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
