using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Transforms;

/// <summary>What one checked pass over the training data found, and the data to train on.</summary>
internal sealed class PreparedData : IDisposable
{
    public required ITrainingData Train { get; init; }
    public ITrainingData? Validation { get; init; }
    public long TrainRows { get; init; }
    public float Min { get; init; }
    public float Max { get; init; }

    public void Dispose()
    {
        (Train as IDisposable)?.Dispose();
        (Validation as IDisposable)?.Dispose();
    }
}

/// <summary>
/// One pass over the training (and validation) data: checks every row, finds the value range, splits
/// off validation rows, and caches the rows in one native buffer when allowed (see <see cref="DataCaching"/>).
/// </summary>
internal static class TrainingDataPreparation
{
    /// <param name="trainData">The rows to train on.</param>
    /// <param name="validationData">Separate validation rows, or null.</param>
    /// <param name="size">Values per row.</param>
    /// <param name="options">The estimator's options.</param>
    /// <param name="device">Where the cached rows go.</param>
    /// <param name="role">What <paramref name="trainData"/> is, in errors ("The training data has no rows ...").</param>
    public static PreparedData Prepare(IDataView trainData, IDataView? validationData, int size, AutoencoderOptions options, Device device, string role = "The training data")
    {
        var token = options.CancellationToken;
        string column = options.InputColumnName;
        bool split = validationData is null && options.ValidationFraction > 0;
        bool mayCache = options.Caching != DataCaching.Stream;
        long limit = options.Caching == DataCaching.Memory ? long.MaxValue : options.MaxCacheBytes;

        long? known = trainData.GetRowCount();
        if (known is { } announced && announced * size * (long)sizeof(float) > limit) mayCache = false; // it cannot fit: stream from the start
        IRowCache trainRows, heldOut;
        if (mayCache && known is { } n && n * size * (long)sizeof(float) <= limit)
        {
            // The split depends on the row index and seed only, so both sizes are known before the pass.
            long nHeldOut = 0;
            if (split) for (long r = 0; r < n; r++) if (ValidationSplit.IsValidation(r, options.FitSeed, options.ValidationFraction)) nHeldOut++;
            trainRows = new NativeRows(size, n - nHeldOut);
            heldOut = new NativeRows(size, nHeldOut);
        }
        else
        {
            trainRows = new RowBlocks(size);
            heldOut = new RowBlocks(size);
        }
        long nTrain = 0, nValid = 0;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        var source = new DataViewRows(trainData, column, size);
        ITrainingData? train = null, validation = null;
        try
        {
            foreach (var (row, values) in source.Read(token))
            {
                var span = values.Span;
                var (rowMin, rowMax) = VectorColumn.Range(span);
                min = Math.Min(min, rowMin);
                max = Math.Max(max, rowMax);
                bool isValidation = split && ValidationSplit.IsValidation(row, options.FitSeed, options.ValidationFraction);
                if (isValidation) nValid++; else nTrain++;
                if (!mayCache) continue;
                (isValidation ? heldOut : trainRows).Add(span);
                if (trainRows.Bytes + heldOut.Bytes > limit)
                {
                    mayCache = false;
                    trainRows.Clear();
                    heldOut.Clear();
                    GC.Collect(); // up to MaxCacheBytes just became garbage: give it back before streaming
                }
            }
            if (!mayCache)
            {
                trainRows.Clear();
                heldOut.Clear();
            }
            if (nTrain + nValid == 0)
                throw new AutoencoderDataException(column, null, $"{role} has no rows in column '{column}'.");
            if (nTrain == 0)
                throw new AutoencoderDataException(column, null, $"ValidationFraction {options.ValidationFraction} left no training rows out of {nValid}.");
            if (split && nValid == 0)
                throw new AutoencoderDataException(column, null, $"ValidationFraction {options.ValidationFraction} chose no validation row out of {nTrain}; raise it or pass ValidationData.");

            if (mayCache)
            {
                train = new InMemoryTrainingData(ToDevice(trainRows.ToTensor(), device));
                validation = split ? new InMemoryTrainingData(ToDevice(heldOut.ToTensor(), device)) : null;
                if (!split) heldOut.Clear();
            }
            else
            {
                CheckStreamingArrays(size, Math.Max(nTrain, nValid), options);
                int seed = options.FitSeed;
                double fraction = split ? options.ValidationFraction : 0;
                // The validation split is keyed by row position, so with a split the source is always read in its own order.
                train = split
                    ? new StreamingTrainingData(size, (t, _) => Filter(source, t, r => !ValidationSplit.IsValidation(r, seed, fraction)), options.ShuffleBufferRows, nTrain)
                    : new StreamingTrainingData(size, (t, order) => source.Read(t, order).Select(r => r.Values), options.ShuffleBufferRows, nTrain);
                validation = split ? new StreamingTrainingData(size, (t, _) => Filter(source, t, r => ValidationSplit.IsValidation(r, seed, fraction)), options.ShuffleBufferRows, nValid) : null;
            }

            if (validationData is not null)
            {
                int validationSize;
                try
                {
                    (_, validationSize) = VectorColumn.Check(validationData.Schema, column, size);
                }
                catch (AutoencoderSchemaException e)
                {
                    throw new AutoencoderSchemaException(column, "ValidationData: " + e.Message, nameof(AutoencoderOptions.ValidationData));
                }
                var validationOptions = options.Clone();
                validationOptions.ValidationFraction = 0;
                validationOptions.Caching = mayCache ? DataCaching.Auto : DataCaching.Stream;
                validation = Prepare(validationData, null, validationSize, validationOptions, device, $"The validation data ({nameof(AutoencoderOptions.ValidationData)})").Train;
            }
        }
        catch
        {
            // Nothing half-built outlives a failed pass (a bad row, cancellation, bad validation data).
            trainRows.Clear();
            heldOut.Clear();
            (train as IDisposable)?.Dispose();
            (validation as IDisposable)?.Dispose();
            throw;
        }

        return new PreparedData
        {
            Train = train,
            Validation = validation,
            TrainRows = nTrain,
            Min = min,
            Max = max,
        };
    }

