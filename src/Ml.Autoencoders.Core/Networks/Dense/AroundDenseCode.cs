using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Dense;

/// <summary>
/// A body made of its own encoder and decoder around the library's dense code (a <see cref="DenseAutoencoderNetwork"/>,
/// so a Gaussian head and the penalties on the code work as for dense bodies): the body only says how rows become the
/// features the code reads (<see cref="Features"/>) and how the code's reconstruction of them becomes rows
/// (<see cref="Rows"/>). Without a dense code (<see cref="Core"/> null) the features are the code.
/// </summary>
internal abstract class AroundDenseCode : AutoencoderNetwork
{
    protected AroundDenseCode(string name) : base(name)
    {
    }

    /// <summary>The dense code on the features; null when the features are the code.</summary>
    protected abstract DenseAutoencoderNetwork? Core { get; }

    /// <summary>Rows (batch x <see cref="AutoencoderNetwork.InputSize"/>) to the features the dense code reads.</summary>
    protected abstract Tensor Features(Tensor rows);

    /// <summary>Features (the dense code's reconstruction of them) back to rows.</summary>
    protected abstract Tensor Rows(Tensor features);

    /// <inheritdoc />
    public override int LatentDimension => Core?.LatentDimension ?? FeatureSize;

    /// <inheritdoc />
    public override LatentHead Head => Core?.Head ?? LatentHead.Deterministic;

    /// <summary>Values per row of the features (the code's width when there is no dense code).</summary>
    protected abstract int FeatureSize { get; }

    public override Tensor Encode(Tensor input)
    {
        if (Core is null) return Features(input);
        using var features = Features(input);
        return Core.Encode(features);
    }

    public override (Tensor Mean, Tensor LogVariance) EncodeDistribution(Tensor input)
    {
        if (Core is not { IsGaussian: true } core) throw NotVariational();
        using var features = Features(input);
        return core.EncodeDistribution(features);
    }

    public override Tensor Decode(Tensor code)
    {
        if (Core is null) return Rows(code);
        using var features = Core.Decode(code);
        return Rows(features);
    }

    /// <summary>Tracing (the contractive penalty's Jacobian) is defined for dense bodies only; options reject it earlier.</summary>
    public override ForwardPass Forward(Tensor input, Generator? generator, bool trace)
    {
        if (trace) throw new NotSupportedException("The contractive penalty needs a dense body.");
        var features = Features(input);
        if (Core is null) return new ForwardPass(input, features, null, null, Rows(features), null);
        var inner = Core.Forward(features, generator, false);
        return inner with { Input = input, Reconstruction = Rows(inner.Reconstruction) };
    }
}
