using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>Element-wise activation applied after a layer.</summary>
public enum Activation
{
    /// <summary>No activation (identity): a linear layer.</summary>
    Linear,
    /// <summary>max(0, x).</summary>
    ReLU,
    /// <summary>x for x &gt; 0, 0.01·x otherwise.</summary>
    LeakyReLU,
    /// <summary>Scaled exponential linear unit (self-normalising networks).</summary>
    SELU,
    /// <summary>Hyperbolic tangent, output in (-1, 1).</summary>
    Tanh,
    /// <summary>Logistic sigmoid, output in (0, 1): the usual output for inputs scaled to [0, 1].</summary>
    Sigmoid,
    /// <summary>Gaussian error linear unit.</summary>
    GELU,
}

internal static class Activations
{
    public static nn.Module<Tensor, Tensor> Create(Activation activation) => activation switch
    {
        Activation.Linear => nn.Identity(),
        Activation.ReLU => nn.ReLU(),
        Activation.LeakyReLU => new LeakyReLU(),
        Activation.SELU => nn.SELU(),
        Activation.Tanh => nn.Tanh(),
        Activation.Sigmoid => nn.Sigmoid(),
        Activation.GELU => nn.GELU(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>The activation applied functionally (same results as the module from <see cref="Create"/>).</summary>
    public static Tensor Apply(Activation activation, Tensor a) => activation switch
    {
        Activation.Linear => a,
        Activation.ReLU => nn.functional.relu(a),
        Activation.LeakyReLU => a.leaky_relu(Scalars.LeakySlope),
        Activation.SELU => nn.functional.selu(a),
        Activation.Tanh => a.tanh(),
        Activation.Sigmoid => a.sigmoid(),
        Activation.GELU => nn.functional.gelu(a),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>The derivative f'(a) at the pre-activations <paramref name="a"/>, element-wise; null for the identity.</summary>
    public static Tensor? Derivative(Activation activation, Tensor a) => activation switch
    {
        Activation.Linear => null,
        Activation.ReLU => a.gt(Scalars.Zero).to_type(a.dtype),
        Activation.LeakyReLU => a.gt(Scalars.Zero).to_type(a.dtype).mul(Scalars.LeakyStep).add(Scalars.LeakySlope, Scalars.One),
        // SELU(a) = scale·a for a > 0, scale·alpha·(e^a − 1) otherwise.
        Activation.SELU => a.clamp_max(Scalars.Zero).exp().mul(SeluScaleAlpha).masked_fill(a.gt(Scalars.Zero), SeluScaleScalar),
        Activation.Tanh => a.tanh().pow(Scalars.Two).neg().add(Scalars.One, Scalars.One),
        Activation.Sigmoid => a.sigmoid().mul(a.sigmoid().neg().add(Scalars.One, Scalars.One)),
        // GELU(a) = a·Φ(a): derivative Φ(a) + a·φ(a).
        Activation.GELU => a.mul(InverseSqrt2).erf().add(Scalars.One, Scalars.One).mul(Scalars.Half).add(a.mul(a.pow(Scalars.Two).mul(Scalars.MinusHalf).exp()).mul(InverseSqrt2Pi), Scalars.One),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    private const float SeluScale = 1.0507009873554805f;
    private const float SeluAlpha = 1.6732632423543772f;

    // The derivatives' constants as Scalars made once (see Scalars), with the types the expressions had.
    private static readonly Scalar SeluScaleAlpha = (SeluScale * SeluAlpha).ToScalar();
    private static readonly Scalar SeluScaleScalar = SeluScale.ToScalar();
    private static readonly Scalar InverseSqrt2 = 0.7071067811865476.ToScalar();
    private static readonly Scalar InverseSqrt2Pi = 0.3989422804014327.ToScalar();

    /// <summary>
    /// LeakyReLU with slope 0.01 as a module, like <c>nn.LeakyReLU(0.01)</c> but with its slope held as one
    /// <see cref="Scalar"/>: TorchSharp's module makes a new Scalar every forward pass, which a garbage collection on
    /// another thread can free while libtorch still reads it (see <see cref="Scalars"/>). No parameters, no state.
    /// </summary>
    private sealed class LeakyReLU : nn.Module<Tensor, Tensor>
    {
        public LeakyReLU() : base(nameof(LeakyReLU))
        {
        }

        public override Tensor forward(Tensor input) => input.leaky_relu(Scalars.LeakySlope);
    }
}