    /// <summary>
    /// A streamed pass holds one batch and the shuffle buffer in managed arrays (at most as many rows as the data has):
    /// refuses, naming the option, sizes no array can hold.
    /// </summary>
    private static void CheckStreamingArrays(int size, long rows, AutoencoderOptions options)
    {
        var (batch, buffer) = StreamingTrainingData.Floats(size, options.BatchSize, options.ShuffleBufferRows, rows);
        if (batch > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(AutoencoderOptions.BatchSize), options.BatchSize,
                $"{nameof(AutoencoderOptions.BatchSize)} = {options.BatchSize}: a streamed batch of {Math.Min(options.BatchSize, rows)} rows of {size} values (the data has {rows} rows) is {batch} floats, more than one array holds ({Array.MaxLength}). Use a smaller batch.");
        if (options.Shuffle && buffer > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(AutoencoderOptions.ShuffleBufferRows), options.ShuffleBufferRows,
                $"{nameof(AutoencoderOptions.ShuffleBufferRows)} = {options.ShuffleBufferRows}: a shuffle buffer of {Math.Min(options.ShuffleBufferRows, rows)} rows of {size} values (the data has {rows} rows) is {buffer} floats, more than one array holds ({Array.MaxLength}). Use a smaller buffer.");
    }

    private static IEnumerable<ReadOnlyMemory<float>> Filter(DataViewRows source, CancellationToken token, Func<long, bool> keep)
    {
        foreach (var (row, values) in source.Read(token))
            if (keep(row)) yield return values;
    }

    private static Tensor ToDevice(Tensor cpu, Device device)
    {
        if (device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }
}
