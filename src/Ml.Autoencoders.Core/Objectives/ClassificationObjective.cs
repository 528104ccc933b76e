using Ml.Autoencoders.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// Supervised fine-tuning of an encoder with a classification head: the cross-entropy of the network's logits against
/// the batch's labels. The encoder and the head are two parameter groups (the encoder may have its own learning rate);
/// the encoder can be frozen (no gradient, evaluation mode) for the first epochs or for good. An auxiliary unsupervised
/// objective (the autoencoder's reconstruction) can be kept beside it: its weighted loss is added, and the parameters only
/// it uses (the decoder) train at the encoder's rate and are frozen with the encoder.
/// </summary>
internal sealed class ClassificationObjective : ITrainingObjective
{
    private readonly nn.Module<Tensor, Tensor> network;
    private readonly nn.Module encoder;
    private readonly IReadOnlyList<Parameter> encoderParameters;
    private readonly IReadOnlyList<Parameter> headParameters;
    private readonly double? encoderLearningRate;
    private readonly int freezeEncoderEpochs;
    private readonly bool freezeEncoder;
    private readonly AuxiliaryObjective? auxiliary;

    /// <param name="network">Features to logits (encoder, then head).</param>
    /// <param name="encoder">The module holding the encoder: put in evaluation mode while it is frozen.</param>
    /// <param name="encoderParameters">The parameters the encoder uses (frozen with it).</param>
    /// <param name="headParameters">The head's parameters.</param>
    /// <param name="encoderLearningRate">The encoder group's learning rate; null: the run's.</param>
    /// <param name="freezeEncoderEpochs">Epochs at the start during which only the head trains.</param>
    /// <param name="freezeEncoder">Freeze the encoder in every epoch.</param>
    /// <param name="auxiliary">An unsupervised objective added to the cross-entropy; null: the cross-entropy alone, computed exactly as without one.</param>
    public ClassificationObjective(nn.Module<Tensor, Tensor> network, nn.Module encoder, IReadOnlyList<Parameter> encoderParameters, IReadOnlyList<Parameter> headParameters,
        double? encoderLearningRate, int freezeEncoderEpochs, bool freezeEncoder, AuxiliaryObjective? auxiliary = null)
    {
        this.network = network;
        this.encoder = encoder;
        this.encoderParameters = encoderParameters;
        this.headParameters = headParameters;
        this.encoderLearningRate = encoderLearningRate;
        this.freezeEncoderEpochs = freezeEncoderEpochs;
        this.freezeEncoder = freezeEncoder;
        this.auxiliary = auxiliary;
        TermNames = auxiliary is null ? Array.Empty<string>() : [CrossEntropyTerm, ReconstructionTerm];
    }

    /// <summary>The name of the cross-entropy term in the history (reported when there is an auxiliary objective).</summary>
    public const string CrossEntropyTerm = "cross-entropy";

    /// <summary>The name of the auxiliary objective's term in the history (unweighted, before the division by its scale).</summary>
    public const string ReconstructionTerm = "reconstruction";

    public nn.Module<Tensor, Tensor> Module => network;

    public IReadOnlyList<string> TermNames { get; }

    /// <summary>
    /// Empty: this objective draws nothing of its own (the head's dropout draws from torch's global generator), so a
    /// checkpoint would have no state to keep. A non-empty state is refused rather than dropped.
    /// </summary>
    public byte[] RandomState
    {
        get => Array.Empty<byte>();
        set
        {
            if (value.Length != 0) throw new NotSupportedException($"The classification objective has no random state to restore ({value.Length} bytes given).");
        }
    }

    /// <summary>The encoder at its own rate (when given), then the head at the run's, then the auxiliary objective's own parameters at the encoder's rate.</summary>
    public IReadOnlyList<(IEnumerable<Parameter> Parameters, double LearningRate)> ParameterGroups(double learningRate) => auxiliary is null
        ? [(encoderParameters, encoderLearningRate ?? learningRate), (headParameters, learningRate)]
        : [(encoderParameters, encoderLearningRate ?? learningRate), (headParameters, learningRate), (auxiliary.Parameters, encoderLearningRate ?? learningRate)];

    /// <summary>
    /// Freezes the encoder (no gradients, evaluation mode) in the epochs it sits out, and thaws it in the others; the
    /// auxiliary objective's parameters follow the encoder, so that only the head trains while it is frozen.
    /// </summary>
    public void BeginEpoch(int epoch)
    {
        bool frozen = freezeEncoder || epoch < freezeEncoderEpochs;
        foreach (var p in FrozenWithTheEncoder) p.requires_grad = !frozen;
        if (frozen) encoder.eval();
        auxiliary?.Objective.BeginEpoch(epoch);
    }

    /// <summary>Gives every encoder (and auxiliary) parameter its gradient back, whatever epoch training ended in.</summary>
    public void ThawEncoder()
    {
        foreach (var p in FrozenWithTheEncoder) p.requires_grad = true;
    }

    private IEnumerable<Parameter> FrozenWithTheEncoder => auxiliary is null ? encoderParameters : encoderParameters.Concat(auxiliary.Parameters);

    public void BeginEvaluation()
    {
        auxiliary?.Objective.BeginEvaluation();
    }

    /// <summary>
    /// Mean cross-entropy of the batch's logits against its labels, plus the auxiliary objective's loss on the batch's
    /// features times its factor (its full objective, as in evaluation, with its training corruption when training).
    /// </summary>
    /// <exception cref="ArgumentException">The batch has no labels.</exception>
    public Tensor Loss(TrainingBatch batch, int epoch, bool training, List<Tensor>? terms)
    {
        var labels = batch.Labels ?? throw new ArgumentException("The classification objective needs labelled batches; this one has features only.", nameof(batch));
        var crossEntropy = nn.functional.cross_entropy(network.forward(batch.Features), labels);
        if (auxiliary is null) return crossEntropy;
        // int.MaxValue: the autoencoder's full objective (its warm-ups, such as the KL weight's, ended with its pretraining).
        var reconstruction = auxiliary.Objective.Loss(batch, int.MaxValue, training, null);
        terms?.Add(crossEntropy);
        terms?.Add(reconstruction);
        using var factor = auxiliary.Factor.ToScalar(); // alive through the native call (see Scalars)
        return crossEntropy.add(reconstruction, alpha: factor);
    }
}
