using Ml.Autoencoders.Networks.Dense;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>Shape of a recurrent autoencoder: its options, the output activation and the dense code around its state.</summary>
internal sealed record RecurrentNetworkSpec(RecurrentOptions Recurrent, Activation OutputActivation, DenseNetworkSpec Core) : IBodySpec
{
    /// <inheritdoc />
    public int InputSize => Recurrent.Size;

    /// <inheritdoc />
    public int LatentDimension => Core.LatentDimension;

    /// <inheritdoc />
    public LatentHead Head => Core.Head;

    /// <inheritdoc />
    public BodyOptions? Options => Recurrent;

    /// <inheritdoc />
    public CodeLayers Layers => Core.Layers;

    /// <inheritdoc />
    public AutoencoderNetwork Create() => new RecurrentAutoencoderNetwork(this);

    /// <inheritdoc />
    public List<(string Name, long[] Shape)> ExpectedTensors() => RecurrentAutoencoderNetwork.ExpectedTensors(this);
}

/// <summary>
/// A recurrent encoder (LSTM or GRU, stacked, optionally bidirectional; libtorch's modules, the LSTM run through <see cref="Lstm.Run(LSTM, Tensor)"/>), a dense code on its last layer's final state
/// (any <see cref="DenseAutoencoderNetwork"/>, so a Gaussian head and penalties on the code work as for dense bodies),
/// and a decoder of the same cell that reads the code's state-sized reconstruction at every step, with one linear layer
/// per step back to the features. Rows arrive flat, step by step, and leave the same way. Tensor names are stable
/// ("encoder.weight_ih_l0", "decoder.…", "output.…", "core.…") because the model file stores weights by name.
/// </summary>
internal sealed class RecurrentAutoencoderNetwork : AroundDenseCode, IOnnxBody
{
    // Field order is state-dict order (ExpectedTensors lists the same).
    private readonly nn.Module encoder;
    private readonly nn.Module decoder;
    private readonly Linear output;
    private readonly nn.Module<Tensor, Tensor> outputActivation;
    private readonly DenseAutoencoderNetwork core;

    public RecurrentAutoencoderNetwork(RecurrentNetworkSpec spec) : base(nameof(RecurrentAutoencoderNetwork))
    {
        Spec = spec;
        var r = spec.Recurrent;
        if (spec.Core.InputSize != r.StateSize)
            throw new ArgumentException($"The dense code reads {spec.Core.InputSize} values; the encoder's final state has {r.StateSize}.");
        encoder = Cell(r.Cell, r.Features, r.HiddenSize, r.Layers, r.Bidirectional);
        decoder = Cell(r.Cell, r.StateSize, r.HiddenSize, r.Layers, bidirectional: false);
        output = nn.Linear(r.HiddenSize, r.Features);
        outputActivation = Activations.Create(spec.OutputActivation);
        core = new DenseAutoencoderNetwork(spec.Core);
        RegisterComponents();
    }

    private static nn.Module Cell(RecurrentCell cell, int input, int hidden, int layers, bool bidirectional) => cell == RecurrentCell.Lstm
        ? Lstm.Create(input, hidden, layers, bidirectional)
        : nn.GRU(input, hidden, layers, batchFirst: true, bidirectional: bidirectional);

    public RecurrentNetworkSpec Spec { get; }

    /// <summary>The encoder's cell stack (<see cref="Lstm"/> or TorchSharp's <c>GRU</c>), for ONNX export.</summary>
    internal nn.Module EncoderCell => encoder;

    /// <summary>The decoder's cell stack (unidirectional), for ONNX export.</summary>
    internal nn.Module DecoderCell => decoder;

    /// <summary>The per-step linear layer from the decoder's hidden state to the features.</summary>
    internal Linear OutputLayer => output;

    /// <inheritdoc />
    IDenseLayers? IOnnxBody.DenseCode => core;

    /// <inheritdoc />
    string IOnnxBody.ExportFeatures(IOnnxGraph graph, string input, string? output) =>
        output is null ? RecurrentOnnx.Features(graph, this, input) : throw new InvalidOperationException("A recurrent body's features always go through its dense code.");

    /// <inheritdoc />
    string IOnnxBody.ExportRows(IOnnxGraph graph, string features, string output) => RecurrentOnnx.Rows(graph, this, features, output);

    /// <inheritdoc />
    public override IBodySpec BodySpec => Spec;

