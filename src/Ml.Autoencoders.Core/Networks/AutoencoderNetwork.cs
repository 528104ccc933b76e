using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// What the objective, the trainer, the model and the model file need from a body (dense or convolutional):
/// rows in, codes out, codes in, rows out, and a training forward pass. Inputs and reconstructions are always flat
/// rows (batch x <see cref="InputSize"/>); a body reshapes them as it needs.
/// </summary>
internal abstract class AutoencoderNetwork : nn.Module<Tensor, Tensor>
{
    protected AutoencoderNetwork(string name) : base(name)
    {
    }

    /// <summary>Values per input row.</summary>
    public abstract int InputSize { get; }

    /// <summary>Width of the code.</summary>
    public abstract int LatentDimension { get; }

    /// <summary>Deterministic code or Gaussian posterior.</summary>
    public abstract LatentHead Head { get; }

    /// <summary>Activation of the reconstruction.</summary>
    public abstract Activation OutputActivation { get; }

    /// <summary>A readable description of the layers.</summary>
    public abstract string Description { get; }

    /// <summary>The shape this network was built from: <c>BodySpec.Create()</c> builds another one like it.</summary>
    public abstract IBodySpec BodySpec { get; }

    /// <summary>The image shape of a body that reads images; null for one that reads flat rows.</summary>
    public virtual ImageShape? ImageShape => null;

    public bool IsGaussian => Head == LatentHead.Gaussian;

    /// <summary>The deterministic code: the code layer's output, or the posterior mean of a Gaussian head.</summary>
    public abstract Tensor Encode(Tensor input);

    /// <summary>Posterior mean and log-variance (Gaussian head only).</summary>
    public abstract (Tensor Mean, Tensor LogVariance) EncodeDistribution(Tensor input);

    /// <summary>Rows decoded from codes.</summary>
    public abstract Tensor Decode(Tensor code);

    /// <summary>
    /// The training forward pass: encodes (recording pre-activations when <paramref name="trace"/> is set), samples a
    /// Gaussian code with <paramref name="generator"/> (the mean when it is null), and decodes.
    /// </summary>
    public abstract ForwardPass Forward(Tensor input, Generator? generator, bool trace);

    /// <summary>
    /// The reconstruction term of the training loss when the body defines its own (a token-sequence body: masked
    /// cross-entropy over the tokens of <paramref name="pass"/>'s input); null: the options' loss on the reconstruction.
    /// <paramref name="sumPerRow"/>: summed over each row's elements and averaged over rows (a variational objective).
    /// </summary>
    public virtual Tensor? OwnReconstructionLoss(ForwardPass pass, bool sumPerRow) => null;

    /// <summary>
    /// Each row's reconstruction error ([rows]) at inference when the body defines its own (a token-sequence body: mean
    /// token cross-entropy); null: the mean squared error of the reconstruction.
    /// </summary>
    public virtual Tensor? OwnRowErrors(Tensor input, Tensor code) => null;

    public override Tensor forward(Tensor input)
    {
        using var code = Encode(input);
        return Decode(code);
    }

    protected static InvalidOperationException NotVariational() =>
        new("This network has a deterministic code; only a variational autoencoder has a posterior distribution.");
}
