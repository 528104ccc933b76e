using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Networks.Recurrent;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Networks.Tokens;

/// <summary>
/// Token sequences (rows of key values 1..V, padded with 0 to MaxLength) through an embedding (V + 2 rows: 0 padding,
/// 1..V the keys, V + 1 the start mark), a recurrent encoder whose output at each row's last real token is the state
/// (padding sits after it and a forward recurrence never reads ahead, so it never counts), the dense code, and a
/// recurrent decoder that starts from the code's state-sized reconstruction and reads it at every step next to the
/// previous token's embedding; one linear layer scores V + 1 classes per step (0 the end mark, 1..V the keys).
/// Training is teacher-forced (<see cref="Forward"/> returns the logits, <see cref="OwnReconstructionLoss"/> their
/// cross-entropy over each real token and the end mark); <see cref="AutoencoderNetwork.Decode"/> is greedy, step by step,
/// and gives key values with 0 after the end. Tensor names: "embedding.weight", "encoder.…", "decoder.…", "output.…", "core.…".
/// </summary>
internal sealed class TokenSequenceAutoencoderNetwork : AroundDenseCode
{
    // Field order is state-dict order (ExpectedTensors lists the same).
    private readonly Embedding embedding;
    private readonly nn.Module encoder;
    private readonly nn.Module decoder;
    private readonly Linear output;
    private readonly DenseAutoencoderNetwork core;

    public TokenSequenceAutoencoderNetwork(TokenSequenceNetworkSpec spec) : base(nameof(TokenSequenceAutoencoderNetwork))
    {
        Spec = spec;
        var t = spec.Tokens;
        if (spec.Core.InputSize != t.HiddenSize)
            throw new ArgumentException($"The dense code reads {spec.Core.InputSize} values; the encoder's state has {t.HiddenSize}.");
        embedding = nn.Embedding(t.VocabularySize + 2L, t.EmbeddingSize, padding_idx: 0);
        encoder = Cell(t.Cell, t.EmbeddingSize, t.HiddenSize, t.Layers);
        decoder = Cell(t.Cell, t.EmbeddingSize + t.HiddenSize, t.HiddenSize, t.Layers);
        output = nn.Linear(t.HiddenSize, t.VocabularySize + 1L);
        core = new DenseAutoencoderNetwork(spec.Core);
        RegisterComponents();
    }

    private static nn.Module Cell(RecurrentCell cell, int input, int hidden, int layers) => cell == RecurrentCell.Lstm
        ? Lstm.Create(input, hidden, layers, bidirectional: false)
        : nn.GRU(input, hidden, layers, batchFirst: true);

    public TokenSequenceNetworkSpec Spec { get; }

    /// <inheritdoc />
    public override IBodySpec BodySpec => Spec;

    public override int InputSize => Spec.InputSize;

    private int Vocabulary => Spec.Tokens.VocabularySize;

    /// <inheritdoc />
    protected override DenseAutoencoderNetwork Core => core;

    /// <inheritdoc />
    protected override int FeatureSize => Spec.Tokens.HiddenSize;

    public override Activation OutputActivation => Spec.OutputActivation;

    public override string Description
    {
        get
        {
            var t = Spec.Tokens;
            return $"token sequences of up to {t.MaxLength} keys of {t.VocabularySize}, embedding {t.EmbeddingSize}, " +
                $"{t.Cell.ToString().ToUpperInvariant()} {t.Layers}x{t.HiddenSize} encoder, dense code {core.Spec}, " +
                "teacher-forced decoder (greedy at inference), masked cross-entropy";
        }
    }

    /// <summary>The state-dict entries (name and shape, in order) of a network of <paramref name="spec"/>, without allocating.</summary>
    internal static List<(string Name, long[] Shape)> ExpectedTensors(TokenSequenceNetworkSpec spec)
    {
        var t = spec.Tokens;
        long gates = (t.Cell == RecurrentCell.Lstm ? 4L : 3L) * t.HiddenSize;
        var tensors = new List<(string, long[])> { ("embedding.weight", new[] { t.VocabularySize + 2L, t.EmbeddingSize }) };
        void Cell(string module, long input)
        {
            for (int layer = 0; layer < t.Layers; layer++)
            {
                long layerInput = layer == 0 ? input : t.HiddenSize;
                tensors.Add(($"{module}.weight_ih_l{layer}", new[] { gates, layerInput }));
                tensors.Add(($"{module}.weight_hh_l{layer}", new[] { gates, (long)t.HiddenSize }));
                tensors.Add(($"{module}.bias_ih_l{layer}", new[] { gates }));
                tensors.Add(($"{module}.bias_hh_l{layer}", new[] { gates }));
            }
        }
        Cell("encoder", t.EmbeddingSize);
        Cell("decoder", (long)t.EmbeddingSize + t.HiddenSize);
        tensors.Add(("output.weight", new[] { t.VocabularySize + 1L, t.HiddenSize }));
        tensors.Add(("output.bias", new[] { t.VocabularySize + 1L }));
        tensors.AddRange(DenseAutoencoderNetwork.ExpectedTensors(spec.Core, "core."));
        return tensors;
    }

