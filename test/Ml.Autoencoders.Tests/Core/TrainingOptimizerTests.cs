using Ml.Autoencoders.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The library's optimizer (<see cref="TrainingOptimizer"/>, which keeps its Scalars alive through each native call)
/// updates weights exactly as TorchSharp's <c>optim.Adam</c>, <c>optim.AdamW</c> and <c>optim.SGD</c> do, bit for bit,
/// and survives a thread that collects garbage in a loop, which TorchSharp's Adam does not.
/// </summary>
[TestClass]
public sealed class TrainingOptimizerTests
{
    /// <summary>25 steps of each optimizer and setting, the learning rate changed halfway: the same weights bit for bit.</summary>
    [TestMethod]
    public void StepsEqualTorchSharpsOptimizersBitForBit()
    {
        var cases = new (string Name, OptimizerKind Kind, double WeightDecay, double Momentum)[]
        {
            ("Adam", OptimizerKind.Adam, 0, 0),
            ("Adam with L2 decay", OptimizerKind.Adam, 0.01, 0),
            ("AdamW", OptimizerKind.AdamW, 0.01, 0),
            ("AdamW without decay", OptimizerKind.AdamW, 0, 0),
            ("SGD with momentum and decay", OptimizerKind.Sgd, 1e-3, 0.9),
            ("SGD", OptimizerKind.Sgd, 0, 0),
        };
        foreach (var (name, kind, weightDecay, momentum) in cases)
        {
            using var ours = Network();
            using var theirs = Network();
            using var mine = TrainingOptimizer.Create(kind, ours.parameters(), 0.05, weightDecay, momentum);
            using optim.Optimizer reference = kind switch
            {
                OptimizerKind.Adam => optim.Adam(theirs.parameters(), 0.05, weight_decay: weightDecay),
                OptimizerKind.AdamW => optim.AdamW(theirs.parameters(), 0.05, weight_decay: weightDecay),
                _ => optim.SGD(theirs.parameters(), 0.05, momentum: momentum, weight_decay: weightDecay),
            };
            for (int step = 0; step < 25; step++)
            {
                if (step == 12)
                {
                    mine.Groups[0].LearningRate = 0.01;
                    foreach (var group in reference.ParamGroups) group.LearningRate = 0.01;
                }
                TrainStep(ours, step, mine.ZeroGrad, mine.Step);
                TrainStep(theirs, step, reference.zero_grad, () => reference.step());
            }
            AssertSameWeights(ours, theirs, name);
        }
    }

    /// <summary>
    /// Two groups with their own learning rates (the fine-tuned classifier's encoder and head), the first group frozen
    /// after a few steps (its gradients stay zero, as when the classifier freezes the encoder): the same weights as
    /// TorchSharp's Adam with two parameter groups.
    /// </summary>
    [TestMethod]
    public void GroupsWithTheirOwnRatesEqualTorchSharpsAdamBitForBit()
    {
        using var ours = Network();
        using var theirs = Network();
        var (oursFirst, oursRest) = Split(ours);
        var (theirsFirst, theirsRest) = Split(theirs);
        using var mine = TrainingOptimizer.Create(OptimizerKind.Adam, new (IEnumerable<Parameter>, double)[] { (oursFirst, 0.01), (oursRest, 0.05) });
        using var reference = optim.Adam(new[] { new Adam.ParamGroup(theirsFirst, lr: 0.01), new Adam.ParamGroup(theirsRest, lr: 0.05) });
        for (int step = 0; step < 20; step++)
        {
            if (step == 6)
                foreach (var p in oursFirst.Concat(theirsFirst)) p.requires_grad = false;
            TrainStep(ours, step, mine.ZeroGrad, mine.Step);
            TrainStep(theirs, step, reference.zero_grad, () => reference.step());
        }
        AssertSameWeights(ours, theirs, "two groups");
    }

    /// <summary>
    /// Steps while another thread collects garbage in a loop, for a second and a half: no failure, and the weights equal
    /// those of the same steps without the collector. (TorchSharp's <c>optim.Adam</c> failed within a second this way,
    /// "Unknown scalar type": it hands libtorch Scalars made per call that a collection can free mid-call.)
    /// </summary>
    [TestMethod]
    public void StepsAgreeWhileAnotherThreadCollectsGarbage()
    {
        using var quiet = Network();
        using var busy = Network();
        using var quietOptimizer = TrainingOptimizer.Create(OptimizerKind.Adam, quiet.parameters(), 0.01, 0.01);
        using var busyOptimizer = TrainingOptimizer.Create(OptimizerKind.Adam, busy.parameters(), 0.01, 0.01);
        bool stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect(0);
                GC.WaitForPendingFinalizers();
            }
        });
        collector.Start();
        int steps = 0;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(1.5)) TrainStep(busy, steps++, busyOptimizer.ZeroGrad, busyOptimizer.Step);
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        for (int step = 0; step < steps; step++) TrainStep(quiet, step, quietOptimizer.ZeroGrad, quietOptimizer.Step);
        AssertSameWeights(quiet, busy, $"{steps} steps");
    }

    /// <summary>6-5-3 with tanh, weights from a fixed seed.</summary>
    private static Sequential Network()
    {
        lock (typeof(TrainingOptimizerTests))
        {
            random.manual_seed(5);
            return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3));
        }
    }

    private static (List<Parameter> First, List<Parameter> Others) Split(Sequential network)
    {
        var all = network.parameters().ToList();
        return (all.Take(2).ToList(), all.Skip(2).ToList());
    }

    /// <summary>One step on a batch that depends only on <paramref name="step"/>: MSE against a fixed target.</summary>
    private static void TrainStep(Sequential network, int step, Action zeroGrad, Action optimizerStep)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)(1000 + step));
        var x = randn(new long[] { 8, 6 }, generator: generator);
        var target = randn(new long[] { 8, 3 }, generator: generator);
        zeroGrad();
        nn.functional.mse_loss(network.forward(x), target).backward();
        optimizerStep();
    }

    private static void AssertSameWeights(Sequential ours, Sequential theirs, string what)
    {
        var a = ours.parameters().ToList();
        var b = theirs.parameters().ToList();
        Assert.AreEqual(b.Count, a.Count, what);
        for (int p = 0; p < a.Count; p++)
        {
            var x = Runtime.TensorSpans.ToArray<float>(a[p].detach());
            var y = Runtime.TensorSpans.ToArray<float>(b[p].detach());
            for (int i = 0; i < x.Length; i++)
                Assert.AreEqual(BitConverter.SingleToInt32Bits(y[i]), BitConverter.SingleToInt32Bits(x[i]), $"{what}: parameter {p}, value {i}: {x[i]:R} against {y[i]:R}");
        }
    }
}
