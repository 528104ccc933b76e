using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Objectives;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Training;

/// <summary>
/// A capability of bodies that can be pretrained greedily, one layer pair at a time (dense stacks). A body without it
/// refuses <c>PretrainEpochs</c> when its options are validated.
/// </summary>
internal interface ILayerwisePretraining
{
    /// <summary>
    /// Pretrains every stage in place through the one trainer; <paramref name="createStage"/> builds a seeded shallow
    /// network of a stage's spec. Returns one history per stage.
    /// </summary>
    IReadOnlyList<TrainingHistory> PretrainLayerwise(ITrainingData train, ITrainingData? validation, ObjectiveSettings objective,
        TrainingSettings settings, Func<IBodySpec, int, AutoencoderNetwork> createStage, Device device);
}
