using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>
/// A stacked, optionally bidirectional LSTM (batch first) written with matrix products and gates, because libtorch's
/// own float32 LSTM (TorchSharp 0.107, libtorch 2.10 CPU) disagrees with its float64 LSTM and with this plain
/// computation by 0.05-0.19 on the AMD EPYC machines this library is tested on, while its float32 GRU and matrix
/// products agree to 1e-7 (NumericsTests.PresetBodiesMatchFloat64 checks this module against float64).
/// Parameters have libtorch's names, shapes, order and initialisation (uniform in ±1/√hidden; gates i, f, g, o), so
/// weights move between the two unchanged. The input-to-hidden products of all steps are one matrix product per layer
/// and direction; the recurrence is one product and four gates per step.
/// </summary>
internal sealed class Lstm : nn.Module
{
    private readonly int hidden, layers, directions;
    // Names, not tensors: moving the module (to a device or dtype) replaces its parameters.
    private readonly List<string> cells = new();

    public Lstm(int input, int hidden, int layers, bool bidirectional) : base(nameof(Lstm))
    {
        this.hidden = hidden;
        this.layers = layers;
        directions = bidirectional ? 2 : 1;
        double bound = 1.0 / Math.Sqrt(hidden);
        for (int layer = 0; layer < layers; layer++)
            for (int direction = 0; direction < directions; direction++)
            {
                long layerInput = layer == 0 ? input : (long)hidden * directions;
                string suffix = $"_l{layer}{(direction == 1 ? "_reverse" : "")}";
                void Make(string name, params long[] shape)
                {
                    var p = new Parameter(empty(shape));
                    using (no_grad()) nn.init.uniform_(p, -bound, bound);
                    register_parameter(name + suffix, p);
                }
                // libtorch's order: weight_ih, weight_hh, bias_ih, bias_hh, per layer and direction.
                Make("weight_ih", 4L * hidden, layerInput);
                Make("weight_hh", 4L * hidden, hidden);
                Make("bias_ih", 4L * hidden);
                Make("bias_hh", 4L * hidden);
                cells.Add(suffix);
            }
    }

    /// <summary>
    /// Runs a batch of sequences (batch, steps, features): every step's output of the last layer (batch, steps,
    /// directions x hidden) and the last layer's final hidden state per direction (directions, batch, hidden).
    /// </summary>
    public (Tensor Output, Tensor FinalHidden) Run(Tensor sequences)
    {
        var (output, final, _, _) = Run(sequences, null, null);
        return (output, final);
    }

    /// <summary>
    /// Runs a batch of sequences from initial hidden and cell states (layers x directions, batch, hidden; zeros when
    /// null): every step's output of the last layer, the last layer's final hidden state per direction, and every
    /// layer's final hidden and cell states (layers x directions, batch, hidden), to continue from step by step.
    /// </summary>
    public (Tensor Output, Tensor FinalHidden, Tensor AllHidden, Tensor AllCells) Run(Tensor sequences, Tensor? hidden0, Tensor? cell0)
    {
        using var scope = NewDisposeScope();
        long batch = sequences.shape[0], steps = sequences.shape[1];
        var x = sequences;
        var finals = new List<Tensor>();
        var allHidden = new List<Tensor>();
        var allCells = new List<Tensor>();
        var parameters = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        for (int layer = 0; layer < layers; layer++)
        {
            var outputs = new List<Tensor>();
            finals.Clear();
            for (int direction = 0; direction < directions; direction++)
            {
                string cell = cells[layer * directions + direction];
                var whhT = parameters["weight_hh" + cell].t();
                var inputGates = nn.functional.linear(x, parameters["weight_ih" + cell], parameters["bias_ih" + cell] + parameters["bias_hh" + cell]); // (batch, steps, 4 hidden)
                int slot = layer * directions + direction;
                var h = hidden0 is null ? zeros(new long[] { batch, hidden }, dtype: x.dtype, device: x.device) : hidden0[slot];
                var c = cell0 is null ? zeros(new long[] { batch, hidden }, dtype: x.dtype, device: x.device) : cell0[slot];
                var states = new Tensor[steps];
                for (long s = 0; s < steps; s++)
                {
                    long t = direction == 0 ? s : steps - 1 - s;
                    // Few kernels per step (each is a call through TorchSharp, forward and backward): one product with
                    // the input gates added, one sigmoid over all four gates, one tanh for the candidate.
                    var gates = addmm(inputGates.select(1, t), h, whhT, 1, 1);
                    var sig = gates.sigmoid();
                    var candidate = gates.narrow(1, 2L * hidden, hidden).tanh();
                    c = addcmul(sig.narrow(1, hidden, hidden) * c, sig.narrow(1, 0, hidden), candidate, 1);
                    h = sig.narrow(1, 3L * hidden, hidden) * c.tanh();
                    states[t] = h;
                }
                outputs.Add(stack(states, 1));
                finals.Add(h);
                allHidden.Add(h);
                allCells.Add(c);
            }
            x = directions == 1 ? outputs[0] : cat(outputs, 2);
        }
        return (x.MoveToOuterDisposeScope(), stack(finals, 0).MoveToOuterDisposeScope(),
            stack(allHidden, 0).MoveToOuterDisposeScope(), stack(allCells, 0).MoveToOuterDisposeScope());
    }
}
