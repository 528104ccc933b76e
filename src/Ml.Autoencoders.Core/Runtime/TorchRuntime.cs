using TorchSharp;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// Loads the TorchSharp native backend once, with an error that says what to do when it cannot,
/// and resolves <see cref="ComputeDevice"/> choices to TorchSharp devices.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lazy<string> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Makes sure the native backend is loaded. Throws <see cref="InvalidOperationException"/> with the
    /// likely cause and fix when it is not.
    /// </summary>
    /// <returns>A one-line description of the loaded backend (TorchSharp and libtorch versions, CUDA).</returns>
    public static string EnsureLoaded() => Loaded.Value;

    /// <summary>True when a CUDA backend is loaded and a GPU is present.</summary>
    public static bool IsCudaAvailable
    {
        get
        {
            EnsureLoaded();
            return torch.cuda.is_available();
        }
    }

    /// <summary>
    /// Which code computes the dense layers' matrix products (forward pass and gradients) on the CPU in this process.
    /// <see cref="DenseProducts.Libtorch"/> (MKL inside libtorch-cpu) unless opted in: set this to
    /// <see cref="DenseProducts.Library"/>, or the environment variable <c>ML_AUTOENCODERS_DENSE_PRODUCTS=library</c>
    /// before the process starts, on a CPU with AVX-512F (libtorch-cpu's MKL runs at about half speed on AMD CPUs; bench
    /// "Dense GEMM on AMD"). Both give float32 products accumulated in float32; their last bits differ, so a model
    /// trained with one is not bit-identical to one trained with the other (each is, on one machine, for a seed).
    /// </summary>
    /// <exception cref="NotSupportedException">Set to <see cref="DenseProducts.Library"/> on a CPU without AVX-512F.</exception>
    public static DenseProducts DenseLayerProducts
    {
        get => denseLayerProducts;
        set
        {
            if (value == DenseProducts.Library && !DenseGemm.IsSupported)
                throw new NotSupportedException("DenseProducts.Library needs a CPU with AVX-512F; this one has none, so the dense layers keep libtorch's products.");
            if (value is not (DenseProducts.Library or DenseProducts.Libtorch))
                throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown DenseProducts value.");
            denseLayerProducts = value;
        }
    }

    private static DenseProducts denseLayerProducts = ChooseDenseProducts();

    private static DenseProducts ChooseDenseProducts() =>
        string.Equals(Environment.GetEnvironmentVariable("ML_AUTOENCODERS_DENSE_PRODUCTS"), "library", StringComparison.OrdinalIgnoreCase)
            && DenseGemm.IsSupported
            ? DenseProducts.Library
            : DenseProducts.Libtorch;

    /// <summary>Maps a <see cref="ComputeDevice"/> to a TorchSharp device.</summary>
    /// <exception cref="InvalidOperationException">CUDA was asked for and is not available.</exception>
    public static torch.Device Resolve(ComputeDevice device)
    {
        EnsureLoaded();
        return device switch
        {
            ComputeDevice.Cpu => torch.CPU,
            ComputeDevice.Cuda when torch.cuda.is_available() => torch.CUDA,
            ComputeDevice.Cuda => throw new InvalidOperationException(
                "ComputeDevice.Cuda was requested but CUDA is not available: reference a CUDA backend package " +
                "(TorchSharp-cuda-linux or TorchSharp-cuda-windows) in the application instead of libtorch-cpu-*, " +
                "and check that a GPU and its driver are present. Use ComputeDevice.Auto to fall back to the CPU."),
            ComputeDevice.Auto => torch.cuda.is_available() ? torch.CUDA : torch.CPU,
            _ => throw new ArgumentOutOfRangeException(nameof(device), device, "Unknown compute device."),
        };
    }

    /// <summary>Maps a TorchSharp device back to a <see cref="ComputeDevice"/>.</summary>
    internal static ComputeDevice ToComputeDevice(torch.Device device) =>
        device.type == DeviceType.CUDA ? ComputeDevice.Cuda : ComputeDevice.Cpu;

    private static string Load()
    {
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            using var probe = torch.ones(1);
            RaiseMallocMmapThreshold();
            return $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}, " +
                   $"CUDA {(torch.cuda.is_available() ? "available" : "not available")}, threads {torch.get_num_threads()}";
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException or InvalidOperationException)
        {
            throw new InvalidOperationException(
                "The TorchSharp native backend could not be loaded. Check that the application references a backend " +
                "package (libtorch-cpu-linux-x64, libtorch-cpu-win-x64, TorchSharp-cuda-linux, ...). On Linux with a " +
                "libstdc++ older than GCC 13 (Debian 12, Ubuntu 22.04), Ml.Autoencoders' build step marks the " +
                "GLIBCXX_3.4.32 need of runtimes/linux-x64/native/libLibTorchSharp.so weak; it runs after the build " +
                "copies that file (property MlAutoencodersPatchLibTorchSharp, default auto). Run `ldd` on that file to " +
                "see the real cause. Original error: " + Describe(e), e);
        }
    }

    /// <summary>
    /// glibc serves allocations above its mmap threshold (128 KiB at start) with fresh mmap calls and gives them back
    /// with munmap, so a training step whose activations are a few MiB page-faults zeroed pages every step; freeing a
    /// large mmapped block raises the threshold to that block's size (up to 32 MiB), after which such buffers are reused
    /// from the heap. Training steps trigger that themselves only once something frees a block that large, which may be
    /// never in a short fit, and the first fit in a fresh process then runs markedly slower than the next ones
    /// (bench/README.md). Freeing one 24 MiB block here moves the threshold as glibc's own
    /// heuristic would, once per process; settings the host fixed (MALLOC_MMAP_THRESHOLD_, mallopt) turn that
    /// heuristic off and are left as they are. Other allocators just allocate and free the block.
    /// </summary>
    private static unsafe void RaiseMallocMmapThreshold()
    {
        if (!OperatingSystem.IsLinux()) return;
        void* block = System.Runtime.InteropServices.NativeMemory.Alloc(24u << 20);
        System.Runtime.InteropServices.NativeMemory.Free(block);
    }

    private static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (var x = e; x != null; x = x.InnerException) parts.Add(x.Message);
        return string.Join(" -> ", parts);
    }
}
