using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>
/// The library's LSTM: libtorch's own module (<c>nn.LSTM</c>,
/// batch first: its parameter names, shapes, order and initialisation), run so that float32 results are right on every
/// CPU the library is tested on. libtorch 2.10 (TorchSharp 0.107) runs a float32 LSTM on the CPU through oneDNN, with two
/// kernels: with gradient recording on, oneDNN's training kernel (forward and backward), which agrees with float64 to
/// ~1e-7; with it off (<c>no_grad</c>), oneDNN's inference kernel, which is wrong by 0.05-0.4 on the AMD EPYC machines
/// (avx512_bf16) this library is tested on. So <see cref="Run"/> uses the module itself while gradients are recorded
/// (training: the fast fused kernel, forward and backward) and, when they are not (scoring, validation), the same function
/// written with matrix products and gates from the module's own parameters: the input-to-hidden products of all steps are
/// one product per layer and direction, and each step is one product and four gate kernels.
/// NumericsTests.PresetBodiesMatchFloat64 and RecurrentBodyTests check both paths against float64 at several batch sizes
/// and thread counts.
/// </summary>
internal static class Lstm
{
    /// <summary>A stacked, optionally bidirectional LSTM over (batch, steps, features), libtorch's initialisation (uniform in ±1/√hidden).</summary>
    public static LSTM Create(int input, int hidden, int layers, bool bidirectional) =>
        nn.LSTM(input, hidden, layers, batchFirst: true, bidirectional: bidirectional);

    /// <summary>
    /// Runs a batch of sequences (batch, steps, features): every step's output of the last layer (batch, steps,
    /// directions x hidden) and the final hidden states, whose last <c>directions</c> entries are the last layer's
    /// ((layers or 1) x directions, batch, hidden).
    /// </summary>
    public static (Tensor Output, Tensor FinalHidden) Run(LSTM lstm, Tensor sequences)
    {
        if (is_grad_enabled())
        {
            // oneDNN's training kernel (right on every CPU tested), with its fused backward.
            var (output, hidden, cell) = lstm.forward(sequences, null);
            cell.Dispose();
            return (output, hidden);
        }
        return Steps(lstm, sequences);
    }

    /// <summary>
    /// The LSTM function step by step with matrix products and gates (gates i, f, g, o), from <paramref name="lstm"/>'s
    /// parameters; returns the output and the last layer's final hidden state per direction (directions, batch, hidden).
    /// Used when gradients are not recorded, where libtorch's own float32 kernel is wrong on some CPUs.
    /// </summary>
    internal static (Tensor Output, Tensor FinalHidden) Steps(LSTM lstm, Tensor sequences)
    {
        using var scope = NewDisposeScope();
        var parameters = lstm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int directions = parameters.ContainsKey("weight_ih_l0_reverse") ? 2 : 1;
        int layers = parameters.Count / (4 * directions);
        long hidden = parameters["weight_hh_l0"].shape[1];
        long batch = sequences.shape[0], steps = sequences.shape[1];
        var x = sequences;
        var finals = new List<Tensor>();
        for (int layer = 0; layer < layers; layer++)
        {
            var outputs = new List<Tensor>();
            finals.Clear();
            for (int direction = 0; direction < directions; direction++)
            {
                string cell = $"_l{layer}{(direction == 1 ? "_reverse" : "")}";
                var whhT = parameters["weight_hh" + cell].t();
                var inputGates = nn.functional.linear(x, parameters["weight_ih" + cell], parameters["bias_ih" + cell] + parameters["bias_hh" + cell]); // (batch, steps, 4 hidden)
                var h = zeros(new long[] { batch, hidden }, dtype: x.dtype, device: x.device);
                var c = zeros(new long[] { batch, hidden }, dtype: x.dtype, device: x.device);
                var states = new Tensor[steps];
                for (long s = 0; s < steps; s++)
                {
                    long t = direction == 0 ? s : steps - 1 - s;
                    // Few kernels per step (each a call through TorchSharp): one product with the input gates added,
                    // one sigmoid over all four gates, one tanh for the candidate.
                    var gates = addmm(inputGates.select(1, t), h, whhT, 1, 1);
                    var sig = gates.sigmoid();
                    var candidate = gates.narrow(1, 2L * hidden, hidden).tanh();
                    c = addcmul(sig.narrow(1, hidden, hidden) * c, sig.narrow(1, 0, hidden), candidate, 1);
                    h = sig.narrow(1, 3L * hidden, hidden) * c.tanh();
                    states[t] = h;
                }
                outputs.Add(stack(states, 1));
                finals.Add(h);
            }
            x = directions == 1 ? outputs[0] : cat(outputs, 2);
        }
        return (x.MoveToOuterDisposeScope(), stack(finals, 0).MoveToOuterDisposeScope());
    }
}
