using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// Copies between managed memory and CPU tensors through a span over the tensor's own storage.
/// TorchSharp's element accessor (<c>data&lt;T&gt;().CopyFrom/CopyTo</c>) walks elements one by one and
/// is far slower for batches of the sizes the library moves.
/// </summary>
internal static class TensorSpans
{
    /// <summary>A span over a contiguous CPU tensor's elements (respects its storage offset).</summary>
    public static Span<T> AsSpan<T>(Tensor tensor) where T : unmanaged
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new InvalidOperationException("A span needs a contiguous CPU tensor.");
        var span = MemoryMarshal.Cast<byte, T>(tensor.bytes);
        if (span.Length != tensor.numel())
            throw new InvalidOperationException($"The tensor holds {tensor.dtype}, not {typeof(T).Name}.");
        return span;
    }

    /// <summary>A new CPU float32 tensor [rows, columns] holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> values, long rows, long columns)
    {
        var t = empty(new[] { rows, columns }, dtype: ScalarType.Float32);
        values.CopyTo(AsSpan<float>(t));
        return t;
    }

    /// <summary>Copies a float tensor (any device, any layout) into <paramref name="destination"/>.</summary>
    public static void CopyTo(Tensor tensor, Span<float> destination)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            AsSpan<float>(tensor).CopyTo(destination);
            return;
        }
        using var cpu = tensor.to(DeviceType.CPU).contiguous();
        AsSpan<float>(cpu).CopyTo(destination);
    }

    /// <summary>A managed copy of a tensor's elements.</summary>
    public static T[] ToArray<T>(Tensor tensor) where T : unmanaged
    {
        using var cpu = tensor.to(DeviceType.CPU).contiguous();
        return AsSpan<T>(cpu).ToArray();
    }
}
