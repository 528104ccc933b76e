namespace Ml.Autoencoders.Runtime;

/// <summary>Which code computes the matrix products of the dense layers on the CPU (<see cref="TorchRuntime.DenseLayerProducts"/>).</summary>
public enum DenseProducts
{
    /// <summary>libtorch's own <c>linear</c> and its gradients (MKL inside libtorch-cpu): the fallback everywhere.</summary>
    Libtorch,

    /// <summary>
    /// The library's own float32 kernels (AVX-512F fused multiply-adds, the forward pass and both gradients), on CPUs with
    /// AVX-512F, for contiguous float32 CPU tensors; CUDA tensors and other types still run libtorch's.
    /// </summary>
    Library,
}
