using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Runtime;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Objectives;

/// <summary>
/// The contractive autoencoder's penalty: the squared Frobenius norm of the encoder's Jacobian with respect to
/// the input, ‖∂code/∂x‖²_F, averaged over rows (for a variational autoencoder, of the posterior mean).
/// </summary>
/// <remarks>
/// Computed exactly, in closed form, from each layer's weights and activation derivatives:
/// J = D_L W_L ⋯ D_1 W_1 with D_i = diag(f_i'(a_i)). For an encoder with a single (code) layer this is
/// Σ_j f'(a_j)² ‖W_j‖², about as cheap as the forward pass. For deeper encoders the per-row Jacobian
/// (code width × input width) is built by chaining from the code side, costing about
/// rows × code width × Σ (layer fan-in × fan-out) multiply-adds per batch: the code width times a forward pass.
/// </remarks>
public sealed class ContractivePenalty : AutoencoderPenalty
{
    /// <summary>A penalty of weight 1e-4.</summary>
    public ContractivePenalty() => Weight = 1e-4;

    /// <inheritdoc />
    public override string Name => "contractive";

    internal override bool NeedsTrace => true;

    internal override Tensor Compute(ForwardPass pass, AutoencoderNetwork network) =>
        JacobianNormSquared((network as IDenseLayers ?? throw new NotSupportedException("The contractive penalty needs a dense body.")).EncoderLayers, pass.PreActivations
            ?? throw new InvalidOperationException("The contractive penalty needs a traced forward pass."));

    /// <summary>‖J‖²_F per row, averaged over rows.</summary>
    internal static Tensor JacobianNormSquared(IReadOnlyList<(TorchSharp.Modules.Linear Linear, Activation Activation)> layers, IReadOnlyList<Tensor> preActivations)
    {
        using var scope = NewDisposeScope();
        int last = layers.Count - 1;
        long rows = preActivations[0].shape[0];
        var codeDerivative = Activations.Derivative(layers[last].Activation, preActivations[last]);
        var codeWeight = layers[last].Linear.weight;
        if (last == 0)
        {
            var rowNorms = codeWeight.pow(Scalars.Two).sum(1);
            var single = codeDerivative is null ? rowNorms.sum() : codeDerivative.pow(Scalars.Two).matmul(rowNorms).mean();
            return single.MoveToOuterDisposeScope();
        }
        // M starts as D_L W_L ([rows or 1, code, width]) and takes one layer per step towards the input.
        var m = codeDerivative is null ? codeWeight.unsqueeze(0) : codeDerivative.unsqueeze(2).mul(codeWeight);
        for (int i = last - 1; i >= 0; i--)
        {
            var derivative = Activations.Derivative(layers[i].Activation, preActivations[i]);
            if (derivative is not null) m = m.mul(derivative.unsqueeze(1));
            m = m.matmul(layers[i].Linear.weight);
        }
        var perRow = m.pow(Scalars.Two).sum(new long[] { 1, 2 });
        return (perRow.shape[0] == rows ? perRow.mean() : perRow.sum()).MoveToOuterDisposeScope();
    }
}
