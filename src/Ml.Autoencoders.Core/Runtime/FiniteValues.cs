using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// Finiteness checks on float rows, vectorised: x − x is 0 for a finite x and NaN for NaN or ±∞, so a sum of
/// differences is 0 exactly when every value is finite. Several accumulators keep the loop from waiting on one
/// chain of additions; the scalar scan that names the first bad index runs only when a NaN or infinity is there.
/// </summary>
internal static class FiniteValues
{
    /// <summary>Index of the first NaN or infinity in <paramref name="values"/>, or -1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values) =>
        AllFinite(values) ? -1 : FirstNonFinite(values);

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/> (same length) and returns the index of
    /// the first NaN or infinity, or -1: one pass over the values instead of a copy and a second read.
    /// </summary>
    public static int CopyAndFindNonFinite(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (source.Length != destination.Length) throw new ArgumentException($"Expected {destination.Length} values, got {source.Length}.", nameof(source));
        ref float s = ref MemoryMarshal.GetReference(source);
        ref float d = ref MemoryMarshal.GetReference(destination);
        int n = source.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && n >= 4 * Vector256<float>.Count)
        {
            var a0 = Vector256<float>.Zero;
            var a1 = Vector256<float>.Zero;
            var a2 = Vector256<float>.Zero;
            var a3 = Vector256<float>.Zero;
            for (; i <= n - 4 * Vector256<float>.Count; i += 4 * Vector256<float>.Count)
            {
                var v0 = Vector256.LoadUnsafe(ref s, (nuint)i);
                var v1 = Vector256.LoadUnsafe(ref s, (nuint)(i + 8));
                var v2 = Vector256.LoadUnsafe(ref s, (nuint)(i + 16));
                var v3 = Vector256.LoadUnsafe(ref s, (nuint)(i + 24));
                v0.StoreUnsafe(ref d, (nuint)i);
                v1.StoreUnsafe(ref d, (nuint)(i + 8));
                v2.StoreUnsafe(ref d, (nuint)(i + 16));
                v3.StoreUnsafe(ref d, (nuint)(i + 24));
                a0 += v0 - v0;
                a1 += v1 - v1;
                a2 += v2 - v2;
                a3 += v3 - v3;
            }
            bool finite = (a0 + a1 + a2 + a3) == Vector256<float>.Zero;
            source[i..].CopyTo(destination[i..]);
            if (finite && TailFinite(source[i..])) return -1;
            return FirstNonFinite(source);
        }
        source.CopyTo(destination);
        return IndexOfNonFinite(source);
    }

    /// <summary>True when every value is finite.</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        ref float s = ref MemoryMarshal.GetReference(values);
        int n = values.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && n >= 4 * Vector256<float>.Count)
        {
            var a0 = Vector256<float>.Zero;
            var a1 = Vector256<float>.Zero;
            var a2 = Vector256<float>.Zero;
            var a3 = Vector256<float>.Zero;
            for (; i <= n - 4 * Vector256<float>.Count; i += 4 * Vector256<float>.Count)
            {
                var v0 = Vector256.LoadUnsafe(ref s, (nuint)i);
                var v1 = Vector256.LoadUnsafe(ref s, (nuint)(i + 8));
                var v2 = Vector256.LoadUnsafe(ref s, (nuint)(i + 16));
                var v3 = Vector256.LoadUnsafe(ref s, (nuint)(i + 24));
                a0 += v0 - v0;
                a1 += v1 - v1;
                a2 += v2 - v2;
                a3 += v3 - v3;
            }
            if ((a0 + a1 + a2 + a3) != Vector256<float>.Zero) return false;
        }
        return TailFinite(values[i..]);
    }

    /// <summary>
    /// True when every value of a float32 tensor is finite: read in place for a contiguous CPU tensor (no libtorch call
    /// beyond the pointer), otherwise by libtorch (<c>isfinite().all()</c>).
    /// </summary>
    public static bool AllFinite(Tensor tensor)
    {
        if (tensor.device_type == TorchSharp.DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous())
            return AllFinite(TensorSpans.AsSpan<float>(tensor));
        using var all = tensor.isfinite().all();
        return all.item<bool>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TailFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
