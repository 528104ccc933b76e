using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Neighbors;

/// <summary>
/// A fitted k-nearest-neighbours classifier stage. <see cref="BatchTransformer.Transform"/> appends, lazily and a batch of rows at a
/// time, <c>Score</c> (a vector of <see cref="KNearestNeighborsModel.ClassCount"/> vote shares, slot names from the
/// label's key values) and <c>PredictedLabel</c> (a key of the label's type, carrying its key values), as ML.NET's
/// multiclass trainers do, so <c>mlContext.MulticlassClassification.Evaluate</c> and <c>MapKeyToValue</c> work on it.
/// </summary>
/// <remarks>Not <see cref="IDisposable"/> (see <see cref="BatchTransformer"/>): <see cref="BatchTransformer.Release"/> frees the training rows
/// at once (<c>Model.Dispose()</c> does the same).</remarks>
public sealed class KNearestNeighborsPredictionTransformer : BatchTransformer, ISingleFeaturePredictionTransformer<KNearestNeighborsModel>
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencodersKnn";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer (signatures are 8 characters for the model, at most 24 for the loader).</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(KNearestNeighborsPredictionTransformer), "MLAEKNNT", LoaderSignature, "KNearestNeighbors.bin", "k-NN classifier",
        (t, s) => ((KNearestNeighborsPredictionTransformer)t).Save(s), s => Load(s));

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    private readonly Mapper mapper;

    internal KNearestNeighborsPredictionTransformer(KNearestNeighborsModel model, string featureColumnName, string scoreColumnName, string predictedLabelColumnName, int batchSize)
    {
        Model = model;
        FeatureColumnName = featureColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        TransformBatchSize = batchSize;
        mapper = new Mapper(this);
    }

    private int transformBatchSize;

    /// <summary>
    /// Query rows per matrix product in cursors created from now on (memory: this many x training rows distances).
    /// Results do not depend on it.
    /// </summary>
    public int TransformBatchSize
    {
        get => transformBatchSize;
        set => transformBatchSize = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Expected at least one row per batch.");
    }

    /// <summary>The fitted classifier.</summary>
    public KNearestNeighborsModel Model { get; }

    /// <summary>The feature column read.</summary>
    public string FeatureColumnName { get; }

    /// <summary>A known-size vector of <see cref="float"/> with <see cref="KNearestNeighborsModel.FeatureCount"/> values.</summary>
    public DataViewType FeatureColumnType => new VectorDataViewType(NumberDataViewType.Single, Model.FeatureCount);

    /// <summary>The appended score column (default "Score").</summary>
    public string ScoreColumnName { get; }

    /// <summary>The appended predicted-label column (default "PredictedLabel").</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>
    /// The k-NN transformer file as a kind of <see cref="ArtifactContainer"/> (version 1). Files written before it have no
    /// magic: the column names and batch size, unchecked, then the k-NN model file; they are still read.
    /// </summary>
    internal static readonly ArtifactKind Kind = new("k-NN transformer", "MLAEKNNT"u8.ToArray(), 1, new Dictionary<int, ArtifactLayout>());

    /// <summary>
    /// Writes the transformer in the library's container (magic "MLAEKNNT", version 1): a JSON header with the column
    /// names and batch size, then one section holding the model's own file (see <see cref="KNearestNeighborsModel.Save(Stream)"/>),
    /// all under one SHA-256.
    /// </summary>
    public override void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var model = new MemoryStream();
        Model.Save(model);
        var header = new FileHeader
        {
            FeatureColumnName = FeatureColumnName, ScoreColumnName = ScoreColumnName,
            PredictedLabelColumnName = PredictedLabelColumnName, TransformBatchSize = TransformBatchSize,
        };
        ArtifactContainer.Write(stream, Kind, ArtifactContainer.WriteHeader(header), [model.ToArray()]);
    }

    /// <summary>Loads a transformer written by <see cref="BatchTransformer.Save(string)"/>, onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not a k-NN model.</exception>
    public static KNearestNeighborsPredictionTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.LoadFile(path, Kind, stream => Load(stream, device));

    /// <summary>Loads a transformer written by <see cref="Save(Stream)"/> (or by a version before the container), onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a k-NN model.</exception>
    public static KNearestNeighborsPredictionTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto)
    {
        var bytes = ArtifactContainer.ReadAll(stream, Kind.Name);
        if (!bytes.AsSpan().StartsWith(Kind.Magic)) return LoadUnchecked(bytes, device);
        var artifact = ArtifactContainer.Read(bytes, Kind);
        var h = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind);
        var model = artifact.Expect(1, Kind.Name)[0];
        string feature = TransformerFile.Name(h.FeatureColumnName, nameof(h.FeatureColumnName), Kind.Name);
        string score = TransformerFile.Name(h.ScoreColumnName, nameof(h.ScoreColumnName), Kind.Name);
        string predicted = TransformerFile.Name(h.PredictedLabelColumnName, nameof(h.PredictedLabelColumnName), Kind.Name);
        if (h.TransformBatchSize < 1) throw new AutoencoderModelFormatException($"Invalid batch size {h.TransformBatchSize} in the k-NN transformer file (at least 1 expected).");
        return new KNearestNeighborsPredictionTransformer(KNearestNeighborsModel.Load(model.ToArray(), device), feature, score, predicted, h.TransformBatchSize);
    }

    /// <summary>The layout before the container: three column names and the batch size (outside any checksum), then the model file.</summary>
    private static KNearestNeighborsPredictionTransformer LoadUnchecked(byte[] bytes, ComputeDevice device)
    {
        string feature, score, predicted;
        int batch, modelStart;
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
            feature = TransformerFile.ReadName(r);
            score = TransformerFile.ReadName(r);
            predicted = TransformerFile.ReadName(r);
            batch = r.ReadInt32();
            modelStart = (int)r.BaseStream.Position;
        }
        catch (EndOfStreamException e)
        {
            throw new AutoencoderModelFormatException("The k-NN transformer file is truncated.", e);
        }
        catch (FormatException e)
        {
            throw new AutoencoderModelFormatException($"The k-NN transformer file starts with neither the magic '{System.Text.Encoding.ASCII.GetString(Kind.Magic)}' nor three column names: {e.Message}", e);
        }
        if (batch < 1) throw new AutoencoderModelFormatException($"Invalid batch size {batch} in the k-NN transformer file.");
        KNearestNeighborsModel model;
        try
        {
            model = KNearestNeighborsModel.Load(bytes[modelStart..], device);
        }
        catch (AutoencoderModelFormatException e)
        {
            throw new AutoencoderModelFormatException($"it does not start with the k-NN transformer magic bytes '{System.Text.Encoding.ASCII.GetString(Kind.Magic)}', " +
                $"and read as the layout before them (three column names, a batch size, then the k-NN model) its model is not valid: {e.Message}", e);
        }
        return new KNearestNeighborsPredictionTransformer(model, feature, score, predicted, batch);
    }

    /// <summary>The JSON header of the k-NN transformer file.</summary>
    private sealed class FileHeader
    {
        public string? FeatureColumnName { get; set; }
        public string? ScoreColumnName { get; set; }
        public string? PredictedLabelColumnName { get; set; }
        public int TransformBatchSize { get; set; }
    }

    private protected override IBatchMapper BatchMapper => mapper;

    /// <summary>Maps feature batches to scores and predicted keys.</summary>
    private sealed class Mapper : IBatchMapper
    {
        private readonly KNearestNeighborsPredictionTransformer parent;

        public Mapper(KNearestNeighborsPredictionTransformer parent)
        {
            this.parent = parent;
            Lifetime = new NativeLifetime(nameof(KNearestNeighborsPredictionTransformer), "Release() or Model.Dispose()", parent.Model.Dispose, () => parent.Model.IsDisposed);
            Columns = MulticlassColumns.Create(parent.ScoreColumnName, parent.PredictedLabelColumnName, parent.Model.ClassCount, parent.Model.Classes);
        }

        public string InputColumnName => parent.FeatureColumnName;

        public int InputSize => parent.Model.FeatureCount;

        public int BatchSize => parent.TransformBatchSize;

        public string Consumer => "the k-NN classifier";

        public NativeLifetime Lifetime { get; }

        public IReadOnlyList<MappedColumn> Columns { get; }

        public void Map(ReadOnlySpan<float> inputs, int rows, long firstRow, MappedBatch batch)
        {
            var scores = batch.Floats(0);
            var keys = batch.Keys(1);
            parent.Model.Score(inputs, rows, scores.IsEmpty ? scores : scores[..(rows * parent.Model.ClassCount)], keys.IsEmpty ? keys : keys[..rows],
                batch.Workspace(KNearestNeighborsModel.CreateWorkspace)); // the product matrix kept between a cursor's batches
        }
    }
}
