using static TorchSharp.torch;

namespace Ml.Autoencoders.Data;

/// <summary>Training rows (and, for supervised training, their labels) served as batches, one epoch per call.</summary>
internal interface ITrainingData
{
    int FeatureCount { get; }

    /// <summary>
    /// The batches of one epoch, each a [rows, features] float tensor on <paramref name="device"/> (with the rows'
    /// labels when the data has them). The caller owns and disposes each batch.
    /// </summary>
    IEnumerable<TrainingBatch> Batches(int batchSize, Random? shuffle, Device device, CancellationToken cancellation);
}
