using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Pipeline;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Persistence;
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
    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer (signatures are 8 characters for the model, at most 24 for the loader).</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(TsneTransformer), "MLAETSNE", "MlAutoencodersTsne", "Tsne.bin", "t-SNE transform",
        (t, s) => ((TsneTransformer)t).Save(s), s => Load(s));

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    private static readonly byte[] Magic = "MLAETSNE"u8.ToArray();
    private const int FormatVersion = 1;

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
    /// Writes the transformer to a stream. Layout (little-endian): magic "MLAETSNE", format version, column names, options,
    /// KL, method, rows, features, embedding (float64), training rows (float32), then a SHA-256 of all before it.
    /// </summary>
    public override void Save(Stream stream) => TransformerFile.WriteChecked(stream, Magic, w =>
    {
        w.Write(FormatVersion);
        w.Write(options.InputColumnName);
        w.Write(options.OutputColumnName);
        w.Write(options.Dimensions);
        w.Write(options.Perplexity);
        w.Write(options.EarlyExaggeration);
        w.Write(options.EarlyExaggerationIterations);
        w.Write(options.Iterations);
        w.Write(options.LearningRate ?? double.NaN);
        w.Write((int)options.Initialization);
        w.Write(options.Seed);
        w.Write((int)options.Method);
        w.Write(options.ExactMaximumRows);
        w.Write(options.Theta);
        w.Write(options.TransformPerplexity);
        w.Write(options.TransformIterations);
        w.Write(options.TransformBatchSize);
        w.Write(KlDivergence);
        w.Write((int)Method);
        w.Write(index.Count);
        w.Write(index.Features);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(embedding.AsSpan()));
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(index.CopyRows().AsSpan()));
    });

    /// <summary>Loads a transformer written by <see cref="BatchTransformer.Save(string)"/>; the neighbour search runs on <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file is damaged, truncated or not a t-SNE model.</exception>
    public static TsneTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, device);
    }

    /// <summary>Loads a transformer written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a t-SNE model.</exception>
    public static TsneTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.ReadChecked(stream, Magic, "t-SNE model", r =>
        {
            int version = r.ReadInt32();
            if (version != FormatVersion) throw new AutoencoderModelFormatException($"t-SNE model format version {version} is not supported (this library reads {FormatVersion}).");
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
            long remaining = r.BaseStream.Length - r.BaseStream.Position;
            if ((Int128)n * (8L * options.Dimensions + 4L * features) != remaining) // up to 2^65: Int128 cannot wrap
                throw new AutoencoderModelFormatException($"The t-SNE model claims {n} rows of {features} features in {options.Dimensions} dimensions; it holds {remaining} bytes for them.");
            var embedding = TransformerFile.ReadArray<double>(r, (long)n * options.Dimensions, "t-SNE model");
            var rows = TransformerFile.ReadArray<float>(r, (long)n * features, "t-SNE model");
            if (embedding.Any(v => !double.IsFinite(v)) || Pipeline.VectorColumn.IndexOfNonFinite(rows) >= 0)
                throw new AutoencoderModelFormatException("The t-SNE model holds a non-finite value.");
            var index = new NearestNeighborIndex(rows, n, features, NeighborMetric.Euclidean, TorchRuntime.Resolve(device), prepared: true);
            return new TsneTransformer(options, index, embedding, kl, method);
        });

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
