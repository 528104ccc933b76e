using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// A capability of bodies made of dense layers only: the layers in order, for what needs them one by one (the
/// contractive penalty's Jacobian, ONNX export). A body without it refuses those with a clear error.
/// </summary>
internal interface IDenseLayers
{
    /// <summary>Encoder layers from input to code (for a Gaussian head: to the mean), each with its activation.</summary>
    IReadOnlyList<(Linear Linear, Activation Activation)> EncoderLayers { get; }

    /// <summary>The log-variance layer of a Gaussian head (null for a deterministic code).</summary>
    Linear? LogVarianceLayer { get; }

    /// <summary>Decoder layers from code to output (Linear or tied), each with its activation.</summary>
    IReadOnlyList<(nn.Module<Tensor, Tensor> Layer, Activation Activation)> DecoderLayers { get; }
}
