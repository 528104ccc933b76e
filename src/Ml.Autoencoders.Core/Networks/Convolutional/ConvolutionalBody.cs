using System.Text.Json.Serialization;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Networks.Convolutional;

/// <summary>
/// The convolutional body (<see cref="ConvolutionalOptions"/>): images in, an encoder of convolutions, an optional
/// dense code, and the decoder its plan works out. What it allows: a Gaussian head, tied weights and hidden layers
/// only with its dense code; no greedy pretraining; no penalty that reads dense encoder layers.
/// </summary>
internal sealed class ConvolutionalBody : BodyKind
{
    /// <summary>The one instance, listed in <see cref="Bodies.BodyKinds"/>.</summary>
    public static readonly ConvolutionalBody Kind = new();

    private ConvolutionalBody()
    {
    }

    /// <inheritdoc />
    public override string ModelKind => "conv-autoencoder";

    /// <inheritdoc />
    public override Type? OptionsType => typeof(ConvolutionalOptions);

    /// <inheritdoc />
    public override string? OptionsName => "convolutional";

    /// <inheritdoc />
    public override string? FormerPropertyName => "Convolution";

    /// <inheritdoc />
    public override IEnumerable<JsonConverter> JsonConverters(int maxLayers) =>
        [new BoundedList<ConvolutionLayer>(maxLayers), new BoundedList<DecoderLayer>(maxLayers)];

    /// <inheritdoc />
    public override void Validate(BodyOptions? options, BodyUse use)
    {
        var conv = (ConvolutionalOptions)options!;
        const string body = "Body";
        RefuseDenseOnly(use, "convolutional autoencoder");
        if (conv.DenseCode) return;
        if (use.Layers.Head == LatentHead.Gaussian)
            throw new ArgumentException($"A Gaussian latent head needs a dense code: set {body}.{nameof(ConvolutionalOptions.DenseCode)} = true.", "LatentHead");
        if (use.Layers.TiedWeights)
            throw new ArgumentException($"TiedWeights ties dense layers; without {body}.{nameof(ConvolutionalOptions.DenseCode)} there are none.", "TiedWeights");
        if (use.Layers.HiddenSizes.Length > 0)
            throw new ArgumentException($"HiddenLayerSizes are dense layers before a dense code, but {body}.{nameof(ConvolutionalOptions.DenseCode)} is false " +
                "(the code is the encoder's last feature map): set HiddenLayerSizes = [] or DenseCode = true.", "HiddenLayerSizes");
    }

    /// <inheritdoc />
    public override IBodySpec Spec(BodyOptions? options, CodeLayers layers, int inputSize, Activation outputActivation)
    {
        var conv = ((ConvolutionalOptions)options!).Clone();
        conv.Validate();
        if (inputSize != conv.ImageShape!.Size)
            throw new ArgumentException($"Rows of {inputSize} values cannot be images of shape {conv.ImageShape} ({conv.ImageShape.Size} values).", nameof(inputSize));
        var spec = ConvNetworkSpec.Create(conv, outputActivation, (int[])layers.HiddenSizes.Clone(), (Activation[])layers.HiddenActivations.Clone(),
            layers.LatentDimension, layers.CodeActivation, layers.Head, layers.TiedWeights);
        spec.Core?.Validate();
        return spec;
    }
}
