namespace Ml.Autoencoders.Networks.Dense;

/// <summary>The default body: dense layers only (no body options); it allows every option.</summary>
internal sealed class DenseBody : BodyKind
{
    /// <summary>The one instance, listed in <see cref="Bodies.BodyKinds"/>.</summary>
    public static readonly DenseBody Kind = new();

    private DenseBody()
    {
    }

    /// <inheritdoc />
    public override string ModelKind => "dense-autoencoder";

    /// <inheritdoc />
    public override Type? OptionsType => null;

    /// <inheritdoc />
    public override string? OptionsName => null;

    /// <inheritdoc />
    public override void Validate(BodyOptions? options, BodyUse use)
    {
    }

    /// <inheritdoc />
    public override IBodySpec Spec(BodyOptions? options, CodeLayers layers, int inputSize, Activation outputActivation)
    {
        var spec = new DenseNetworkSpec(inputSize, (int[])layers.HiddenSizes.Clone(), (Activation[])layers.HiddenActivations.Clone(),
            layers.LatentDimension, layers.CodeActivation, outputActivation, layers.Head, layers.TiedWeights);
        spec.Validate();
        return spec;
    }
}
