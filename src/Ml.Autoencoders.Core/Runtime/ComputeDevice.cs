namespace Ml.Autoencoders.Runtime;

/// <summary>Where tensors live and computations run.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when a CUDA backend is referenced and a GPU is present, otherwise the CPU.</summary>
    Auto,
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>The first CUDA GPU. Needs an application that references a CUDA backend
    /// (TorchSharp-cuda-linux or TorchSharp-cuda-windows); fails clearly when none is available.</summary>
    Cuda,
}
