using TorchSharp;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// The constant numbers the library hands to TorchSharp operations, each made into a <see cref="Scalar"/> once.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns a number passed where a <see cref="Scalar"/> is expected (<c>x.mul(0.5)</c>, the
/// <c>nn.LeakyReLU</c> module) into a new finalizable Scalar that nothing references once its handle has been read:
/// a garbage collection started by another thread during the native call can finalize it, and libtorch then reads
/// freed memory. The soak (<c>bench/run.sh --soak</c>) died that way in <c>leaky_relu</c> ("Expected false to be true
/// ... toFloat at c10/core/Scalar.h:140") after a few million rows, and a loop of <c>nn.LeakyReLU(0.01).forward</c>
/// next to a thread calling <c>GC.Collect</c> crashes within seconds. These static Scalars stay reachable for the life
/// of the process (reading one from several threads is safe); numbers that vary go through
/// <c>using var s = value.ToScalar()</c>, which keeps the Scalar alive until the end of its scope and frees it there.
/// Keep each constant's type (int or double) as it was written, so results stay bit-identical.
/// </remarks>
internal static class Scalars
{
    /// <summary>0 (int).</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>1 (int).</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>2 (int).</summary>
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary>-2 (int).</summary>
    public static readonly Scalar MinusTwo = (-2).ToScalar();

    /// <summary>0.5 (double).</summary>
    public static readonly Scalar Half = 0.5.ToScalar();

    /// <summary>-0.5 (double).</summary>
    public static readonly Scalar MinusHalf = (-0.5).ToScalar();

    /// <summary>The negative slope of <see cref="Networks.Activation.LeakyReLU"/>, 0.01 (double).</summary>
    public static readonly Scalar LeakySlope = 0.01.ToScalar();

    /// <summary>1 − 0.01 = 0.99 (double): the derivative of LeakyReLU is 0.01 + 0.99·[a &gt; 0].</summary>
    public static readonly Scalar LeakyStep = 0.99.ToScalar();

    /// <summary>float.MaxValue (double): where a squared error saturates instead of overflowing.</summary>
    public static readonly Scalar FloatMax = ((double)float.MaxValue).ToScalar();

    /// <summary>+∞ (double).</summary>
    public static readonly Scalar PositiveInfinity = double.PositiveInfinity.ToScalar();

    /// <summary>1e-12 (double), the floor of a row norm before dividing by it.</summary>
    public static readonly Scalar TinyNorm = 1e-12.ToScalar();
}
