using Ml.Autoencoders.Runtime;
using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>The vectorised finiteness checks the scoring path relies on (input rows, and the outputs of every forward pass).</summary>
[TestClass]
public sealed class FiniteValuesTests
{
    private static readonly int[] Lengths = { 0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 784, 785 };
    private static readonly float[] Bad = { float.NaN, float.PositiveInfinity, float.NegativeInfinity };

    /// <summary>Finite values, the largest and the smallest among them.</summary>
    private static float[] Finite(int length) =>
        Enumerable.Range(0, length).Select(i => (i % 4) switch { 0 => float.MaxValue, 1 => -float.MaxValue, 2 => i * 1e30f, _ => -float.Epsilon }).ToArray();

    /// <summary>The fused copy gives the same values and the same first bad index as a copy and a scan, at every position.</summary>
    [TestMethod]
    public void CopyAndCheckFindsEveryNonFiniteValueAndCopiesExactly()
    {
        foreach (int length in Lengths)
        {
            var values = Finite(length);
            var copy = new float[length];
            Assert.AreEqual(-1, FiniteValues.CopyAndFindNonFinite(values, copy), $"finite values of length {length}, some huge");
            CollectionAssert.AreEqual(values, copy);
            Assert.IsTrue(FiniteValues.AllFinite(values));
            for (int at = 0; at < length; at++)
                foreach (float bad in Bad)
                {
                    var withBad = Finite(length);
                    withBad[at] = bad;
                    if (at + 5 < length) withBad[at + 5] = float.NaN; // a later one: the first is named
                    copy = new float[length];
                    Assert.AreEqual(at, FiniteValues.CopyAndFindNonFinite(withBad, copy), $"{bad} at {at} of {length}");
                    Assert.IsTrue(withBad.AsSpan().SequenceEqual(copy), $"the copy is complete with {bad} at {at} of {length}");
                    Assert.AreEqual(at, FiniteValues.IndexOfNonFinite(withBad));
                    Assert.IsFalse(FiniteValues.AllFinite(withBad));
                }
        }
    }

    /// <summary>A tensor is read in place when it is a contiguous float CPU tensor, and by libtorch otherwise; both agree.</summary>
    [TestMethod]
    public void TensorCheckAgreesForContiguousAndStridedTensors()
    {
        TorchRuntime.EnsureLoaded();
        foreach (float? bad in Bad.Select(b => (float?)b).Append(null))
        {
            var values = Finite(6 * 40);
            if (bad is { } b) values[6 * 17 + 3] = b;
            using var t = torch.tensor(values, new long[] { 6, 40 });
            using var transposed = t.t();
            using var wide = t.to_type(torch.ScalarType.Float64);
            bool expected = bad is null;
            Assert.AreEqual(expected, FiniteValues.AllFinite(t), $"contiguous, {bad}");
            Assert.IsFalse(transposed.is_contiguous());
            Assert.AreEqual(expected, FiniteValues.AllFinite(transposed), $"strided, {bad}");
            Assert.AreEqual(expected, FiniteValues.AllFinite(wide), $"float64, {bad}");
        }
    }
}
