namespace Ml.Autoencoders.Training;

/// <summary>The optimizer that updates the weights.</summary>
public enum OptimizerKind
{
    /// <summary>Adam (Kingma and Ba); weight decay, if any, is added to the gradient (L2).</summary>
    Adam,
    /// <summary>Adam with decoupled weight decay (Loshchilov and Hutter).</summary>
    AdamW,
    /// <summary>Stochastic gradient descent with momentum (see <c>Momentum</c>).</summary>
    Sgd,
}

/// <summary>How the learning rate changes over the epochs.</summary>
public enum LearningRateSchedule
{
    /// <summary>The learning rate stays as given.</summary>
    Constant,
    /// <summary>
    /// Cosine annealing per epoch from the learning rate towards the minimum learning rate, reached after the last
    /// epoch: epoch e (0-based) of E uses min + (lr − min)·(1 + cos(π·e/E))/2, as PyTorch's CosineAnnealingLR with T_max = E.
    /// </summary>
    Cosine,
    /// <summary>Multiplied by the step factor every step-size epochs.</summary>
    Step,
}
