using System.Text.Json;
using System.Text.Json.Serialization;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Training;

/// <summary>
/// The JSON of the library's files (checkpoints, and the base of model headers): enums by name, every collection
/// bounded while it is read, and the training history's entries. A body whose options hold lists adds their bounded
/// converters where its header is read (the model file adds the convolutional layer lists).
/// </summary>
internal static class TrainingJson
{
    internal const int MaxWidth = 1 << 24;
    internal const int MaxLayers = 64;
    internal const int MaxEpochs = 1_000_000;
    internal const int MaxTerms = 2 * MaxLayers;

    internal static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        Converters =
        {
            new JsonStringEnumConverter(),
            // Every collection a header holds is bounded while it is read, so a small header cannot make the reader
            // build millions of objects before a count is checked (16 MB of "{}," would otherwise be 5 million entries).
            new BoundedArray<int>(MaxLayers), new BoundedArray<Activation>(MaxLayers), new BoundedArray<long>(4),
            new BoundedArray<EpochEntry>(MaxEpochs), new BoundedArray<StageEntry>(MaxLayers), new BoundedArray<TensorEntry>(8 * MaxLayers),
            new BoundedList<Objectives.AutoencoderPenalty>(MaxLayers),
            new BoundedTerms(MaxTerms),
        },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    internal static EpochEntry[] Entries(TrainingHistory history) => history.Epochs
        .Select(e => new EpochEntry(e.Epoch, e.TrainLoss, e.ValidationLoss, e.LearningRate, e.Duration.Ticks, e.Rows)
        {
            Terms = e.Terms.Count > 0 ? new Dictionary<string, double>(e.Terms) : null,
            ValidationTerms = e.ValidationTerms.Count > 0 ? new Dictionary<string, double>(e.ValidationTerms) : null,
            PretrainingStage = e.PretrainingStage,
        }).ToArray();

    internal static TrainingHistory History(EpochEntry[] entries, int bestEpoch, bool stoppedEarly, bool restoredBest) => new(
        entries.Select(e => new EpochRecord(e.Epoch, e.TrainLoss, e.ValidationLoss, e.LearningRate, TimeSpan.FromTicks(Math.Max(0, e.DurationTicks)), e.Rows)
        {
            Terms = e.Terms ?? EpochRecord.NoTerms,
            ValidationTerms = e.ValidationTerms ?? EpochRecord.NoTerms,
            PretrainingStage = e.PretrainingStage,
        }).ToArray(),
        bestEpoch, stoppedEarly, restoredBest);

    // Members the writer always writes are required, so an entry costs a reader at least its ~90 bytes of JSON.
    internal sealed record EpochEntry(
        [property: JsonRequired] int Epoch,
        [property: JsonRequired] double TrainLoss,
        [property: JsonRequired] double? ValidationLoss,
        [property: JsonRequired] double LearningRate,
        [property: JsonRequired] long DurationTicks,
        [property: JsonRequired] long Rows)
    {
        public Dictionary<string, double>? Terms { get; init; }
        public Dictionary<string, double>? ValidationTerms { get; init; }
        public int? PretrainingStage { get; init; }
    }

    internal sealed record StageEntry(
        [property: JsonRequired] EpochEntry[]? Epochs,
        [property: JsonRequired] int BestEpoch,
        [property: JsonRequired] bool StoppedEarly,
        [property: JsonRequired] bool RestoredBestWeights);

    /// <summary>One stored tensor: its name and shape.</summary>
    internal sealed record TensorEntry([property: JsonRequired] string? Name, [property: JsonRequired] long[]? Shape);
}
