using static TorchSharp.torch;

namespace Ml.Autoencoders.Data;

/// <summary>
/// Another data source's batches passed through a frozen encoder prefix (no gradients): the inputs of a greedy
/// pretraining stage. Each batch is mapped as it is served, so nothing is cached twice and streaming still works.
/// </summary>
internal sealed class EncodedTrainingData : ITrainingData
{
    private readonly ITrainingData source;
    private readonly Func<Tensor, Tensor> encode;

    public EncodedTrainingData(ITrainingData source, int featureCount, Func<Tensor, Tensor> encode)
    {
        this.source = source;
        this.encode = encode;
        FeatureCount = featureCount;
    }

    public int FeatureCount { get; }

    public IEnumerable<TrainingBatch> Batches(int batchSize, Random? shuffle, Device device, CancellationToken cancellation)
    {
        foreach (var batch in source.Batches(batchSize, shuffle, device, cancellation))
        {
            Tensor mapped;
            // The scope closes before the yield: the consumer's own scopes must not nest inside this one.
            using (batch.Features)
            using (var scope = NewDisposeScope())
            using (no_grad())
                mapped = encode(batch.Features).MoveToOuterDisposeScope();
            yield return new TrainingBatch(mapped, batch.Labels); // the labels pass through with their rows
        }
    }
}
