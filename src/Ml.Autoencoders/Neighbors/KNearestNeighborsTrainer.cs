using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;

namespace Ml.Autoencoders.Neighbors;

/// <summary>
/// The k-nearest-neighbours multiclass classifier: <see cref="Fit"/> stores the training rows (a known-size float
/// vector column, any features: raw pixels, PCA, latent codes) with their key-typed labels; prediction finds each
/// row's k nearest training rows exactly, as batched matrix products with a top-k on TorchSharp (CPU or GPU, a chunk
/// of query rows at a time, never a per-row loop), and lets them vote.
/// </summary>
/// <remarks>
/// <para>Create it with <c>mlContext.MulticlassClassification.Trainers.KNearestNeighbors(...)</c>. The output has ML.NET's
/// multiclass columns: <c>Score</c> (vote shares, one per class) and <c>PredictedLabel</c> (a key carrying the label's
/// key values), so <c>mlContext.MulticlassClassification.Evaluate</c> and <c>MapKeyToValue</c> work on it.</para>
/// <para>An <see cref="IEstimator{TTransformer}"/> rather than an <c>ITrainerEstimator</c>: ML.NET 5.0.1 keeps the
/// constructor of <c>TrainerInfo</c> internal. The fitted transformer is an
/// <see cref="ISingleFeaturePredictionTransformer{TModel}"/>, like ML.NET's trainers produce.</para>
/// <para>Tie-breaking and distances: see <see cref="KNearestNeighborsModel"/>. Memory while predicting: the training rows
/// plus <see cref="Options.BatchSize"/> x training rows distances per chunk.</para>
/// </remarks>
public sealed class KNearestNeighborsTrainer : IEstimator<KNearestNeighborsPredictionTransformer>
{
    private readonly Options options;

    /// <summary>Default values of <see cref="Options"/>, shared by the catalog overloads.</summary>
    public static class Defaults
    {
        /// <summary>Neighbours that vote: 5 (scikit-learn's default).</summary>
        public const int NumberOfNeighbors = 5;

        /// <summary>Query rows per matrix product: 1024.</summary>
        public const int BatchSize = 1024;
    }

    /// <summary>Every knob of the trainer.</summary>
    public sealed class Options
    {
        /// <summary>The label column: a key type (use <c>MapValueToKey</c>). Default "Label".</summary>
        public string LabelColumnName { get; set; } = DefaultColumnNames.Label;

        /// <summary>The feature column: a known-size vector of <see cref="float"/>. Default "Features".</summary>
        public string FeatureColumnName { get; set; } = DefaultColumnNames.Features;

        /// <summary>Name of the appended score column. Default "Score".</summary>
        public string ScoreColumnName { get; set; } = DefaultColumnNames.Score;

        /// <summary>Name of the appended predicted-label column. Default "PredictedLabel".</summary>
        public string PredictedLabelColumnName { get; set; } = DefaultColumnNames.PredictedLabel;

        /// <summary>Neighbours that vote (k). Default <see cref="Defaults.NumberOfNeighbors"/>.</summary>
        public int NumberOfNeighbors { get; set; } = Defaults.NumberOfNeighbors;

        /// <summary>The distance. Default Euclidean.</summary>
        public NeighborMetric Metric { get; set; } = NeighborMetric.Euclidean;

        /// <summary>How neighbours vote. Default uniform.</summary>
        public NeighborWeighting Weighting { get; set; } = NeighborWeighting.Uniform;

        /// <summary>Query rows per matrix product (bounds memory: BatchSize x training rows distances). Default <see cref="Defaults.BatchSize"/>.</summary>
        public int BatchSize { get; set; } = Defaults.BatchSize;

        /// <summary>Where the training rows live and the products run. Default: CUDA when available, else the CPU.</summary>
        public ComputeDevice Device { get; set; } = ComputeDevice.Auto;

