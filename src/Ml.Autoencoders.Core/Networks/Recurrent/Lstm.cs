using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>
/// The library's LSTM: libtorch's own module (<c>nn.LSTM</c>,
/// batch first: its parameter names, shapes, order and initialisation), run so that float32 results are right on every
/// CPU the library is tested on. libtorch 2.10 (TorchSharp 0.107) runs a float32 LSTM on the CPU through oneDNN, with two
/// kernels: with gradient recording on, oneDNN's training kernel (forward and backward), which agrees with float64 to
/// ~1e-7; with it off (<c>no_grad</c>), oneDNN's inference kernel, which is wrong by up to 0.4 for some shapes on the AMD EPYC machines
/// (avx512_bf16) this library is tested on. So <see cref="Run(LSTM, Tensor)"/> uses the module itself while gradients are recorded
/// (training: the fast fused kernel, forward and backward) and, when they are not (scoring, validation), the same function
/// written with matrix products and in-place gates from the module's own parameters (<see cref="Steps"/>): the
/// input-to-hidden products of all steps are one product per layer and direction, and each step is one product and six
/// in-place kernels, as fast as libtorch's inference kernel at batch 1024.
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
    /// directions x hidden) and the final hidden states of every layer and direction (layers x directions, batch,
    /// hidden), whose last <c>directions</c> entries are the last layer's.
    /// </summary>
    public static (Tensor Output, Tensor FinalHidden) Run(LSTM lstm, Tensor sequences)
    {
        var (output, hidden, cell) = Run(lstm, sequences, null, null);
        cell.Dispose();
        return (output, hidden);
    }

    /// <summary>
    /// Runs a batch of sequences from initial hidden and cell states (layers x directions, batch, hidden; zeros when
    /// null): every step's output of the last layer, and every layer's final hidden and cell states (layers x
    /// directions, batch, hidden), to continue from step by step (the token decoder's greedy decoding).
    /// </summary>
    public static (Tensor Output, Tensor Hidden, Tensor Cell) Run(LSTM lstm, Tensor sequences, Tensor? hidden0, Tensor? cell0)
    {
        if (is_grad_enabled())
        {
            // oneDNN's training kernel (right on every CPU tested), with its fused backward.
            (Tensor, Tensor)? state = hidden0 is null ? null : (hidden0, cell0 ?? zeros_like(hidden0));
            return lstm.forward(sequences, state);
        }
        return Steps(lstm, sequences, hidden0, cell0);
    }

    /// <summary>
    /// The LSTM function step by step with matrix products and gates, from <paramref name="lstm"/>'s parameters, for
    /// when gradients are not recorded (libtorch's own float32 inference kernel is wrong on some CPUs), from initial
    /// states (zeros when null; never written to); returns the output and every layer's final hidden and cell states
    /// (layers x directions, batch, hidden), as the module does. No tensor is
    /// allocated per step beyond the one product: the gates are reordered once to (i, f, o, g) so that one in-place
    /// sigmoid and one in-place tanh cover them, the cell state is updated in place, and each step's hidden state is
    /// written straight into the output, where the next step reads it. An input that is the same at every step (the
    /// repeat-vector decoder's, stride 0 along the steps) has its input-to-hidden product computed once.
    /// </summary>
    private static (Tensor Output, Tensor Hidden, Tensor Cell) Steps(LSTM lstm, Tensor sequences, Tensor? hidden0, Tensor? cell0)
    {
        using var scope = NewDisposeScope();
        var parameters = lstm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int directions = parameters.ContainsKey("weight_ih_l0_reverse") ? 2 : 1;
        int layers = parameters.Count / (4 * directions);
        long hidden = parameters["weight_hh_l0"].shape[1];
        long batch = sequences.shape[0], steps = sequences.shape[1];
        var device = sequences.device;
        // libtorch's gate order is i, f, g, o; this order puts the three sigmoid gates first: i, f, o, g.
        var order = cat(new[] { arange(0, 2 * hidden, device: device), arange(3 * hidden, 4 * hidden, device: device), arange(2 * hidden, 3 * hidden, device: device) });
        var x = sequences;
        var finalHidden = new List<Tensor>();
        var finalCells = new List<Tensor>();
        for (int layer = 0; layer < layers; layer++)
        {
            var output = empty(new long[] { batch, steps, directions * hidden }, dtype: x.dtype, device: device);
            bool constant = steps > 1 && x.stride(1) == 0;
            for (int direction = 0; direction < directions; direction++)
            {
                string cell = $"_l{layer}{(direction == 1 ? "_reverse" : "")}";
                var inputWeight = parameters["weight_ih" + cell].index_select(0, order);
                var hiddenWeightT = parameters["weight_hh" + cell].index_select(0, order).t();
                var bias = (parameters["bias_ih" + cell] + parameters["bias_hh" + cell]).index_select(0, order);
                // (batch, steps, 4 hidden), or (batch, 4 hidden) when every step reads the same input.
                var inputGates = nn.functional.linear(constant ? x.select(1, 0) : x, inputWeight, bias);
                var states = output.narrow(2, direction * hidden, hidden);
                int slot = layer * directions + direction;
                var h = hidden0 is null ? zeros(new long[] { batch, hidden }, dtype: x.dtype, device: device) : hidden0[slot];
                // The cell state is updated in place: a copy of the caller's.
                var c = cell0 is null ? zeros(new long[] { batch, hidden }, dtype: x.dtype, device: device) : cell0[slot].clone();
                for (long s = 0; s < steps; s++)
                {
                    using var step = NewDisposeScope();
                    long t = direction == 0 ? s : steps - 1 - s;
                    var gates = addmm(constant ? inputGates : inputGates.select(1, t), h, hiddenWeightT, 1, 1);
                    var sigmoid = gates.narrow(1, 0, 3 * hidden).sigmoid_();
                    var candidate = gates.narrow(1, 3 * hidden, hidden).tanh_();
                    c.mul_(sigmoid.narrow(1, hidden, hidden)).addcmul_(sigmoid.narrow(1, 0, hidden), candidate, 1);
                    var next = states.select(1, t);
                    next.copy_(c).tanh_().mul_(sigmoid.narrow(1, 2 * hidden, hidden));
                    h = next.MoveToOuterDisposeScope();
                }
                finalHidden.Add(h);
                finalCells.Add(c);
            }
            x = output;
        }
        return (x.MoveToOuterDisposeScope(), stack(finalHidden, 0).MoveToOuterDisposeScope(), stack(finalCells, 0).MoveToOuterDisposeScope());
    }
}
