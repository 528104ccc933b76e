using System.Text.Json.Nodes;
using Microsoft.ML;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Damaged and hostile training checkpoints: every case is read and applied to a fresh network, optimizer and
/// generator as a resumed run does, and either restores exactly the original state, raises
/// <see cref="AutoencoderModelFormatException"/>, or (re-signed files only) restores another valid state.
/// </summary>
[TestClass]
public sealed class CheckpointFuzzTests
{
    private const string Refused = "format exception", Identical = "identical", Differs = "differs (re-signed)";

    /// <summary>Context for the tally.</summary>
    public TestContext TestContext { get; set; } = null!;

    /// <summary>A fifth of <see cref="ModelFileFuzzTests.CasesVariable"/> (default 2,000) cases over an Adam and an SGD checkpoint.</summary>
    [TestMethod]
    public void DamagedCheckpointsRestoreIdenticallyOrRaiseTheFormatException()
    {
        int cases = Math.Max(500, FileFuzzing.EnvironmentInt(ModelFileFuzzTests.CasesVariable, 10_000) / 5);
        int seed = FileFuzzing.EnvironmentInt(ModelFileFuzzTests.SeedVariable, 20261126) + 2;
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(Synthetic.LowRank(120, 8, 2, seed: 3));
        using var dir = new TempDirectory("ckpt-fuzz");
        var subjects = new[] { ("adam", OptimizerKind.Adam), ("sgd", OptimizerKind.Sgd) }.Select(s =>
        {
            var options = new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = [6], Epochs = 3, BatchSize = 32, Optimizer = s.Item2, Corruption = new Corruption.MaskingNoise(), EarlyStoppingPatience = 5, CheckpointPath = dir.File(s.Item1 + ".ckpt"), Seed = 2 };
            options.CancellationToken = new CancellationTokenSource().Token;
            ml.Transforms.Autoencoder(options).Fit(data);
            var bytes = File.ReadAllBytes(options.CheckpointPath);
            return (Options: options, Bytes: bytes, State: Restore(bytes, options.Optimizer));
        }).ToArray();