    /// <summary>
    /// The rows' tokens (batch, MaxLength) as int64 and each row's length; throws <see cref="ArgumentException"/> naming the
    /// first row that is not 1..MaxLength whole key values in 1..V followed only by 0 (what the ML.NET adapter checks as it reads).
    /// </summary>
    private (Tensor Ids, Tensor Lengths) Tokens(Tensor rows)
    {
        using var scope = NewDisposeScope();
        var ids = rows.to_type(ScalarType.Int64);
        var present = ids.gt(0);
        var lengths = present.sum(1);
        long slots = ids.shape[1];
        var prefix = arange(slots, device: ids.device).unsqueeze(0).lt(lengths.unsqueeze(1));
        var bad = ids.to_type(rows.dtype).ne(rows).any(1)
            .logical_or(ids.lt(0).any(1)).logical_or(ids.gt(Vocabulary).any(1))
            .logical_or(present.ne(prefix).any(1)).logical_or(lengths.eq(0));
        if (bad.any().item<bool>())
        {
            long row = bad.nonzero()[0, 0].item<long>();
            throw new ArgumentException($"Row {row} is not a token sequence: expected 1 to {slots} whole key values in 1..{Vocabulary}, then only 0 (padding); " +
                $"it holds [{string.Join(", ", rows[row].data<float>().ToArray())}].", nameof(rows));
        }
        return (ids.MoveToOuterDisposeScope(), lengths.MoveToOuterDisposeScope());
    }

    /// <summary>Runs <paramref name="cell"/> over (batch, steps, features) from <paramref name="state"/> (null: zeros): every step's output and the state after.</summary>
    private static (Tensor Output, (Tensor H, Tensor? C) State) Run(nn.Module cell, Tensor x, (Tensor H, Tensor? C)? state) => cell switch
    {
        LSTM lstm => Lstm.Run(lstm, x, state?.H, state?.C) is var (o, h, c) ? (o, (h, c)) : default,
        GRU gru => gru.forward(x, state?.H) is var (o, h) ? (o, (h, null)) : default,
        _ => throw new InvalidOperationException("unknown recurrent cell"),
    };

