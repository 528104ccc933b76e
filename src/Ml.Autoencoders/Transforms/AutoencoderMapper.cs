using Microsoft.ML.Data;
using Ml.Autoencoders.Models;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// The autoencoder's columns as a batch mapper: the output kinds chosen in <see cref="AutoencoderOptions.Outputs"/>,
/// one forward pass per batch that fills only the active ones. The shared pipeline (<see cref="MappedDataView"/>,
/// <see cref="MappedRowMapper"/>) does the rest, as for the downstream stages.
/// </summary>
internal sealed class AutoencoderMapper : IBatchMapper
{
    private readonly AutoencoderTransformer parent;
    private readonly AutoencoderOutputs[] kinds;
    private readonly bool tokens;

    public AutoencoderMapper(AutoencoderTransformer parent, AutoencoderOptions options, NativeLifetime lifetime)
    {
        this.parent = parent;
        Lifetime = lifetime;
        int d = parent.InputSize, k = parent.Model.LatentDimension;
        var columns = AutoencoderTransformer.OutputColumns(options.Outputs, options).ToArray();
        kinds = columns.Select(c => c.Kind).ToArray();
        // A token body reconstructs a token sequence: keys of the input's key type (with its key values), any length.
        if (options.Body?.TokenSlots is not null) InputKeyCount = options.Body.TokenVocabulary;
        tokens = InputKeyCount is not null;
        Columns = columns.Select(c => tokens && c.Kind == AutoencoderOutputs.Reconstruction
            ? new MappedColumn(c.Name, new VectorDataViewType(new KeyDataViewType(typeof(uint), (ulong)InputKeyCount!.Value)), Slots: d, KeyValuesFromInput: true)
            : new MappedColumn(c.Name, c.IsVector
                ? new VectorDataViewType(NumberDataViewType.Single, c.Kind == AutoencoderOutputs.Reconstruction ? d : k)
                : NumberDataViewType.Single)).ToArray();
    }

    /// <inheritdoc />
    public int? InputKeyCount { get; }

    public string InputColumnName => parent.InputColumnName;

    public int InputSize => parent.InputSize;

    public int BatchSize => parent.TransformBatchSize;

    public string Consumer => "the autoencoder";

    public IReadOnlyList<MappedColumn> Columns { get; }

    public bool NativeInputs => true;

    public NativeLifetime Lifetime { get; }

    public void Map(ReadOnlySpan<float> inputs, int rows, long firstRow, MappedBatch batch)
    {
        var outputs = new AutoencoderModel.RunOutputs { FirstRow = firstRow };
        int keyColumn = -1;
        for (int c = 0; c < kinds.Length; c++)
        {
            if (!batch.IsActive(c)) continue;
            bool keys = tokens && kinds[c] == AutoencoderOutputs.Reconstruction;
            if (keys) keyColumn = c;
            // Token keys are decoded as floats into the batch's work area, then written as keys below.
            var values = keys ? batch.Scratch(rows * Columns[c].Width).AsSpan(0, rows * Columns[c].Width) : batch.Floats(c)[..(rows * Columns[c].Width)];
            switch (kinds[c])
            {
                case AutoencoderOutputs.LatentCode: outputs.Latent = values; break;
                case AutoencoderOutputs.LatentLogVariance: outputs.LogVariance = values; break;
                case AutoencoderOutputs.SampledLatentCode: outputs.Sampled = values; break;
                case AutoencoderOutputs.Reconstruction: outputs.Reconstruction = values; break;
                case AutoencoderOutputs.ReconstructionError: outputs.Error = values; break;
            }
        }
        if (!batch.HasInputTensor)
        {
            parent.Model.Run(inputs, rows, outputs);
        }
        else
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            parent.Model.RunCore(batch.InputTensor(rows)!, outputs);
        }
        if (keyColumn >= 0)
        {
            var decoded = outputs.Reconstruction;
            var keys = batch.Keys(keyColumn);
            for (int i = 0; i < decoded.Length; i++) keys[i] = (uint)decoded[i];
        }
    }
}
