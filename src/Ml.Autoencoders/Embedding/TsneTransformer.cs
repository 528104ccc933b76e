using Microsoft.ML.Data;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Embedding;

/// <summary>
/// A fitted t-SNE stage. <see cref="BatchTransformer.Transform"/> appends the coordinates (a vector of
/// <see cref="TsneOptions.Dimensions"/> floats), lazily, a batch of rows at a time.
/// </summary>
/// <remarks>
/// <para>A row identical to a training row gets that row's fitted coordinates, so <c>Fit(data).Transform(data)</c> is
/// the t-SNE of <c>data</c>. Any other row is placed against the fixed training embedding, as openTSNE does: its
/// affinities to its 3 x <see cref="TsneOptions.TransformPerplexity"/> nearest training rows, a start at their
/// affinity-weighted mean, then <see cref="TsneOptions.TransformIterations"/> gradient steps under attraction to them
/// and (Barnes-Hut) repulsion from every training point; new rows never move the training points or each other, so a
/// row's coordinates do not depend on the other rows transformed with it.</para>
/// <para>Not <see cref="IDisposable"/> (see <see cref="BatchTransformer"/>); <see cref="BatchTransformer.Release"/> frees the training rows' native memory.</para>
/// </remarks>
public sealed class TsneTransformer : BatchTransformer
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencodersTsne";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer (signatures are 8 characters for the model, at most 24 for the loader).</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(TsneTransformer), "MLAETSNE", LoaderSignature, "Tsne.bin", "t-SNE transform",
        (t, s) => ((TsneTransformer)t).Save(s), s => Load(s));

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    /// <summary>The t-SNE file as a kind of <see cref="ArtifactContainer"/>: version 2 written, version 1 (fields one by one) read.</summary>
    internal static readonly ArtifactKind Kind = new("t-SNE model", "MLAETSNE"u8.ToArray(), 2, new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.Fields });

    private readonly TsneOptions options;
    private readonly NearestNeighborIndex index;
    private readonly double[] embedding;
    private readonly Lazy<BarnesHutTsneRepulsion> tree;
    private readonly Mapper mapper;

    internal TsneTransformer(TsneOptions options, NearestNeighborIndex index, double[] embedding, double klDivergence, TsneGradientMethod method)
    {
        this.options = options.Clone();
        this.options.Progress = null;
        this.options.CancellationToken = default;
        this.options.CheckStop = null;
        this.index = index;
        this.embedding = embedding;
        KlDivergence = klDivergence;
        Method = method;
        tree = new Lazy<BarnesHutTsneRepulsion>(() =>
        {
            var t = new BarnesHutTsneRepulsion(this.options.Theta);
            t.Prepare(embedding, index.Count, this.options.Dimensions);
            return t;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
        mapper = new Mapper(this);
    }

    /// <summary>Rows placed per batch in cursors created from now on (initially <see cref="TsneOptions.TransformBatchSize"/>). Results do not depend on it.</summary>
    public int TransformBatchSize
    {
        get => options.TransformBatchSize;
        set => options.TransformBatchSize = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Expected at least one row per batch.");
    }

    /// <summary>A copy of the options the embedding was made with (without progress and cancellation).</summary>
    public TsneOptions Options => options.Clone();

    /// <summary>The gradient method Fit used.</summary>
    public TsneGradientMethod Method { get; }

    /// <summary>KL(P‖Q) of the final training embedding.</summary>
    public double KlDivergence { get; }

    /// <summary>Training rows embedded.</summary>
    public int TrainingRowCount => index.Count;

    /// <summary>Values per input row.</summary>
    public int InputSize => index.Features;

    /// <summary>The training rows' coordinates, row-major (rows x <see cref="TsneOptions.Dimensions"/>), in input order.</summary>
    public float[] GetTrainingEmbedding() => embedding.Select(v => (float)v).ToArray();

    /// <summary>Places rows (row-major, <see cref="InputSize"/> values each) as <see cref="BatchTransformer.Transform"/> does; returns rows x dimensions coordinates.</summary>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="BatchTransformer.Release"/>).</exception>
    public float[] Place(ReadOnlySpan<float> rows, int count)
    {
        mapper.Lifetime.ThrowIfReleased();
        if (rows.Length != (long)count * InputSize)
            throw new ArgumentException($"Expected {count} rows x {InputSize} values = {(long)count * InputSize}, got {rows.Length}.", nameof(rows));
        return TsneEmbedder.Place(index, embedding, rows, count, options, tree.Value);
    }

    /// <summary>
    /// Writes the transformer to a stream, in the library's container (magic "MLAETSNE", version 2): a JSON header (the
    /// options, KL, method, rows, features), then sections holding the embedding (float64) and the training rows
    /// (float32), then a SHA-256 of all before it.
    /// </summary>
    public override void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new FileHeader
        {
            Options = SavedOptions.From(options), KlDivergence = KlDivergence, Method = Method,
            TrainingRowCount = index.Count, FeatureCount = index.Features,
        };
        ArtifactContainer.Write(stream, Kind, ArtifactContainer.WriteHeader(header), [ArtifactContainer.Bytes(embedding), ArtifactContainer.Bytes(index.CopyRows())]);
    }

    /// <summary>Loads a transformer written by <see cref="BatchTransformer.Save(string)"/>; the neighbour search runs on <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not a t-SNE model.</exception>
    public static TsneTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.LoadFile(path, Kind, stream => Load(stream, device));

    /// <summary>Loads a transformer written by <see cref="Save(Stream)"/> (this version or the first).</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a t-SNE model.</exception>
    public static TsneTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.Load(ArtifactContainer.ReadAll(stream, Kind.Name), Kind, r => LoadFields(r, device), a => LoadContainer(a, device));

    private static TsneTransformer LoadContainer(Artifact artifact, ComputeDevice device)
    {
        var h = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind);
        var sections = artifact.Expect(2, Kind.Name);
        var saved = h.Options ?? throw new AutoencoderModelFormatException("the t-SNE model header lacks its Options.");
        var options = saved.ToOptions();
        TransformerFile.Name(options.InputColumnName, nameof(TsneOptions.InputColumnName), Kind.Name);
        TransformerFile.Name(options.OutputColumnName, nameof(TsneOptions.OutputColumnName), Kind.Name);
        Check(options, h.Method, h.TrainingRowCount, h.FeatureCount);
        var embedding = ArtifactContainer.Values<double>(sections[0], (long)h.TrainingRowCount * options.Dimensions, "the t-SNE model's embedding section");
        var rows = ArtifactContainer.Values<float>(sections[1], (long)h.TrainingRowCount * h.FeatureCount, "the t-SNE model's training-row section");
        return Create(options, embedding, rows, h.KlDivergence, h.Method, h.TrainingRowCount, h.FeatureCount, device);
    }

    private static void Check(TsneOptions options, TsneGradientMethod method, int n, int features)
    {
        try
        {
            options.Validate(n);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException($"Invalid options in the t-SNE model: {e.Message}", e);
        }
        if (!Enum.IsDefined(method) || features < 1)
            throw new AutoencoderModelFormatException($"Invalid t-SNE model header (method {method}, {features} features).");
    }

    private static TsneTransformer Create(TsneOptions options, double[] embedding, float[] rows, double kl, TsneGradientMethod method, int n, int features, ComputeDevice device)
    {
        if (embedding.Any(v => !double.IsFinite(v)) || Pipeline.VectorColumn.IndexOfNonFinite(rows) >= 0)
            throw new AutoencoderModelFormatException("The t-SNE model holds a non-finite value.");
        var index = new NearestNeighborIndex(rows, n, features, NeighborMetric.Euclidean, TorchRuntime.Resolve(device), prepared: true);
        return new TsneTransformer(options, index, embedding, kl, method);
    }

    /// <summary>Version 1: format version, column names, 14 option fields, KL, method, rows, features, embedding, rows, field by field.</summary>
    private static TsneTransformer LoadFields(BinaryReader r, ComputeDevice device)
    {
        r.ReadInt32(); // the version, checked by the container
        var options = new TsneOptions
        {
            InputColumnName = TransformerFile.ReadName(r),
            OutputColumnName = TransformerFile.ReadName(r),
            Dimensions = r.ReadInt32(),
            Perplexity = r.ReadDouble(),
            EarlyExaggeration = r.ReadDouble(),
            EarlyExaggerationIterations = r.ReadInt32(),
            Iterations = r.ReadInt32(),
            LearningRate = r.ReadDouble() is var lr && double.IsNaN(lr) ? null : lr,
            Initialization = (TsneInitialization)r.ReadInt32(),
            Seed = r.ReadInt32(),
            Method = (TsneGradientMethod)r.ReadInt32(),
            ExactMaximumRows = r.ReadInt32(),
            Theta = r.ReadDouble(),
            TransformPerplexity = r.ReadDouble(),
            TransformIterations = r.ReadInt32(),
            TransformBatchSize = r.ReadInt32(),
        };
        double kl = r.ReadDouble();
        var method = (TsneGradientMethod)r.ReadInt32();
        int n = r.ReadInt32(), features = r.ReadInt32();
        Check(options, method, n, features);
        long remaining = r.BaseStream.Length - r.BaseStream.Position;
        if ((Int128)n * (8L * options.Dimensions + 4L * features) != remaining) // up to 2^65: Int128 cannot wrap
            throw new AutoencoderModelFormatException($"The t-SNE model claims {n} rows of {features} features in {options.Dimensions} dimensions; it holds {remaining} bytes for them.");
        var embedding = TransformerFile.ReadArray<double>(r, (long)n * options.Dimensions, "t-SNE model");
        var rows = TransformerFile.ReadArray<float>(r, (long)n * features, "t-SNE model");
        return Create(options, embedding, rows, kl, method, n, features, device);
    }

    /// <summary>The JSON header of version 2.</summary>
    private sealed class FileHeader
    {
        public SavedOptions? Options { get; set; }
        public double KlDivergence { get; set; }
        public TsneGradientMethod Method { get; set; }
        public int TrainingRowCount { get; set; }
        public int FeatureCount { get; set; }
    }

    /// <summary>The options a fitted transformer keeps (threads, device and progress belong to a Fit, not to the model).</summary>
    private sealed class SavedOptions
    {
        public string? InputColumnName { get; set; }
        public string? OutputColumnName { get; set; }
        public int Dimensions { get; set; }
        public double Perplexity { get; set; }
        public double EarlyExaggeration { get; set; }
        public int EarlyExaggerationIterations { get; set; }
        public int Iterations { get; set; }
        public double? LearningRate { get; set; }
        public TsneInitialization Initialization { get; set; }
        public int Seed { get; set; }
        public TsneGradientMethod Method { get; set; }
        public int ExactMaximumRows { get; set; }
        public double Theta { get; set; }
        public double TransformPerplexity { get; set; }
        public int TransformIterations { get; set; }
        public int TransformBatchSize { get; set; }

        public static SavedOptions From(TsneOptions o) => new()
        {
            InputColumnName = o.InputColumnName, OutputColumnName = o.OutputColumnName, Dimensions = o.Dimensions, Perplexity = o.Perplexity,
            EarlyExaggeration = o.EarlyExaggeration, EarlyExaggerationIterations = o.EarlyExaggerationIterations, Iterations = o.Iterations,
            LearningRate = o.LearningRate, Initialization = o.Initialization, Seed = o.Seed ?? 0, Method = o.Method, ExactMaximumRows = o.ExactMaximumRows,
            Theta = o.Theta, TransformPerplexity = o.TransformPerplexity, TransformIterations = o.TransformIterations, TransformBatchSize = o.TransformBatchSize,
        };

        public TsneOptions ToOptions() => new()
        {
            InputColumnName = InputColumnName!, OutputColumnName = OutputColumnName!, Dimensions = Dimensions, Perplexity = Perplexity,
            EarlyExaggeration = EarlyExaggeration, EarlyExaggerationIterations = EarlyExaggerationIterations, Iterations = Iterations,
            LearningRate = LearningRate, Initialization = Initialization, Seed = Seed, Method = Method, ExactMaximumRows = ExactMaximumRows,
            Theta = Theta, TransformPerplexity = TransformPerplexity, TransformIterations = TransformIterations, TransformBatchSize = TransformBatchSize,
        };
    }

    private protected override IBatchMapper BatchMapper => mapper;

    /// <summary>Maps batches of rows to coordinates.</summary>
    private sealed class Mapper(TsneTransformer parent) : IBatchMapper
    {
        public string InputColumnName => parent.options.InputColumnName;

        public int InputSize => parent.index.Features;

        public int BatchSize => parent.options.TransformBatchSize;

        public string Consumer => "t-SNE";

        public NativeLifetime Lifetime { get; } = new(nameof(TsneTransformer), "Release()", parent.index.Dispose);

        public IReadOnlyList<MappedColumn> Columns { get; } =
            [new MappedColumn(parent.options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, parent.options.Dimensions))];

        public void Map(ReadOnlySpan<float> inputs, int rows, long firstRow, MappedBatch batch)
        {
            var placed = parent.Place(inputs, rows);
            placed.CopyTo(batch.Floats(0));
        }
    }
}
