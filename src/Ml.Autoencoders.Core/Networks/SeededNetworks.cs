using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// Builds networks whose initial weights depend only on a seed. Weights are drawn from torch's global generator, so
/// every seeded draw in the library (network initialisation, the classifier head) takes <see cref="Lock"/>: concurrent
/// fits stay reproducible.
/// </summary>
internal static class SeededNetworks
{
    /// <summary>Held while torch's global generator is seeded and drawn from.</summary>
    public static readonly object Lock = new();

    /// <summary>An untrained network of <paramref name="spec"/>'s shape, initialised from <paramref name="seed"/>, on <paramref name="device"/>.</summary>
    public static AutoencoderNetwork Create(IBodySpec spec, int seed, Device device)
    {
        lock (Lock)
        {
            random.manual_seed(seed);
            var network = spec.Create();
            return device.type == TorchSharp.DeviceType.CPU ? network : network.to(device);
        }
    }
}
