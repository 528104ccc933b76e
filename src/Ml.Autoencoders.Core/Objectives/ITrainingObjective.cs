using Ml.Autoencoders.Data;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// What the trainer loop optimises: a module's parameters and the loss of a batch (its features, and its labels for a
/// supervised objective). Variants differ here (corruption, latent head, penalties, a classification head), never in the loop.
/// </summary>
internal interface ITrainingObjective
{
    /// <summary>The module whose parameters are trained (train/eval mode, state for best-weight restore).</summary>
    nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>Names of the loss terms reported per epoch; empty when the loss is one term.</summary>
    IReadOnlyList<string> TermNames { get; }

    /// <summary>The state of the generator training draws from (corruption noise, latent sampling), for checkpoints.</summary>
    byte[] RandomState { get; set; }

    /// <summary>
    /// The parameters the optimizer updates, in groups, each with its learning rate before the schedule applies:
    /// <paramref name="learningRate"/> (the run's) unless the objective gives a group a rate of its own.
    /// </summary>
    IReadOnlyList<(IEnumerable<Parameter> Parameters, double LearningRate)> ParameterGroups(double learningRate);

    /// <summary>
    /// Called at the start of each training epoch (zero-based), after <see cref="Module"/> is put in training mode: an
    /// objective that trains parts of the module only in some epochs (a frozen encoder) sets them up here.
    /// </summary>
    void BeginEpoch(int epoch);

    /// <summary>Called before each evaluation pass, so that random draws in evaluation repeat exactly.</summary>
    void BeginEvaluation();

    /// <summary>
    /// The loss of one batch, averaged over rows. In training (<paramref name="training"/>) with the epoch's schedules;
    /// in evaluation with the clean input and the full objective. Unweighted term values are added to
    /// <paramref name="terms"/> in <see cref="TermNames"/> order when it is given.
    /// </summary>
    Tensor Loss(TrainingBatch batch, int epoch, bool training, List<Tensor>? terms);
}