    public override int InputSize => Spec.InputSize;

    /// <inheritdoc />
    protected override DenseAutoencoderNetwork Core => core;

    /// <inheritdoc />
    protected override int FeatureSize => Spec.Recurrent.StateSize;

    public override Activation OutputActivation => Spec.OutputActivation;

    public override string Description
    {
        get
        {
            var r = Spec.Recurrent;
            return $"{r.Cell.ToString().ToUpperInvariant()} {r.Layers}x{r.HiddenSize}{(r.Bidirectional ? " bidirectional" : "")} over {r.Steps} steps x {r.Features} features, " +
                $"dense code {core.Spec}, repeat-vector decoder, output {Spec.OutputActivation}";
        }
    }

    /// <summary>
    /// The state-dict entries (name and shape, in order) of a network of <paramref name="spec"/>, without allocating:
    /// each recurrent layer (and direction) has input-to-hidden and hidden-to-hidden weights and biases of 4 (LSTM) or
    /// 3 (GRU) gates.
    /// </summary>
    internal static List<(string Name, long[] Shape)> ExpectedTensors(RecurrentNetworkSpec spec)
    {
        var r = spec.Recurrent;
        long gates = (r.Cell == RecurrentCell.Lstm ? 4L : 3L) * r.HiddenSize;
        var tensors = new List<(string, long[])>();
        void Cell(string module, long input, bool bidirectional)
        {
            for (int layer = 0; layer < r.Layers; layer++)
                foreach (string suffix in bidirectional ? new[] { "", "_reverse" } : new[] { "" })
                {
                    long layerInput = layer == 0 ? input : (long)r.HiddenSize * (bidirectional ? 2 : 1);
                    tensors.Add(($"{module}.weight_ih_l{layer}{suffix}", new[] { gates, layerInput }));
                    tensors.Add(($"{module}.weight_hh_l{layer}{suffix}", new[] { gates, (long)r.HiddenSize }));
                    tensors.Add(($"{module}.bias_ih_l{layer}{suffix}", new[] { gates }));
                    tensors.Add(($"{module}.bias_hh_l{layer}{suffix}", new[] { gates }));
                }
        }
        Cell("encoder", r.Features, r.Bidirectional);
        Cell("decoder", r.StateSize, bidirectional: false);
        tensors.Add(("output.weight", new long[] { r.Features, r.HiddenSize }));
        tensors.Add(("output.bias", new long[] { r.Features }));
        tensors.AddRange(DenseAutoencoderNetwork.ExpectedTensors(spec.Core, "core."));
        return tensors;
    }

    /// <summary>Rows (batch, steps x features) to the encoder's last layer's final state (batch, directions x hidden).</summary>
    protected override Tensor Features(Tensor rows)
    {
        var r = Spec.Recurrent;
        using var scope = NewDisposeScope();
        var x = rows.reshape(-1, r.Steps, r.Features);
        var final = encoder switch
        {
            LSTM lstm => Lstm.Run(lstm, x).FinalHidden,
            GRU gru => gru.forward(x, null).Item2,
            _ => throw new InvalidOperationException("unknown recurrent cell"),
        };
        int directions = r.Bidirectional ? 2 : 1;
        // final: (layers x directions, batch, hidden); the last layer's directions, side by side per row.
        var state = final[TensorIndex.Slice(-directions)].permute(1, 0, 2).reshape(-1, r.StateSize);
        return state.MoveToOuterDisposeScope();
    }

    /// <summary>A state-sized vector per row, repeated at every step, through the decoder to rows (batch, steps x features).</summary>
    protected override Tensor Rows(Tensor state)
    {
        var r = Spec.Recurrent;
        using var scope = NewDisposeScope();
        var repeated = state.unsqueeze(1).expand(-1, r.Steps, -1);
        var sequence = decoder switch
        {
            LSTM lstm => Lstm.Run(lstm, repeated).Output,
            GRU gru => gru.forward(repeated, null).Item1,
            _ => throw new InvalidOperationException("unknown recurrent cell"),
        };
        var rows = outputActivation.forward(output.forward(sequence)).reshape(-1, r.Size);
        return rows.MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            encoder.Dispose();
            decoder.Dispose();
            output.Dispose();
            outputActivation.Dispose();
            core.Dispose();
        }
        base.Dispose(disposing);
    }
}
