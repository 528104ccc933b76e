using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// A decoder layer whose weight is the transpose of an encoder layer's (tied weights): only the bias is its own.
/// The encoder layer is held in an array so that it is not registered a second time as a submodule.
/// </summary>
internal sealed class TiedLinear : nn.Module<Tensor, Tensor>
{
    private readonly Linear[] source;

    public TiedLinear(Linear source) : base(nameof(TiedLinear))
    {
        this.source = new[] { source };
        long width = source.in_features;
        // Same bias initialisation as nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = the code side.
        double bound = 1 / Math.Sqrt(source.out_features);
        using (no_grad())
            register_parameter("bias", new Parameter(empty(width).uniform_(-bound, bound)));
    }

    /// <summary>The encoder layer whose weight, transposed, this layer applies.</summary>
    public Linear Source => source[0];

    /// <summary>This layer's own bias (length = the encoder layer's input width).</summary>
    public Tensor Bias => get_parameter("bias") ?? throw new InvalidOperationException("A tied layer always registers its bias.");

    public override Tensor forward(Tensor input)
    {
        using var weight = source[0].weight!.t();
        return DenseKernels.Linear(input, weight, get_parameter("bias"));
    }
}
