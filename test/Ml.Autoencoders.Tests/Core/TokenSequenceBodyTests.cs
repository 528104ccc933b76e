using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Networks.Tokens;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The token-sequence network alone: its tensor table, that padding never counts, its kernels (embedding, GRU, the
/// library's LSTM, cross-entropy) in float32 against float64, batch independence, and rows it refuses.
/// </summary>
[TestClass]
public sealed class TokenSequenceBodyTests
{
    private static TokenSequenceNetworkSpec Spec(TokenSequenceOptions t, int[] hidden, int latent, LatentHead head = LatentHead.Deterministic) =>
        (TokenSequenceNetworkSpec)new AutoencoderOptions { Body = t, HiddenLayerSizes = hidden, LatentDimension = latent, LatentHead = head }.Spec(t.MaxLength, Activation.Linear);

    private static IEnumerable<TokenSequenceNetworkSpec> Specs()
    {
        yield return Spec(new() { MaxLength = 5, VocabularySize = 7, EmbeddingSize = 3, HiddenSize = 6 }, [], 4);
        yield return Spec(new() { MaxLength = 5, VocabularySize = 7, EmbeddingSize = 3, HiddenSize = 6, Cell = RecurrentCell.Lstm, Layers = 2 }, [5], 3);
        yield return Spec(new() { MaxLength = 4, VocabularySize = 3, EmbeddingSize = 2, HiddenSize = 5, Layers = 2 }, [], 2, LatentHead.Gaussian);
    }

    /// <summary>Rows of 1..MaxLength random keys in 1..V, padded with 0 to <paramref name="slots"/>.</summary>
    private static Tensor Rows(int count, int maxLength, int slots, int vocabulary, int seed)
    {
        var random = new Random(seed);
        var values = new float[count * slots];
        for (int r = 0; r < count; r++)
        {
            int length = random.Next(1, maxLength + 1);
            for (int i = 0; i < length; i++) values[r * slots + i] = random.Next(1, vocabulary + 1);
        }
        return tensor(values, new long[] { count, slots });
    }

    /// <summary>The tensor table worked out from a spec (what the model file checks) equals the real network's state dict.</summary>
    [TestMethod]
    public void ExpectedTensorsEqualTheRealStateDict()
    {
        foreach (var spec in Specs())
        {
            using var network = (TokenSequenceAutoencoderNetwork)spec.Create();
            string Show(IEnumerable<(string Name, long[] Shape)> t) => string.Join("; ", t.Select(x => $"{x.Name} [{string.Join(",", x.Shape)}]"));
            Assert.AreEqual(Show(TokenSequenceAutoencoderNetwork.ExpectedTensors(spec)), Show(network.state_dict().Select(p => (p.Key, p.Value.shape))), network.Description);
        }
    }

    /// <summary>
    /// Padding never counts: the same weights with room for 5 or for 11 tokens give the same codes, the same training
    /// loss and the same per-row errors for the same sequences (only the padding after them differs).
    /// </summary>
    [TestMethod]
    public void PaddingNeverCounts()
    {
        foreach (var cell in new[] { RecurrentCell.Gru, RecurrentCell.Lstm })
        {
            using var scope = NewDisposeScope();
            var shortSpec = Spec(new() { MaxLength = 5, VocabularySize = 6, EmbeddingSize = 4, HiddenSize = 8, Cell = cell }, [], 3);
            var longSpec = Spec(new() { MaxLength = 11, VocabularySize = 6, EmbeddingSize = 4, HiddenSize = 8, Cell = cell }, [], 3);
            using var shortNet = (TokenSequenceAutoencoderNetwork)SeededNetworks.Create(shortSpec, 3, CPU);
            using var longNet = (TokenSequenceAutoencoderNetwork)SeededNetworks.Create(longSpec, 3, CPU);
            var rows = Rows(9, 5, 5, 6, seed: 1);
            var padded = cat(new[] { rows, zeros(9, 6) }, 1);
            using (no_grad())
            {
                var code = shortNet.Encode(rows);
                Assert.IsLessThan(1e-6, (code - longNet.Encode(padded)).abs().max().item<float>(), $"{cell}: codes");
                Assert.IsLessThan(1e-5, (shortNet.OwnRowErrors(rows, code)! - longNet.OwnRowErrors(padded, code)!).abs().max().item<float>(), $"{cell}: row errors");
                var loss = shortNet.OwnReconstructionLoss(shortNet.Forward(rows, null, false), false)!.item<float>();
                Assert.AreEqual(loss, longNet.OwnReconstructionLoss(longNet.Forward(padded, null, false), false)!.item<float>(), 1e-5f, $"{cell}: loss");
            }
        }
    }

    /// <summary>
    /// Float32 against float64 (the library relies on libtorch's embedding, GRU, matrix products and cross-entropy, and on
    /// its own LSTM): training loss and every gradient, codes, per-row errors and the greedy decoding, at several batch
    /// sizes; and each row alone gives what it gives in a batch.
    /// </summary>
    [TestMethod]
    public void MatchesFloat64AndDoesNotDependOnTheBatch()
    {
        var failures = new List<string>();
        void Close(string what, Tensor a, Tensor b, double tolerance = 2e-5)
        {
            double d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
            double scale = Math.Max(1, b.abs().max().to(ScalarType.Float64).item<double>());
            if (!(d <= tolerance * scale)) failures.Add($"{what}: differs by {d:g3}");
        }
        foreach (var spec in Specs())
            foreach (int n in new[] { 1, 7, 64 })
            {
                using var scope = NewDisposeScope();
                using var net32 = SeededNetworks.Create(spec, 4, CPU);
                using var net64 = SeededNetworks.Create(spec, 4, CPU);
                net64.to(ScalarType.Float64);
                var x32 = Rows(n, spec.Tokens.MaxLength, spec.Tokens.MaxLength, spec.Tokens.VocabularySize, seed: n);
                var x64 = x32.to(ScalarType.Float64);
                string name = $"{spec.Tokens.Cell} x{spec.Tokens.Layers} {spec.Head} n{n}";
                var l32 = net32.OwnReconstructionLoss(net32.Forward(x32, null, false), spec.Head == LatentHead.Gaussian)!;
                var l64 = net64.OwnReconstructionLoss(net64.Forward(x64, null, false), spec.Head == LatentHead.Gaussian)!;
                Close($"{name} loss", l32, l64);
                l32.backward();
                l64.backward();
                var grads64 = net64.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
                foreach (var (p, parameter) in net32.named_parameters())
                    if (parameter.grad is not null) Close($"{name} {p} gradient", parameter.grad, grads64[p]!, 1e-4);
                net32.eval(); net64.eval();
                using (no_grad())
                {
                    var c32 = net32.Encode(x32);
                    Close($"{name} code", c32, net64.Encode(x64));
                    Close($"{name} row errors", net32.OwnRowErrors(x32, c32)!, net64.OwnRowErrors(x64, net64.Encode(x64))!);
                    var decoded = net32.Decode(c32);
                    if (!decoded.eq(net64.Decode(net64.Encode(x64)).to(ScalarType.Float32)).all().item<bool>()) failures.Add($"{name}: greedy decoding differs from float64's");
                    for (int i = 0; i < n; i += Math.Max(1, n / 4))
                    {
                        var alone = net32.Encode(x32[i..(i + 1)]);
                        Close($"{name} row {i} alone (code)", alone, c32[i..(i + 1)], 1e-6);
                        if (!net32.Decode(alone).eq(decoded[i..(i + 1)]).all().item<bool>()) failures.Add($"{name} row {i}: decoded alone differs from in the batch");
                    }
                }
            }
        if (failures.Count > 0) Assert.Fail(string.Join("\n", failures.Take(40)));
    }

    /// <summary>Rows that are not token sequences, given to the model's arrays API, raise an error naming the row.</summary>
    [TestMethod]
    public void RowsThatAreNotTokenSequencesAreRefusedNamingTheRow()
    {
        using var network = SeededNetworks.Create(Specs().First(), 1, CPU);
        foreach (var (bad, what) in new[] { (new float[] { 1, 2.5f, 0, 0, 0 }, "not whole"), (new float[] { 1, 8, 0, 0, 0 }, "above V"), (new float[] { 1, 0, 3, 0, 0 }, "gap"), (new float[5], "empty"), (new float[] { -1, 0, 0, 0, 0 }, "negative") })
        {
            using var rows = tensor(new float[] { 1, 2, 0, 0, 0 }.Concat(bad).ToArray(), new long[] { 2, 5 });
            var e = Assert.ThrowsExactly<ArgumentException>(() => network.Encode(rows), what);
            StringAssert.Contains(e.Message, "Row 1", what);
        }
    }
}
