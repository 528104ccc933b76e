using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>
/// The ONNX form of a <see cref="RecurrentAutoencoderNetwork"/>'s own layers (<see cref="IOnnxBody"/>): ONNX's LSTM and
/// GRU operators over the window, sequence-major, with libtorch's gate blocks reordered; the repeat-vector decoder and
/// the per-step output layer.
/// </summary>
internal static class RecurrentOnnx
{
    /// <summary>
    /// Flat rows (step by step) to the encoder's last layer's final state [N, directions x hidden], as
    /// RecurrentAutoencoderNetwork.Features computes it: the window as [steps, N, features] through one ONNX LSTM or GRU
    /// node per layer, each layer reading the previous one's outputs (both directions side by side), and the last
    /// layer's final states (forward, then reverse) side by side per row.
    /// </summary>
    public static string Features(IOnnxGraph g, RecurrentAutoencoderNetwork network, string input)
    {
        var r = network.Spec.Recurrent;
        string x = g.Node("encoder.sequence", "Transpose", new[] { g.Reshape("encoder.sequence", input, 0, r.Steps, r.Features) }, null,
            new OnnxAttribute("perm", Ints: new[] { 1L, 0, 2 }));
        string final = x;
        for (int layer = 0; layer < r.Layers; layer++)
        {
            var (y, yh) = Cell(g, "encoder", network.EncoderCell, r.Cell, layer, r.Bidirectional, r.HiddenSize, x);
            if (layer < r.Layers - 1) x = StepOutputs(g, $"encoder.l{layer}", y); // the last layer's step outputs are not read
            final = yh;
        }
        // Y_h: [directions, N, hidden] -> [N, directions x hidden].
        string perRow = g.Node("encoder.state", "Transpose", new[] { final }, null, new OnnxAttribute("perm", Ints: new[] { 1L, 0, 2 }));
        return g.Node("encoder.state", "Flatten", new[] { perRow }, null, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>
    /// The repeat-vector decoder, as RecurrentAutoencoderNetwork.Rows computes it: the state-sized vector repeated at
    /// every step, the decoder's layers, then the per-step linear layer and the output activation, flattened step by step.
    /// </summary>
    public static string Rows(IOnnxGraph g, RecurrentAutoencoderNetwork network, string state, string output)
    {
        var r = network.Spec.Recurrent;
        string once = g.Node("decoder.repeat", "Unsqueeze", new[] { state, g.Ints("decoder.repeat.axes", new[] { 0L }) });
        string x = g.Node("decoder.repeat", "Expand", new[] { once, g.Ints("decoder.repeat.shape", new long[] { r.Steps, 1, 1 }) });
        for (int layer = 0; layer < r.Layers; layer++)
        {
            var (y, _) = Cell(g, "decoder", network.DecoderCell, r.Cell, layer, bidirectional: false, r.HiddenSize, x);
            x = StepOutputs(g, $"decoder.l{layer}", y);
        }
        string batchFirst = g.Node("output", "Transpose", new[] { x }, null, new OnnxAttribute("perm", Ints: new[] { 1L, 0, 2 })); // [N, steps, hidden]
        var linear = network.OutputLayer;
        using var weightT = linear.weight!.t();
        string product = g.Node("output", "MatMul", new[] { batchFirst, g.Initializer("output.weight_transposed", weightT) });
        string shifted = g.Node("output", "Add", new[] { product, g.Initializer("output.bias", linear.bias!) });
        string activated = g.Activate("output", shifted, network.OutputActivation, null);
        return g.Node("output", "Flatten", new[] { activated }, output, new OnnxAttribute("axis", Int: 1));
    }

    /// <summary>An LSTM/GRU node's Y [steps, directions, N, hidden] as the next layer's input [steps, N, directions x hidden].</summary>
    private static string StepOutputs(IOnnxGraph g, string scope, string y)
    {
        string t = g.Node(scope, "Transpose", new[] { y }, null, new OnnxAttribute("perm", Ints: new[] { 0L, 2, 1, 3 }));
        return g.Reshape(scope, t, 0, 0, -1);
    }

    /// <summary>
    /// One layer of a cell stack as an ONNX LSTM or GRU node; returns its Y and Y_h. libtorch's gate blocks are reordered
    /// to ONNX's: LSTM (i, f, g, o) to (i, o, f, c); GRU (r, z, n) to (z, r, h), with linear_before_reset = 1, which is
    /// libtorch's GRU (the reset gate multiplies the hidden product with its bias). W, R and B hold the directions in
    /// order (forward, then reverse), B each direction's input bias then hidden bias.
    /// </summary>
    private static (string Y, string Yh) Cell(IOnnxGraph g, string side, nn.Module cells, RecurrentCell cell, int layer, bool bidirectional, int hidden, string x)
    {
        var parameters = cells.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        long[] order = cell == RecurrentCell.Lstm ? new[] { 0L, 3, 1, 2 } : new[] { 1L, 0, 2 };
        Tensor Reorder(string name)
        {
            var p = parameters.TryGetValue(name, out var found) ? found
                : throw new InvalidOperationException($"The {side}'s {cell} has no parameter '{name}'.");
            var blocks = p.detach().chunk(order.Length, 0);
            return cat(order.Select(i => blocks[i]).ToArray(), 0);
        }
        var suffixes = bidirectional ? new[] { $"_l{layer}", $"_l{layer}_reverse" } : new[] { $"_l{layer}" };
        string scope = $"{side}.l{layer}";
        string w = g.Initializer(scope + ".W", stack(suffixes.Select(s => Reorder("weight_ih" + s)).ToArray(), 0));
        string rec = g.Initializer(scope + ".R", stack(suffixes.Select(s => Reorder("weight_hh" + s)).ToArray(), 0));
        string b = g.Initializer(scope + ".B", stack(suffixes.Select(s => cat(new[] { Reorder("bias_ih" + s), Reorder("bias_hh" + s) }, 0)).ToArray(), 0));
        var attributes = new List<OnnxAttribute> { new("hidden_size", Int: hidden) };
        if (bidirectional) attributes.Add(new OnnxAttribute("direction", Text: "bidirectional"));
        if (cell == RecurrentCell.Gru) attributes.Add(new OnnxAttribute("linear_before_reset", Int: 1));
        string op = cell == RecurrentCell.Lstm ? "LSTM" : "GRU";
        var outputs = g.Nodes(scope, op, new[] { x, w, rec, b }, 2, attributes.ToArray());
        return (outputs[0], outputs[1]);
    }
}
