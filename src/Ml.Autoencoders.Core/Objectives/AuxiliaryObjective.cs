using TorchSharp.Modules;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// An unsupervised objective kept beside a supervised one while fine-tuning (the autoencoder's own reconstruction,
/// with its corruption and penalties): it is added to the supervised loss as <see cref="Weight"/> × its value ÷
/// <see cref="Scale"/>, so that the weight means the same for any loss and data scale (the term starts near
/// <see cref="Weight"/> when <see cref="Scale"/> is its value on the training rows before fine-tuning).
/// </summary>
/// <param name="Objective">The unsupervised objective (it reads the batch's features only).</param>
/// <param name="Parameters">Parameters that only this objective uses (the decoder's), trained at the encoder's rate.</param>
/// <param name="Weight">How much the term counts next to the supervised loss; more than 0.</param>
/// <param name="Scale">The term is divided by it; more than 0.</param>
internal sealed record AuxiliaryObjective(ITrainingObjective Objective, IReadOnlyList<Parameter> Parameters, double Weight, double Scale)
{
    /// <summary>The factor applied to the objective's loss.</summary>
    public double Factor => Weight / Scale;
}
