using Ml.Autoencoders.Data;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// Supervised fine-tuning of an encoder with a classification head: the cross-entropy of the network's logits against
/// the batch's labels. The encoder and the head are two parameter groups (the encoder may have its own learning rate);
/// the encoder can be frozen (no gradient, evaluation mode) for the first epochs or for good.
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

    /// <param name="network">Features to logits (encoder, then head).</param>
    /// <param name="encoder">The module holding the encoder: put in evaluation mode while it is frozen.</param>
    /// <param name="encoderParameters">The parameters the encoder uses (frozen with it).</param>
    /// <param name="headParameters">The head's parameters.</param>
    /// <param name="encoderLearningRate">The encoder group's learning rate; null: the run's.</param>
    /// <param name="freezeEncoderEpochs">Epochs at the start during which only the head trains.</param>
    /// <param name="freezeEncoder">Freeze the encoder in every epoch.</param>
    public ClassificationObjective(nn.Module<Tensor, Tensor> network, nn.Module encoder, IReadOnlyList<Parameter> encoderParameters, IReadOnlyList<Parameter> headParameters,
        double? encoderLearningRate, int freezeEncoderEpochs, bool freezeEncoder)
    {
        this.network = network;
        this.encoder = encoder;
        this.encoderParameters = encoderParameters;
        this.headParameters = headParameters;
        this.encoderLearningRate = encoderLearningRate;
        this.freezeEncoderEpochs = freezeEncoderEpochs;
        this.freezeEncoder = freezeEncoder;
    }

    public nn.Module<Tensor, Tensor> Module => network;

    public IReadOnlyList<string> TermNames => Array.Empty<string>();

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

    /// <summary>The encoder at its own rate (when given), then the head at the run's.</summary>
    public IReadOnlyList<(IEnumerable<Parameter> Parameters, double LearningRate)> ParameterGroups(double learningRate) =>
        [(encoderParameters, encoderLearningRate ?? learningRate), (headParameters, learningRate)];

    /// <summary>Freezes the encoder (no gradients, evaluation mode) in the epochs it sits out, and thaws it in the others.</summary>
    public void BeginEpoch(int epoch)
    {
        bool frozen = freezeEncoder || epoch < freezeEncoderEpochs;
        foreach (var p in encoderParameters) p.requires_grad = !frozen;
        if (frozen) encoder.eval();
    }

    /// <summary>Gives every encoder parameter its gradient back, whatever epoch training ended in.</summary>
    public void ThawEncoder()
    {
        foreach (var p in encoderParameters) p.requires_grad = true;
    }

    public void BeginEvaluation()
    {
    }

    /// <summary>Mean cross-entropy of the batch's logits against its labels.</summary>
    /// <exception cref="ArgumentException">The batch has no labels.</exception>
    public Tensor Loss(TrainingBatch batch, int epoch, bool training, List<Tensor>? terms)
    {
        var labels = batch.Labels ?? throw new ArgumentException("The classification objective needs labelled batches; this one has features only.", nameof(batch));
        return nn.functional.cross_entropy(network.forward(batch.Features), labels);
    }
}
