using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>Seeded networks of a known body, for tests that look inside one.</summary>
internal static class TestNetworks
{
    /// <summary>The convolutional spec <paramref name="options"/> describe (their image's size is the input size).</summary>
    public static ConvNetworkSpec ConvSpec(AutoencoderOptions options, Activation output) =>
        (ConvNetworkSpec)options.Spec(((ConvolutionalOptions)options.Body!).ImageShape!.Size, output);

    /// <summary>The dense spec <paramref name="options"/> describe for rows of <paramref name="inputSize"/> values.</summary>
    public static DenseNetworkSpec DenseSpec(AutoencoderOptions options, int inputSize, Activation output) =>
        (DenseNetworkSpec)options.Spec(inputSize, output);

    public static DenseAutoencoderNetwork Create(DenseNetworkSpec spec, int seed, Device device) =>
        (DenseAutoencoderNetwork)SeededNetworks.Create(spec, seed, device);

    public static ConvolutionalAutoencoderNetwork Create(ConvNetworkSpec spec, int seed, Device device) =>
        (ConvolutionalAutoencoderNetwork)SeededNetworks.Create(spec, seed, device);
}
