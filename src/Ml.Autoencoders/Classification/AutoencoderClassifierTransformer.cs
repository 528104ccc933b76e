using Microsoft.ML;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Pipeline;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.Training;
using Ml.Autoencoders.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Classification;

/// <summary>
/// A fine-tuned encoder with its classification head. <see cref="BatchTransformer.Transform"/> appends, lazily and a batch at a time,
/// <c>Score</c> (class probabilities, slot names from the label's key values) and <c>PredictedLabel</c> (a key carrying
/// the label's key values), like ML.NET's multiclass trainers, so <c>MulticlassClassification.Evaluate</c> works.
/// </summary>
/// <remarks>Not <see cref="IDisposable"/> (see <see cref="BatchTransformer"/>); <see cref="BatchTransformer.Release"/> frees the network at
/// once (<c>Autoencoder.Model.Dispose()</c> does the same for the encoder).</remarks>
public sealed class AutoencoderClassifierTransformer : BatchTransformer
{
    /// <summary>The name ML.NET stores in a saved model and looks the loader up by (declared in MlNetModelLoaders.cs; part of the file format).</summary>
    internal const string LoaderSignature = "MlAutoencodersClassifier";

    /// <summary>How <c>mlContext.Model.Save</c>/<c>Load</c> carry this transformer (signatures are 8 characters for the model, at most 24 for the loader).</summary>
    internal static readonly MlNetModelBridge.Kind Bridge = new(typeof(AutoencoderClassifierTransformer), "MLAEFTCL", LoaderSignature, "FineTunedClassifier.bin", "fine-tuned classifier",
        (t, s) => ((AutoencoderClassifierTransformer)t).Save(s), s => Load(s));

    private protected override MlNetModelBridge.Kind BridgeKind => Bridge;

