using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>How a <see cref="SparsityPenalty"/> measures activity.</summary>
public enum SparsityKind
{
    /// <summary>L1 norm of each row's code, averaged over rows.</summary>
    L1,
    /// <summary>
    /// KL divergence of each code unit's mean activation over the batch (ρ̂) from the target rate ρ:
    /// Σ ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂)). Needs a sigmoid code activation.
    /// </summary>
    KlDivergence,
}

/// <summary>The sparse autoencoder's penalty on the code: few units active per row.</summary>
public sealed class SparsityPenalty : AutoencoderPenalty
{
    /// <summary>A penalty of weight 1e-3 (the code's L1 norm, or KL to a 0.05 rate, set by <see cref="Kind"/>).</summary>
    public SparsityPenalty() => Weight = 1e-3;

    /// <summary>How activity is measured.</summary>
    public SparsityKind Kind { get; set; } = SparsityKind.L1;

    /// <summary>Target mean activation ρ of each code unit (for <see cref="SparsityKind.KlDivergence"/>).</summary>
    public double TargetActivation { get; set; } = 0.05;

    /// <inheritdoc />
    public override string Name => "sparsity";

    /// <inheritdoc />
    public override void Validate(LatentHead head, Activation codeActivation)
    {
        base.Validate(head, codeActivation);
        if (!Enum.IsDefined(Kind)) throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown sparsity kind.");
        if (head != LatentHead.Deterministic)
            throw new ArgumentException("A sparsity penalty needs a deterministic code (LatentHead = Deterministic); a variational autoencoder's KL term already regularises its latent space.", nameof(head));
        if (Kind == SparsityKind.KlDivergence)
        {
            if (!(TargetActivation > 0 && TargetActivation < 1))
                throw new ArgumentOutOfRangeException(nameof(TargetActivation), TargetActivation, "The target activation must lie in (0, 1).");
            if (codeActivation != Activation.Sigmoid)
                throw new ArgumentException($"KL-divergence sparsity compares mean activations in (0, 1) with a target rate: it needs CodeActivation = Sigmoid, not {codeActivation}.", nameof(codeActivation));
        }
    }

    internal override Tensor Compute(ForwardPass pass, AutoencoderNetwork network)
    {
        using var scope = NewDisposeScope();
        var code = pass.Code;
        if (Kind == SparsityKind.L1)
        {
            using var rows = code.shape[0].ToScalar(); // alive through the native call (see Scalars)
            return code.abs().sum().div_(rows).MoveToOuterDisposeScope();
        }
        // Clamp only to keep the logarithms finite; the penalty itself is never clipped.
        using var rho = TargetActivation.ToScalar();
        using var notRho = (1 - TargetActivation).ToScalar();
        using var low = 1e-6.ToScalar();
        using var high = (1 - 1e-6).ToScalar();
        var rhoHat = code.mean(new long[] { 0 }).clamp(low, high);
        var kl = rhoHat.reciprocal().mul(rho).log().mul(rho)
            .add_(rhoHat.neg().add(Scalars.One, Scalars.One).reciprocal().mul(notRho).log().mul(notRho), Scalars.One);
        return kl.sum().MoveToOuterDisposeScope();
    }
}