        /// <summary>
        /// Threads for the neighbour searches of the fitted model (<see cref="KNearestNeighborsModel.Threads"/>): the
        /// managed loops use at most this many and TorchSharp's count is set for each search and restored after it; 0 (the
        /// default) leaves both at their defaults. At most <see cref="Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore"/>
        /// per core of this machine.
        /// </summary>
        public int Threads { get; set; }
    }

    internal KNearestNeighborsTrainer(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.NumberOfNeighbors < 1) throw new ArgumentOutOfRangeException(nameof(options), options.NumberOfNeighbors, "NumberOfNeighbors must be at least 1.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1.");
        TorchThreads.Check(options.Threads, nameof(options.Threads), Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore);
        if (!Enum.IsDefined(options.Metric)) throw new ArgumentOutOfRangeException(nameof(options), options.Metric, "Unknown metric.");
        if (!Enum.IsDefined(options.Weighting)) throw new ArgumentOutOfRangeException(nameof(options), options.Weighting, "Unknown weighting.");
        foreach (var (name, value) in new[] { ("LabelColumnName", options.LabelColumnName), ("FeatureColumnName", options.FeatureColumnName), ("ScoreColumnName", options.ScoreColumnName), ("PredictedLabelColumnName", options.PredictedLabelColumnName) })
            if (string.IsNullOrEmpty(value)) throw new ArgumentException($"{name} must name a column.", nameof(options));
        this.options = new Options
        {
            LabelColumnName = options.LabelColumnName, FeatureColumnName = options.FeatureColumnName, ScoreColumnName = options.ScoreColumnName,
            PredictedLabelColumnName = options.PredictedLabelColumnName, NumberOfNeighbors = options.NumberOfNeighbors, Metric = options.Metric,
            Weighting = options.Weighting, BatchSize = options.BatchSize, Device = options.Device, Threads = options.Threads,
        };
    }

    /// <summary>Reads the training rows and labels once and builds the classifier.</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing or of the wrong type.</exception>
    /// <exception cref="AutoencoderDataException">A feature value is NaN or infinite (names the row), there are fewer labelled rows than k.</exception>
    public KNearestNeighborsPredictionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var data = LabelledRows.Read(input, options.FeatureColumnName, options.LabelColumnName, "the k-NN classifier");
        int count = data.Count, features = data.Features, classes = data.ClassCount;
        long skipped = data.SkippedRows;
        if (count < options.NumberOfNeighbors)
            throw new AutoencoderDataException(options.LabelColumnName, null,
                $"The k-NN classifier needs at least NumberOfNeighbors = {options.NumberOfNeighbors} labelled rows; column '{options.LabelColumnName}' has {count}" +
                (skipped > 0 ? $" ({skipped} rows with a missing label were left out)." : "."));
        var all = data.Rows;
        var labelColumn = data.LabelColumn;
        var index = new NearestNeighborIndex(all, count, features, options.Metric, TorchRuntime.Resolve(options.Device));
        var model = new KNearestNeighborsModel(index, data.Labels, classes, options.NumberOfNeighbors, options.Weighting,
            KeyValueNames.From(labelColumn, classes), skipped) { Threads = options.Threads };
        return new KNearestNeighborsPredictionTransformer(model, options.FeatureColumnName, options.ScoreColumnName, options.PredictedLabelColumnName, options.BatchSize);
    }

    /// <summary>Checks the columns before any work and describes the output: Score (float vector) and PredictedLabel (key).</summary>
    /// <exception cref="AutoencoderSchemaException">A column is missing or of the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        VectorColumn.Check(inputSchema, options.FeatureColumnName);
        var keyValues = LabelledRows.CheckLabel(inputSchema, options.LabelColumnName);
        return Pipeline.SchemaShapeColumns.Append(inputSchema,
            [Pipeline.SchemaShapeColumns.Vector(options.ScoreColumnName), Pipeline.SchemaShapeColumns.Key(options.PredictedLabelColumnName, keyValues)]);
    }
}
