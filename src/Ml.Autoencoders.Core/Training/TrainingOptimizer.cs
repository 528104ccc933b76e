using Ml.Autoencoders.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Training;

/// <summary>
/// Adam, AdamW and SGD with momentum, operation for operation as TorchSharp 0.107's <c>optim.Adam</c>, <c>optim.AdamW</c>
/// and <c>optim.SGD</c> compute them (so a fit gives the same weights, bit for bit), but with every number handed to
/// libtorch as a <see cref="Scalar"/> that stays alive through the native call. TorchSharp's optimizers pass numbers
/// (<c>mul_(beta1)</c>, <c>add_(grad, alpha: 1 - beta1)</c>, ...) as Scalars made per call that nothing references, so
/// a garbage collection on another thread during a step can free one while libtorch reads it: under a thread collecting
/// garbage in a loop, <c>optim.Adam</c>'s step failed within a second ("Unknown scalar type"). See <see cref="Scalars"/>.
/// </summary>
internal sealed class TrainingOptimizer : IDisposable
{
    // TorchSharp's defaults, which the library never changed.
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8, Dampening = 0;
    private static readonly Scalar Beta1Scalar = Beta1.ToScalar(), OneMinusBeta1 = (1 - Beta1).ToScalar();
    private static readonly Scalar Beta2Scalar = Beta2.ToScalar(), OneMinusBeta2 = (1 - Beta2).ToScalar();
    private static readonly Scalar EpsilonScalar = Epsilon.ToScalar(), OneMinusDampening = (1 - Dampening).ToScalar();

    private readonly OptimizerKind kind;
    private readonly double weightDecay, momentum;
    private readonly Scalar decay, keep; // weightDecay and momentum, held for the optimizer's life
    private readonly List<Group> groups;

    private TrainingOptimizer(OptimizerKind kind, IEnumerable<(IEnumerable<Parameter> Parameters, double LearningRate)> groups, double weightDecay, double momentum)
    {
        this.kind = kind;
        this.weightDecay = weightDecay;
        this.momentum = momentum;
        decay = weightDecay.ToScalar();
        keep = momentum.ToScalar();
        this.groups = groups.Select(g => new Group(g.Parameters.ToList(), g.LearningRate, kind)).ToList();
    }

    /// <summary>An optimizer over one group of parameters.</summary>
    public static TrainingOptimizer Create(OptimizerKind kind, IEnumerable<Parameter> parameters, double learningRate, double weightDecay = 0, double momentum = 0) =>
        Create(kind, new[] { (parameters, learningRate) }, weightDecay, momentum);

    /// <summary>An optimizer over groups of parameters, each with its learning rate.</summary>
    public static TrainingOptimizer Create(OptimizerKind kind, IEnumerable<(IEnumerable<Parameter> Parameters, double LearningRate)> groups, double weightDecay = 0, double momentum = 0)
    {
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer.");
        return new TrainingOptimizer(kind, groups, weightDecay, momentum);
    }

    /// <summary>The parameter groups; their learning rates may change between steps.</summary>
    public IReadOnlyList<Group> Groups => groups;

    /// <summary>Zeroes every parameter's gradient, as TorchSharp's <c>zero_grad</c> does.</summary>
    public void ZeroGrad()
    {
        foreach (var group in groups)
            foreach (var parameter in group.Parameters)
            {
                using var grad = parameter.grad;
                grad?.zero_();
            }
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var numbers = new StepNumbers();
        foreach (var group in groups)
        {
            for (int i = 0; i < group.Parameters.Count; i++)
            {
                var parameter = group.Parameters[i];
                var grad = parameter.grad;
                if (grad is null) continue;
                var state = group.States[i];
                switch (kind)
                {
                    case OptimizerKind.Adam:
                    case OptimizerKind.AdamW:
                        Adam(parameter, grad, state, group.LearningRate, decoupled: kind == OptimizerKind.AdamW, numbers);
                        break;
                    default:
                        Sgd(parameter, grad, state, group.LearningRate, numbers);
                        break;
                }
            }
        }
    }