        var tally = new FuzzTally();
        FileFuzzing.RunWatched(cases, i =>
        {
            var random = new Random(HashCode.Combine(seed, i));
            var (options, original, expected) = subjects[i % subjects.Length];
            var (kind, bytes) = Mutate(original, subjects[(i + 1) % subjects.Length].Bytes, random);
            string outcome;
            try
            {
                outcome = Restore(bytes, options.Optimizer).SequenceEqual(expected) ? Identical : Differs;
            }
            catch (AutoencoderModelFormatException)
            {
                outcome = Refused;
            }
            catch (Exception e)
            {
                throw new AssertFailedException($"seed {seed}, case {i} ({kind}): {e.GetType().Name} escaped: {e.Message}", e);
            }
            if (outcome == Differs && !kind.StartsWith("signed", StringComparison.Ordinal))
                Assert.Fail($"seed {seed}, case {i} ({kind}): unsigned damage restored a different state");
            tally.Add(kind, outcome);
        }, i => $"seed {seed}, case {i}", TimeSpan.FromSeconds(30));
        TestContext.WriteLine($"Checkpoint fuzz: {cases} cases, seed {seed}\n{tally}");
        Assert.AreEqual(cases, tally.Total);
        Assert.IsTrue(tally.Count(Refused) > cases / 2, "most cases are refused");
        Assert.IsTrue(tally.Count(Identical) > 0, "unknown fields and unchanged re-signed headers restore identically");
    }

    private static (string Kind, byte[] Bytes) Mutate(byte[] original, byte[] other, Random random)
    {
        switch (random.Next(10))
        {
            case 0: return ("flip", FileFuzzing.Flip(original, random));
            case 1: return ("truncate", FileFuzzing.Truncate(original, random));
            case 2: return ("splice other", FileFuzzing.Splice(original, other, random));
            case 3: return ("signed flip", FileFuzzing.Sign(FileFuzzing.Flip(FileFuzzing.Body(original), random)));
            case 4: return ("signed truncate", FileFuzzing.Sign(FileFuzzing.Body(original)[..random.Next(FileFuzzing.Body(original).Length)]));
            default:
                return ("signed header", FileFuzzing.EditHeader(original, h => EditHeader(h, random)));
        }
    }

    /// <summary>One random edit of the header: a number made hostile, a field dropped or retyped, a table entry changed.</summary>
    private static void EditHeader(JsonObject h, Random random)
    {
        var names = h.Select(p => p.Key).ToArray();
        string name = names[random.Next(names.Length)];
        JsonNode?[] hostile = [null, -1, 0, int.MaxValue, long.MaxValue, 1e300, "x", new JsonArray(), new JsonObject(), true];
        switch (random.Next(6))
        {
            case 0: h.Remove(name); break;
            case 1: h[name] = hostile[random.Next(hostile.Length)]?.DeepClone(); break;
            case 2: h["Unknown" + random.Next(100)] = 1; break; // must be ignored
            case 3:
                if (h["Tensors"] is JsonArray table && table.Count > 0)
                {
                    var entry = table[random.Next(table.Count)]!.AsObject();
                    switch (random.Next(5))
                    {
                        case 0: entry["Shape"] = new JsonArray(random.Next(1, 1 << 30), random.Next(1, 1 << 30)); break;
                        case 1: entry["Group"] = new[] { "model", "best", "optimizer", "other" }[random.Next(4)]; break;
                        case 2: entry["DType"] = new[] { "float32", "int64", "uint8", "float64" }[random.Next(4)]; break;
                        case 3: table.Add(entry.DeepClone()); break;
                        default: entry["Name"] = "encoder.linear" + random.Next(3) + ".weight"; break;
                    }
                }
                break;
            case 4:
                if (h["OptimizerSteps"] is JsonArray steps && steps.Count > 0) steps[random.Next(steps.Count)] = hostile[random.Next(1, 5)]!.DeepClone();
                break;
            default: break; // re-signed unchanged
        }
    }

    /// <summary>Reads the checkpoint and applies it the way a resumed Fit does; returns every restored value as bytes.</summary>
    private static byte[] Restore(byte[] bytes, OptimizerKind optimizerKind)
    {
        var contents = CheckpointFile.Parse(bytes);
        var spec = new DenseNetworkSpec(8, [6], [Activation.LeakyReLU], 2, Activation.Linear, Activation.Sigmoid, LatentHead.Deterministic, false);
        using var network = TestNetworks.Create(spec, 1, CPU);
        using var optimizer = TrainingOptimizer.Create(optimizerKind, network.parameters(), 1e-3, momentum: 0.9);
        using var objective = new AutoencoderObjective(network, new ObjectiveSettings { Corruption = new Corruption.MaskingNoise() }, 1, CPU);
        contents.CopyGroup(CheckpointFile.ModelGroup, network.state_dict(), "weights");
        contents.RestoreOptimizer(optimizer);
        objective.RandomState = contents.Header.RandomState!;
        var best = contents.Header.Tensors!.Any(t => t.Group == CheckpointFile.BestGroup) ? contents.NewTensors(CheckpointFile.BestGroup, network.state_dict()) : new Dictionary<string, Tensor>();
        _ = TrainingJson.History(contents.Header.History!, contents.Header.BestEpoch, contents.Header.StoppedEarly, false); // as AutoencoderCheckpoint.Read does
        using var buffer = new MemoryStream();
        void Put(Tensor t) => buffer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Runtime.TensorSpans.ToArray<float>(t.to_type(ScalarType.Float32)).AsSpan()));
        foreach (var (_, t) in network.state_dict()) Put(t);
        foreach (var (_, t) in best) { Put(t); t.Dispose(); }
        foreach (var (_, _, t) in CheckpointFile.TrainerTensors(network, null, optimizer).Where(x => x.Group == CheckpointFile.OptimizerGroup)) Put(t);
        foreach (long step in CheckpointFile.OptimizerSteps(optimizer)) buffer.Write(BitConverter.GetBytes(step));
        buffer.Write(objective.RandomState);
        buffer.Write(BitConverter.GetBytes(contents.Header.CompletedEpochs));
        return buffer.ToArray();
    }
}
