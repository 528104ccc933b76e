using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// What one training forward pass produced. <see cref="Code"/> is what the decoder read (a sample for a
/// Gaussian head); <see cref="PreActivations"/> holds each encoder layer's pre-activation when traced.
/// </summary>
internal sealed record ForwardPass(Tensor Input, Tensor Code, Tensor? Mean, Tensor? LogVariance, Tensor Reconstruction, IReadOnlyList<Tensor>? PreActivations);
