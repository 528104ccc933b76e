using Ml.Autoencoders.Data;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Training;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Dense;

/// <summary>
/// Greedy layer-wise pretraining of a deterministic dense autoencoder (Hinton &amp; Salakhutdinov 2006, Bengio et al. 2007):
/// stage i trains encoder layer i with its mirrored decoder layer as a shallow autoencoder on the codes of stages
/// 0..i-1, and its weights are copied into the deep network, which is then fine-tuned end to end by the caller.
/// </summary>
internal static class GreedyPretraining
{
    /// <summary>Pretrains every stage of <paramref name="body"/> in place; <paramref name="createStage"/> builds a seeded shallow network. Returns one history per stage.</summary>
    /// <exception cref="NotSupportedException"><paramref name="body"/> is not a dense stack (greedy pretraining trains one dense layer pair at a time).</exception>
    public static IReadOnlyList<TrainingHistory> Run(
        AutoencoderNetwork body,
        ITrainingData train,
        ITrainingData? validation,
        ObjectiveSettings objective,
        TrainingSettings settings,
        Func<IBodySpec, int, AutoencoderNetwork> createStage,
        Device device)
    {
        var network = body as DenseAutoencoderNetwork
            ?? throw new NotSupportedException($"Greedy layer-wise pretraining needs a dense body; this one is {body.Description}. Set PretrainEpochs = 0.");
        var spec = network.Spec;
        if (spec.Head != LatentHead.Deterministic) throw new InvalidOperationException("Greedy pretraining needs a deterministic latent head.");
        var widths = spec.EncoderWidths.ToArray();
        int stages = widths.Length - 1;
        var encoderActivations = spec.HiddenActivations.Append(spec.CodeActivation).ToArray();
        var histories = new List<TrainingHistory>(stages);
        for (int i = 0; i < stages; i++)
        {
            settings.CancellationToken.ThrowIfCancellationRequested();
            var stageSpec = new DenseNetworkSpec(widths[i], Array.Empty<int>(), Array.Empty<Activation>(), widths[i + 1],
                encoderActivations[i], i == 0 ? spec.OutputActivation : spec.HiddenActivations[i - 1], LatentHead.Deterministic, spec.TiedWeights);
            // Stage 0 reconstructs the input with the user's loss and corruption; deeper stages reconstruct hidden
            // codes, which are not in [0, 1] in general: squared error, no corruption.
            var stageObjective = i == 0
                ? objective with { KlWeight = 1, KlWarmupEpochs = 0, Penalties = Array.Empty<AutoencoderPenalty>() }
                : new ObjectiveSettings { Loss = ReconstructionLoss.MeanSquaredError };
            int stage = i;
            Func<Tensor, Tensor> prefix = x => EncodePrefix(network, stage, x);
            var stageTrain = i == 0 ? train : new EncodedTrainingData(train, widths[i], prefix);
            var stageValidation = validation is null || i == 0 ? validation : new EncodedTrainingData(validation, widths[i], prefix);

            using var shallow = (DenseAutoencoderNetwork)createStage(stageSpec, settings.Seed + i + 1);
            using var stageLoss = new AutoencoderObjective(shallow, stageObjective, settings.Seed + i + 1, device);
            histories.Add(AutoencoderTrainer.Train(stageLoss, stageTrain, stageValidation, settings with { PretrainingStage = i + 1 }, device));
            CopyStage(shallow, network, i, stages);
        }
        return histories;
    }

    /// <summary>The codes after encoder layers 0..layers-1 of the deep network.</summary>
    private static Tensor EncodePrefix(DenseAutoencoderNetwork network, int layers, Tensor x)
    {
        var h = x;
        for (int i = 0; i < layers; i++)
        {
            var (linear, activation) = network.EncoderLayers[i];
            h = Activations.Apply(activation, DenseKernels.Linear(h, linear.weight!, linear.bias));
        }
        return h;
    }

    private static void CopyStage(DenseAutoencoderNetwork shallow, DenseAutoencoderNetwork deep, int stage, int stages)
    {
        var from = shallow.state_dict();
        var to = deep.state_dict();
        using var noGrad = no_grad();
        foreach (var (name, value) in from)
        {
            // The shallow network's layer 0 is the deep encoder's layer i and the deep decoder's layer (stages-1-i).
            string target = name.StartsWith("encoder.", StringComparison.Ordinal)
                ? name.Replace("linear0", $"linear{stage}")
                : name.Replace("linear0", $"linear{stages - 1 - stage}");
            if (!to.TryGetValue(target, out var destination) || !destination.shape.SequenceEqual(value.shape))
                throw new InvalidOperationException($"Pretraining stage {stage + 1}: tensor '{name}' has no counterpart '{target}' of the same shape in the deep network.");
            destination.copy_(value);
        }
    }
}
