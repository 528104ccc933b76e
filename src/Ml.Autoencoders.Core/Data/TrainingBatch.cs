using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Data;

/// <summary>
/// One batch the trainer loop hands to an objective: the [rows, features] float features and, for a supervised
/// objective, the [rows] int64 class indices of the same rows. Whoever receives a batch owns and disposes it.
/// </summary>
internal sealed class TrainingBatch : IDisposable
{
    public TrainingBatch(Tensor features, Tensor? labels = null)
    {
        if (labels is not null && (labels.dim() != 1 || labels.shape[0] != features.shape[0]))
            throw new ArgumentException($"Expected one label per row ({features.shape[0]}), got a tensor of shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        Features = features;
        Labels = labels;
    }

    /// <summary>The [rows, features] inputs.</summary>
    public Tensor Features { get; }

    /// <summary>The class index of each row (int64), or null for an unsupervised batch.</summary>
    public Tensor? Labels { get; }

    /// <summary>Rows in the batch.</summary>
    public long Rows => Features.shape[0];

    /// <summary>An unlabelled batch of these features (the autoencoder objectives need nothing else).</summary>
    public static implicit operator TrainingBatch(Tensor features) => new(features);

    /// <summary>Hands both tensors to <paramref name="scope"/>, which disposes them with its other temporaries.</summary>
    public void AttachTo(DisposeScope scope)
    {
        scope.Attach(Features);
        if (Labels is not null) scope.Attach(Labels);
    }

    public void Dispose()
    {
        Features.Dispose();
        Labels?.Dispose();
    }
}
