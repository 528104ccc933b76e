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
    /// <summary>Cosine annealing from the learning rate down to the minimum learning rate at the last epoch.</summary>
    Cosine,
    /// <summary>Multiplied by the step factor every step-size epochs.</summary>
    Step,
}
