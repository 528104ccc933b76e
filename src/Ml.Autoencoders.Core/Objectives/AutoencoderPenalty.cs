using System.Text.Json.Serialization;
using Ml.Autoencoders.Networks;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// A term added to the training objective with its <see cref="Weight"/>: loss = reconstruction (+ β·KL) + Σ weight·penalty.
/// Weight decay is the optimizer's (<c>AutoencoderOptions.WeightDecay</c>): the same L2 penalty, applied in the update step.
/// </summary>
/// <remarks>A new penalty is one small class deriving from this one (and one line below, so model files can name it).</remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(SparsityPenalty), "sparsity")]
[JsonDerivedType(typeof(ContractivePenalty), "contractive")]
public abstract class AutoencoderPenalty
{
    /// <summary>Weight of the penalty in the objective.</summary>
    public double Weight { get; set; }

    /// <summary>Name of the term in <c>EpochRecord.Terms</c>.</summary>
    [JsonIgnore]
    public abstract string Name { get; }

    /// <summary>True when the penalty needs each encoder layer's pre-activation.</summary>
    internal virtual bool NeedsTrace => false;

    /// <summary>Checks the penalty against the network it will train; throws <see cref="ArgumentException"/> naming what does not fit.</summary>
    public virtual void Validate(LatentHead head, Activation codeActivation)
    {
        if (!(Weight >= 0) || !double.IsFinite(Weight))
            throw new ArgumentOutOfRangeException(nameof(Weight), Weight, $"The {Name} weight must be a finite number >= 0.");
    }

    /// <summary>The unweighted penalty of one batch, averaged over rows.</summary>
    internal abstract Tensor Compute(ForwardPass pass, AutoencoderNetwork network);

    /// <summary>A copy that shares nothing mutable with this one.</summary>
    public virtual AutoencoderPenalty Clone() => (AutoencoderPenalty)MemberwiseClone();
}
