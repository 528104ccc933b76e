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
    /// <summary>
    /// The leaky ReLU's slope, rooted for the life of the process. TorchSharp 0.107's <c>nn.LeakyReLU</c> (through
    /// <c>functional.leaky_relu</c>) makes a temporary Scalar of its slope on every call and passes only its native handle
    /// on, so the finalizer thread can free it while libtorch reads it: under heavy allocation the model-file fuzz saw
    /// Transform fail with "Expected false to be true ... toFloat" in <c>leaky_relu</c>.
    /// </summary>
    private static readonly Scalar Slope = 0.01;

    /// <summary><c>nn.LeakyReLU(0.01)</c> with a rooted slope (see <see cref="Slope"/>); the same kernel, the same values.</summary>
    private sealed class LeakyReLU() : nn.Module<Tensor, Tensor>(nameof(LeakyReLU))
    {
        public override Tensor forward(Tensor input) => input.leaky_relu(Slope);
    }

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
        Activation.LeakyReLU => a.leaky_relu(Slope),
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
        Activation.ReLU => a.gt(0).to_type(a.dtype),
        Activation.LeakyReLU => a.gt(0).to_type(a.dtype).mul(0.99).add(0.01),
        // SELU(a) = scale·a for a > 0, scale·alpha·(e^a − 1) otherwise.
        Activation.SELU => a.clamp_max(0).exp().mul(SeluScale * SeluAlpha).masked_fill(a.gt(0), SeluScale),
        Activation.Tanh => a.tanh().square().neg().add(1),
        Activation.Sigmoid => a.sigmoid().mul(a.sigmoid().neg().add(1)),
        // GELU(a) = a·Φ(a): derivative Φ(a) + a·φ(a).
        Activation.GELU => a.mul(0.7071067811865476).erf().add(1).mul(0.5).add(a.mul(a.square().mul(-0.5).exp()).mul(0.3989422804014327)),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    private const float SeluScale = 1.0507009873554805f;
    private const float SeluAlpha = 1.6732632423543772f;
}
