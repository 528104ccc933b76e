namespace Ml.Autoencoders.Embedding;

/// <summary>
/// Thrown when a t-SNE optimisation stops being finite: a coordinate of the embedding, or its KL divergence, became NaN
/// or infinite (usually a learning rate far too large for the row count). Fit returns nothing in that case: a NaN
/// embedding is never handed over or saved.
/// </summary>
public sealed class TsneDivergedException : InvalidOperationException
{
    internal TsneDivergedException(int iteration, int iterations, double learningRate, string what)
        : base($"t-SNE diverged: {what} at iteration {iteration} of {iterations} (learning rate {learningRate:G3}). " +
               "Lower LearningRate (or leave it null for the automatic max(rows / EarlyExaggeration, 200)), or lower EarlyExaggeration.")
    {
        Iteration = iteration;
        LearningRate = learningRate;
    }

    /// <summary>One-based iteration after which the embedding (or its KL divergence) was found non-finite.</summary>
    public int Iteration { get; }

    /// <summary>The step size the optimisation ran with.</summary>
    public double LearningRate { get; }
}
