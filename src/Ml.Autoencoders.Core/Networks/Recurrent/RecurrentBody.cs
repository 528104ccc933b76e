using Ml.Autoencoders.Networks.Dense;

namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>
/// The recurrent body (<see cref="RecurrentOptions"/>): windows of steps x features in, LSTM or GRU encoder and
/// decoder around a dense code. Refuses greedy pretraining and penalties that read dense encoder layers.
/// </summary>
internal sealed class RecurrentBody : BodyKind
{
    /// <summary>The one instance, listed in <see cref="Bodies.BodyKinds"/>.</summary>
    public static readonly RecurrentBody Kind = new();

    private RecurrentBody()
    {
    }

    /// <inheritdoc />
    public override string ModelKind => "recurrent-autoencoder";

    /// <inheritdoc />
    public override Type? OptionsType => typeof(RecurrentOptions);

    /// <inheritdoc />
    public override string? OptionsName => "recurrent";

    /// <inheritdoc />
    public override void Validate(BodyOptions? options, BodyUse use) => RefuseDenseOnly(use, "recurrent autoencoder");

    /// <inheritdoc />
    public override IBodySpec Spec(BodyOptions? options, CodeLayers layers, int inputSize, Activation outputActivation)
    {
        var recurrent = ((RecurrentOptions)options!).Clone();
        recurrent.Validate();
        if (inputSize != recurrent.Size)
            throw new ArgumentException($"Rows of {inputSize} values cannot be windows of {recurrent.Steps} steps x {recurrent.Features} features ({recurrent.Size} values).", nameof(inputSize));
        // The dense code reads the encoder's final state and gives back a state-sized vector in (-1, 1), as the state is.
        var core = new DenseNetworkSpec(recurrent.StateSize, (int[])layers.HiddenSizes.Clone(), (Activation[])layers.HiddenActivations.Clone(),
            layers.LatentDimension, layers.CodeActivation, Activation.Tanh, layers.Head, layers.TiedWeights);
        core.Validate();
        return new RecurrentNetworkSpec(recurrent, outputActivation, core);
    }
}