    /// <summary>TorchSharp's Adam step (decoupled: AdamW's), amsgrad and maximize off.</summary>
    private void Adam(Parameter parameter, Tensor grad, State state, double learningRate, bool decoupled, StepNumbers numbers)
    {
        state.Step += 1;
        if (decoupled) parameter.mul_(numbers.Of(1 - learningRate * weightDecay));
        double biasCorrection1 = 1 - Math.Pow(Beta1, state.Step);
        double biasCorrection2 = 1 - Math.Pow(Beta2, state.Step);
        if (!decoupled && weightDecay != 0) grad = grad.add(parameter, decay);
        state.Average!.mul_(Beta1Scalar).add_(grad, OneMinusBeta1);
        state.SquaredAverage!.mul_(Beta2Scalar).addcmul_(grad, decoupled ? grad : grad.conj(), OneMinusBeta2);
        var denominator = state.SquaredAverage.sqrt().div(numbers.Of(Math.Sqrt(biasCorrection2))).add_(EpsilonScalar, Scalars.One);
        parameter.addcdiv_(state.Average, denominator, numbers.Of(-(learningRate / biasCorrection1)));
    }

    /// <summary>TorchSharp's SGD step with momentum (dampening 0, no Nesterov, no maximize).</summary>
    private void Sgd(Parameter parameter, Tensor grad, State state, double learningRate, StepNumbers numbers)
    {
        if (weightDecay != 0) grad = grad.add(parameter, decay);
        if (momentum != 0)
        {
            if (state.Momentum is null) state.Momentum = grad.clone().detach().DetachFromDisposeScope();
            else state.Momentum.mul_(keep).add_(grad, OneMinusDampening);
            grad = state.Momentum;
        }
        parameter.add_(grad, numbers.Of(-learningRate));
    }

    /// <summary>
    /// The numbers of one step that depend on the learning rate or the step count, each made into a Scalar once per step
    /// (parameters usually share them) and freed after the step, when libtorch no longer reads them.
    /// </summary>
    private sealed class StepNumbers : IDisposable
    {
        private readonly Dictionary<long, Scalar> made = new(); // keyed by the value's bits: 0.0 and -0.0 stay apart

        public Scalar Of(double value)
        {
            long bits = BitConverter.DoubleToInt64Bits(value);
            if (!made.TryGetValue(bits, out var scalar)) made[bits] = scalar = value.ToScalar();
            return scalar;
        }

        public void Dispose()
        {
            foreach (var scalar in made.Values) scalar.Dispose();
        }
    }

    /// <summary>Frees the optimizer's state tensors.</summary>
    public void Dispose()
    {
        foreach (var group in groups)
            foreach (var state in group.States) state.Dispose();
        decay.Dispose();
        keep.Dispose();
    }

    /// <summary>Parameters sharing a learning rate, and their optimizer state.</summary>
    public sealed class Group
    {
        internal Group(List<Parameter> parameters, double learningRate, OptimizerKind kind)
        {
            Parameters = parameters;
            LearningRate = learningRate;
            States = parameters.Select(p => new State(p, kind)).ToArray();
        }

        /// <summary>The parameters.</summary>
        public IReadOnlyList<Parameter> Parameters { get; }

        /// <summary>The learning rate of the next step.</summary>
        public double LearningRate { get; set; }

        internal State[] States { get; }
    }

    /// <summary>One parameter's state: Adam's step count and moving averages (made at once, like TorchSharp), SGD's momentum buffer.</summary>
    internal sealed class State : IDisposable
    {
        public State(Parameter parameter, OptimizerKind kind)
        {
            if (kind == OptimizerKind.Sgd) return;
            Average = zeros_like(parameter).DetachFromDisposeScope();
            SquaredAverage = zeros_like(parameter).DetachFromDisposeScope();
        }

        public long Step;
        public Tensor? Average, SquaredAverage, Momentum;

        public void Dispose()
        {
            Average?.Dispose();
            SquaredAverage?.Dispose();
            Momentum?.Dispose();
        }
    }
}
