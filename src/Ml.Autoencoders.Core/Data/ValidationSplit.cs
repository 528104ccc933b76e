namespace Ml.Autoencoders.Data;

/// <summary>
/// Decides, from the row index and the seed alone, whether a row is held out for validation.
/// The same rule serves cached and streamed data, so both see the same split.
/// </summary>
internal static class ValidationSplit
{
    public static bool IsValidation(long row, int seed, double fraction)
    {
        if (fraction <= 0) return false;
        ulong z = unchecked((ulong)row * 0x9E3779B97F4A7C15UL + (ulong)(uint)seed * 0xBF58476D1CE4E5B9UL + 0x94D049BB133111EBUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) < fraction;
    }
}
