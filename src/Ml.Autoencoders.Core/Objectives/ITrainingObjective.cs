using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// What the trainer loop optimises: a module's parameters and the loss of a batch. Variants differ here
/// (corruption, latent head, penalties), never in the loop.
/// </summary>
internal interface ITrainingObjective
{
    /// <summary>The module whose parameters are trained (train/eval mode, state for best-weight restore).</summary>
    nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>Names of the loss terms reported per epoch; empty when the loss is one term.</summary>
    IReadOnlyList<string> TermNames { get; }

    /// <summary>The state of the generator training draws from (corruption noise, latent sampling), for checkpoints.</summary>
    byte[] RandomState { get; set; }

    /// <summary>Called before each evaluation pass, so that random draws in evaluation repeat exactly.</summary>
    void BeginEvaluation();

    /// <summary>
    /// The loss of one batch, averaged over rows. In training (<paramref name="training"/>) with the epoch's schedules;
    /// in evaluation with the clean input and the full objective. Unweighted term values are added to
    /// <paramref name="terms"/> in <see cref="TermNames"/> order when it is given.
    /// </summary>
    Tensor Loss(Tensor batch, int epoch, bool training, List<Tensor>? terms);
}
