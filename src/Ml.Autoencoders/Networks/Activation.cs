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
        Activation.LeakyReLU => nn.LeakyReLU(0.01),
        Activation.SELU => nn.SELU(),
        Activation.Tanh => nn.Tanh(),
        Activation.Sigmoid => nn.Sigmoid(),
        Activation.GELU => nn.GELU(),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };
}