    /// <summary>Rows (batch, MaxLength) to the encoder's last layer's output at each row's last real token (batch, hidden).</summary>
    protected override Tensor Features(Tensor rows)
    {
        using var scope = NewDisposeScope();
        var (ids, lengths) = Tokens(rows);
        var (outputs, _) = Run(encoder, embedding.forward(ids), null);
        var last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2]);
        return outputs.gather(1, last).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder's first state: the code's state-sized reconstruction in every layer (an LSTM's cell state starts at 0).</summary>
    private (Tensor H, Tensor? C) FirstState(Tensor state) =>
        (state.unsqueeze(0).expand(Spec.Tokens.Layers, -1, -1).contiguous(), Spec.Tokens.Cell == RecurrentCell.Lstm ? zeros_like(state).unsqueeze(0).expand(Spec.Tokens.Layers, -1, -1).contiguous() : null);

    /// <summary>Teacher-forced logits (batch, MaxLength + 1, V + 1): step s reads the start mark (s = 0) or token s - 1, and scores token s or the end.</summary>
    private Tensor TeacherForced(Tensor state, Tensor ids)
    {
        using var scope = NewDisposeScope();
        long batch = ids.shape[0], steps = ids.shape[1] + 1;
        var start = full(new long[] { batch, 1 }, Vocabulary + 1L, dtype: ScalarType.Int64, device: ids.device);
        var inputs = embedding.forward(cat(new[] { start, ids }, 1));
        var x = cat(new[] { inputs, state.unsqueeze(1).expand(-1, steps, -1) }, 2);
        var (outputs, _) = Run(decoder, x, FirstState(state));
        return output.forward(outputs).MoveToOuterDisposeScope();
    }

    /// <summary>Targets per step (batch, MaxLength + 1): the key, 0 for the end mark at each row's length, -100 (ignored) after it.</summary>
    private static Tensor Targets(Tensor ids, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        long batch = ids.shape[0], steps = ids.shape[1] + 1;
        var targets = cat(new[] { ids, zeros(new long[] { batch, 1 }, ScalarType.Int64, ids.device) }, 1);
        var after = arange(steps, device: ids.device).unsqueeze(0).gt(lengths.unsqueeze(1));
        return targets.masked_fill(after, -100).MoveToOuterDisposeScope();
    }

    /// <summary>The teacher-forced pass: the dense code (sampled for a Gaussian head) and the logits as the reconstruction.</summary>
    public override ForwardPass Forward(Tensor input, Generator? generator, bool trace)
    {
        if (trace) throw new NotSupportedException("The contractive penalty needs a dense body.");
        var features = Features(input);
        var inner = core.Forward(features, generator, false);
        using var ids = Tokens(input).Ids;
        return inner with { Input = input, Reconstruction = TeacherForced(inner.Reconstruction, ids) };
    }

    /// <summary>Mean cross-entropy over every real token and end mark of the batch (PyTorch's ignore_index mean); summed per row and averaged over rows with <paramref name="sumPerRow"/>.</summary>
    public override Tensor? OwnReconstructionLoss(ForwardPass pass, bool sumPerRow)
    {
        using var scope = NewDisposeScope();
        var (ids, lengths) = Tokens(pass.Input);
        var targets = Targets(ids, lengths);
        var logits = pass.Reconstruction;
        var flat = logits.reshape(-1, logits.shape[2]);
        var loss = sumPerRow
            ? nn.functional.cross_entropy(flat, targets.reshape(-1), ignore_index: -100, reduction: nn.Reduction.Sum).div(ids.shape[0])
            : nn.functional.cross_entropy(flat, targets.reshape(-1), ignore_index: -100);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Each row's mean teacher-forced cross-entropy (nats) over its tokens and end mark, from the code <paramref name="code"/>.</summary>
    public override Tensor? OwnRowErrors(Tensor input, Tensor code)
    {
        using var scope = NewDisposeScope();
        var (ids, lengths) = Tokens(input);
        var logits = TeacherForced(core.Decode(code), ids);
        var targets = Targets(ids, lengths);
        var perStep = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), targets.reshape(-1), ignore_index: -100, reduction: nn.Reduction.None)
            .view(ids.shape[0], -1);
        return perStep.sum(1).div(lengths.to_type(perStep.dtype) + 1).MoveToOuterDisposeScope();
    }

    /// <summary>Greedy decoding from the code's state-sized reconstruction: key values (batch, MaxLength), 0 from the end mark on.</summary>
    protected override Tensor Rows(Tensor state)
    {
        using var scope = NewDisposeScope();
        long batch = state.shape[0];
        int slots = Spec.Tokens.MaxLength;
        var previous = full(new long[] { batch }, Vocabulary + 1L, dtype: ScalarType.Int64, device: state.device);
        var finished = zeros(new long[] { batch }, ScalarType.Bool, state.device);
        var recurrent = FirstState(state);
        var condition = state.unsqueeze(1);
        var tokens = new List<Tensor>();
        for (int s = 0; s < slots; s++)
        {
            var x = cat(new[] { embedding.forward(previous).unsqueeze(1), condition }, 2);
            var (o, next) = Run(decoder, x, recurrent);
            recurrent = next;
            var choice = output.forward(o.squeeze(1)).argmax(1).masked_fill(finished, 0);
            tokens.Add(choice);
            finished = finished.logical_or(choice.eq(0));
            previous = choice;
            if (finished.all().item<bool>()) break;
        }
        var result = zeros(new long[] { batch, slots }, state.dtype, state.device);
        result.narrow(1, 0, tokens.Count).copy_(stack(tokens, 1));
        return result.MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            embedding.Dispose();
            encoder.Dispose();
            decoder.Dispose();
            output.Dispose();
            core.Dispose();
        }
        base.Dispose(disposing);
    }
}
