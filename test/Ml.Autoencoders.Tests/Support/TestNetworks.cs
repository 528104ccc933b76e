using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Dense;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>Seeded networks of a known body, for tests that look inside one.</summary>
internal static class TestNetworks
{
    public static DenseAutoencoderNetwork Create(DenseNetworkSpec spec, int seed, Device device) =>
        (DenseAutoencoderNetwork)SeededNetworks.Create(spec, seed, device);

    public static ConvolutionalAutoencoderNetwork Create(ConvNetworkSpec spec, int seed, Device device) =>
        (ConvolutionalAutoencoderNetwork)SeededNetworks.Create(spec, seed, device);
}