    /// <summary>The fine-tuned classifier file as a kind of <see cref="ArtifactContainer"/>: version 2 written, version 1 (fields one by one, no history) read.</summary>
    internal static readonly ArtifactKind Kind = new("fine-tuned classifier", "MLAEFTCL"u8.ToArray(), 2,
        new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.Fields }, 16 << 20);

    private readonly EncoderClassifierNetwork network;
    private readonly Mapper mapper;

    internal AutoencoderClassifierTransformer(AutoencoderTransformer autoencoder, EncoderClassifierNetwork network, string featureColumnName,
        string scoreColumnName, string predictedLabelColumnName, KeyValueNames? classes, TrainingHistory history)
    {
        Autoencoder = autoencoder;
        this.network = network;
        FeatureColumnName = featureColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        Classes = classes;
        History = history;
        mapper = new Mapper(this);
    }

    /// <summary>The autoencoder holding the fine-tuned encoder (a copy; the pretrained one is unchanged).</summary>
    public AutoencoderTransformer Autoencoder { get; }

    /// <summary>The per-epoch record of the fine-tuning (training cross-entropy, validation cross-entropy).</summary>
    public TrainingHistory History { get; }

    /// <summary>
    /// The seed this classifier's fine-tuning used (the options' seed, or the one the <c>MLContext</c> decided, see
    /// <see cref="AutoencoderClassifierOptions.Seed"/>); null for a classifier loaded from a file, which does not record it.
    /// </summary>
    public int? Seed { get; internal init; }

    /// <summary>Number of classes (the label's key count).</summary>
    public int ClassCount => (int)network.Head.weight!.shape[0];

    /// <summary>The label's key values as text, in key order, when the label had them.</summary>
    public IReadOnlyList<string>? ClassNames => Classes?.Names;

    internal KeyValueNames? Classes { get; }

    /// <summary>The feature column read.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The appended score column.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The appended predicted-label column.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>Values per input row.</summary>
    public int InputSize => Autoencoder.InputSize;

    /// <summary>Class probabilities (rows x <see cref="ClassCount"/>) and predicted class indices (key − 1; ties to the smaller).</summary>
    /// <exception cref="ObjectDisposedException">The transformer was released (<see cref="BatchTransformer.Release"/>).</exception>
    public (float[] Scores, int[] Classes) Predict(ReadOnlySpan<float> features, int rows)
    {
        mapper.Lifetime.ThrowIfReleased();
        if (features.Length != (long)rows * InputSize)
            throw new ArgumentException($"Expected {rows} rows x {InputSize} values = {(long)rows * InputSize}, got {features.Length}.", nameof(features));
        var scores = new float[(long)rows * ClassCount];
        var keys = new uint[rows];
        ScoreBatch(features, rows, scores, keys);
        return (scores, keys.Select(k => (int)k - 1).ToArray());
    }

    internal void ScoreBatch(ReadOnlySpan<float> features, int rows, Span<float> scores, Span<uint> keys)
    {
        int k = ClassCount;
        float[] probabilities;
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            var device = Autoencoder.Model.TorchDevice;
            var x = TensorSpans.FromSpan(features, rows, InputSize);
            if (device.type != TorchSharp.DeviceType.CPU) x = x.to(device);
            var logits = network.forward(x);
            probabilities = TensorSpans.ToArray<float>(nn.functional.softmax(logits, 1).cpu().contiguous());
        }
        for (int r = 0; r < rows; r++)
        {
            var row = probabilities.AsSpan(r * k, k);
            if (!scores.IsEmpty) row.CopyTo(scores.Slice(r * k, k));
            if (keys.IsEmpty) continue;
            int best = 0;
            for (int c = 1; c < k; c++) if (row[c] > row[best]) best = c;
            keys[r] = (uint)best + 1;
        }
    }

    /// <summary>
    /// Writes the classifier to a stream, in the library's container (magic "MLAEFTCL", version 2): a JSON header (column
    /// names, classes, code size, the fine-tuning history), then sections holding the class names, the head's weight and
    /// bias (float32) and the autoencoder's own model file, then a SHA-256 of all before it.
    /// </summary>
    public override void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var weight = TensorSpans.ToArray<float>(network.Head.weight!.detach().cpu().contiguous());
        var bias = TensorSpans.ToArray<float>(network.Head.bias!.detach().cpu().contiguous());
        var header = new FileHeader
        {
            FeatureColumnName = FeatureColumnName, ScoreColumnName = ScoreColumnName, PredictedLabelColumnName = PredictedLabelColumnName,
            ClassCount = ClassCount, LatentDimension = Autoencoder.Model.LatentDimension,
            History = TrainingJson.Entries(History), BestEpoch = History.BestEpoch, StoppedEarly = History.StoppedEarly,
            RestoredBestWeights = History.RestoredBestWeights,
        };
        ArtifactContainer.Write(stream, Kind, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(header, AutoencoderModelFile.Json),
            [TransformerFile.NamesSection(Classes), ArtifactContainer.Bytes(weight), ArtifactContainer.Bytes(bias), TransformerFile.AutoencoderSection(Autoencoder)]);
    }

    /// <summary>Loads a classifier written by <see cref="BatchTransformer.Save(string)"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The file (named in the message) is damaged, truncated or not a fine-tuned classifier.</exception>
    public static AutoencoderClassifierTransformer Load(string path, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.LoadFile(path, Kind, stream => Load(stream, device));

    /// <summary>Loads a classifier written by <see cref="Save(Stream)"/> (this version, or the first, which kept no history).</summary>
    /// <exception cref="AutoencoderModelFormatException">The stream is damaged, truncated or not a fine-tuned classifier.</exception>
    public static AutoencoderClassifierTransformer Load(Stream stream, ComputeDevice device = ComputeDevice.Auto) =>
        TransformerFile.Load(ArtifactContainer.ReadAll(stream, Kind.Name), Kind, r => LoadFields(r, device), a => LoadContainer(a, device));

    private static AutoencoderClassifierTransformer LoadContainer(Artifact artifact, ComputeDevice device)
    {
        var h = ArtifactContainer.ReadHeader<FileHeader>(artifact, Kind, AutoencoderModelFile.Json);
        var sections = artifact.Expect(4, Kind.Name);
        string feature = TransformerFile.Name(h.FeatureColumnName, nameof(h.FeatureColumnName), Kind.Name);
        string score = TransformerFile.Name(h.ScoreColumnName, nameof(h.ScoreColumnName), Kind.Name);
        string predicted = TransformerFile.Name(h.PredictedLabelColumnName, nameof(h.PredictedLabelColumnName), Kind.Name);
        int classes = h.ClassCount, latent = h.LatentDimension;
        if (classes < 1 || latent < 1)
            throw new AutoencoderModelFormatException($"Invalid fine-tuned classifier header ({classes} classes, latent {latent}).");
        if (h.History is null || h.History.Any(e => e is null))
            throw new AutoencoderModelFormatException("The fine-tuned classifier header lacks its History or holds an empty (null) entry in it.");
        var names = TransformerFile.ReadNames(sections[0], classes, Kind.Name);
        var weight = ArtifactContainer.Values<float>(sections[1], (long)classes * latent, "the fine-tuned classifier's head-weight section");
        var bias = ArtifactContainer.Values<float>(sections[2], classes, "the fine-tuned classifier's head-bias section");
        var autoencoder = TransformerFile.LoadAutoencoder(sections[3], device, Kind.Name);
        var history = TrainingJson.History(h.History, h.BestEpoch, h.StoppedEarly, h.RestoredBestWeights);
        return Create(autoencoder, weight, bias, classes, latent, feature, score, predicted, names, history);
    }

    /// <summary>The classifier from checked parts; the autoencoder is disposed when they do not fit together.</summary>
    private static AutoencoderClassifierTransformer Create(AutoencoderTransformer autoencoder, float[] weight, float[] bias, int classes, int latent,
        string feature, string score, string predicted, KeyValueNames? names, TrainingHistory history)
    {
        if (autoencoder.Model.LatentDimension != latent)
        {
            autoencoder.Model.Dispose();
            throw new AutoencoderModelFormatException($"The head reads {latent} code values; the autoencoder in the file has {autoencoder.Model.LatentDimension}.");
        }
        var network = new EncoderClassifierNetwork(autoencoder.Model.Network, classes, 0);
        using (no_grad())
        {
            network.Head.weight!.copy_(tensor(weight).reshape(classes, latent));
            network.Head.bias!.copy_(tensor(bias));
        }
        network.to(autoencoder.Model.TorchDevice);
        network.eval();
        return new AutoencoderClassifierTransformer(autoencoder, network, feature, score, predicted, names, history);
    }

    /// <summary>Version 1: format version, three column names, classes, code size, class names, head weight and bias, the autoencoder length first, field by field.</summary>
    private static AutoencoderClassifierTransformer LoadFields(BinaryReader r, ComputeDevice device)
    {
        r.ReadInt32(); // the version, checked by the container
        string feature = TransformerFile.ReadName(r), score = TransformerFile.ReadName(r), predicted = TransformerFile.ReadName(r);
        int classes = r.ReadInt32(), latent = r.ReadInt32();
        if (classes < 1 || latent < 1 || (long)classes * (latent + 1L) * 4 > r.BaseStream.Length - r.BaseStream.Position) // latent + 1 in 64 bits: int.MaxValue must not wrap
            throw new AutoencoderModelFormatException($"Invalid fine-tuned classifier header ({classes} classes, latent {latent}).");
        var names = KeyValueNames.Read(r, classes);
        var weight = TransformerFile.ReadArray<float>(r, (long)classes * latent, "fine-tuned classifier");
        var bias = TransformerFile.ReadArray<float>(r, classes, "fine-tuned classifier");
        var autoencoder = TransformerFile.ReadAutoencoder(r, device, "fine-tuned classifier");
        return Create(autoencoder, weight, bias, classes, latent, feature, score, predicted, names, new TrainingHistory([], 0, false, false));
    }

    /// <summary>The JSON header of version 2 (read with the model file's bounded JSON settings: the history is an array of epochs).</summary>
    private sealed class FileHeader
    {
        public string? FeatureColumnName { get; set; }
        public string? ScoreColumnName { get; set; }
        public string? PredictedLabelColumnName { get; set; }
        public int ClassCount { get; set; }
        public int LatentDimension { get; set; }
        public TrainingJson.EpochEntry[]? History { get; set; }
        public int BestEpoch { get; set; }
        public bool StoppedEarly { get; set; }
        public bool RestoredBestWeights { get; set; }
    }

    private protected override IBatchMapper BatchMapper => mapper;

    /// <summary>A body that reads images needs images of its shape and pixel order.</summary>
    private protected override void CheckInput(DataViewSchema schema) => VectorColumn.CheckImageInput(schema, FeatureColumnName, Autoencoder.OptionsView.Body);

    /// <summary>Maps feature batches to class probabilities and predicted keys.</summary>
    private sealed class Mapper(AutoencoderClassifierTransformer parent) : IBatchMapper
    {
        public string InputColumnName => parent.FeatureColumnName;

        public int InputSize => parent.InputSize;

        public int BatchSize => parent.Autoencoder.TransformBatchSize;

        public string Consumer => "the fine-tuned classifier";

        public NativeLifetime Lifetime { get; } = new(nameof(AutoencoderClassifierTransformer), "Release() or Autoencoder.Model.Dispose()",
            () => { parent.Autoencoder.Release(); parent.network.Head.Dispose(); }, () => parent.Autoencoder.IsReleased);

        public IReadOnlyList<MappedColumn> Columns { get; } =
            MulticlassColumns.Create(parent.ScoreColumnName, parent.PredictedLabelColumnName, parent.ClassCount, parent.Classes);

        public void Map(ReadOnlySpan<float> inputs, int rows, long firstRow, MappedBatch batch)
        {
            var scores = batch.Floats(0);
            var keys = batch.Keys(1);
            parent.ScoreBatch(inputs, rows, scores.IsEmpty ? scores : scores[..(rows * parent.ClassCount)], keys.IsEmpty ? keys : keys[..rows]);
        }
    }
}
