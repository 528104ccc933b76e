using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Networks.Tokens;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// (w) The character-level GRU token-sequence autoencoder on English words against the same network in PyTorch
/// (bench/reference/words_ae.py): Debian's wamerican list (installed by run.sh when missing), lowercase a-z words of
/// 2-12 letters shuffled with seed 0, written once as character keys to a file both sides read; the same embedding,
/// GRU sizes, code, teacher-forced decoder, masked cross-entropy, Adam with the cosine schedule, epochs, batch and seed.
/// Held-out exact-word rate (greedy decoding) of each, the Fit throughput ratio library / PyTorch (words/s after one
/// warm-up epoch, the two sides interleaved), and the Transform throughput against a raw TorchSharp batched forward
/// (encode + greedy decode of the same network, 1,024 rows a batch) in the same process, interleaved.
/// </summary>
internal static partial class Program
{
    private const string WordList = "/usr/share/dict/american-english";

    private static void PartW(Config cfg)
    {
        const int maxLength = 12, embedding = 32, hidden = 128, latent = 32, batch = 64, warmup = 1;
        const double lr = 3e-3;
        int epochs = cfg.Quick ? 3 : 8, trainCount = cfg.Quick ? 2_000 : 10_000, testCount = cfg.Quick ? 500 : 2_000, reps = cfg.LRefReps;
        Header($"(w) character GRU token-sequence autoencoder on words vs PyTorch: embedding {embedding}, GRU {hidden}, code {latent}, up to {maxLength} letters, {epochs} epochs ({warmup} warm-up), batch {batch}, {reps} rep(s) interleaved");
        if (!File.Exists(WordList))
        {
            Console.WriteLine($"    SKIPPED: no {WordList} (sudo apt-get install -y wamerican; bench/run.sh --only w installs it)");
            Notes.Add($"(w) skipped: {WordList} missing");
            return;
        }
        var words = File.ReadLines(WordList).Select(w => w.Trim()).Where(w => w.Length >= 2 && w.Length <= maxLength && w.All(c => c is >= 'a' and <= 'z')).Distinct().ToArray();
        var random = new Random(0);
        var shuffled = words.OrderBy(_ => random.Next()).ToArray();
        var train = shuffled.Take(trainCount).ToArray();
        var test = shuffled.Skip(trainCount).Take(testCount).ToArray();
        Console.WriteLine($"    data: {words.Length:N0} words in {WordList}; train {train.Length:N0}, held out {test.Length:N0}; keys 'a' = 1 .. 'z' = 26");
        uint[] Keys(string w) => w.Select(c => (uint)(c - 'a' + 1)).ToArray();

        string file = Path.Combine(Path.GetTempPath(), $"ml-autoencoders-bench-w-{Environment.ProcessId}.bin");
        using (var writer = new BinaryWriter(File.Create(file)))
        {
            foreach (int v in new[] { 0x57524453, maxLength, 26, train.Length, test.Length }) writer.Write(v);
            foreach (var w in train.Concat(test))
                for (int i = 0; i < maxLength; i++) writer.Write(i < w.Length ? w[i] - 'a' + 1 : 0);
        }

        var ml = new MLContext(seed: 0);
        var trainView = ml.Data.Cache(ml.Data.LoadFromEnumerable(train.Select(w => new LetterRow { Tokens = Keys(w) }).ToArray()));
        var testView = ml.Data.Cache(ml.Data.LoadFromEnumerable(test.Select(w => new LetterRow { Tokens = Keys(w) }).ToArray()));
        var testFloats = test.SelectMany(w => Enumerable.Range(0, maxLength).Select(i => i < w.Length ? (float)(w[i] - 'a' + 1) : 0f)).ToArray();

        var lib = new List<(double Speed, double Exact)>();
        var reference = new List<(double Speed, double Exact, double Greedy)>();
        var transformRatios = new List<(double Transform, double Raw)>();
        Dictionary<int, double>? libByLength = null, refByLength = null;
        try
        {
            for (int r = 0; r < reps; r++)
            {
                Collect();
                var model = ml.Transforms.Autoencoder(new AutoencoderOptions
                {
                    InputColumnName = "Tokens",
                    Body = new TokenSequenceOptions { MaxLength = maxLength, EmbeddingSize = embedding, Cell = RecurrentCell.Gru, HiddenSize = hidden },
                    HiddenLayerSizes = [], LatentDimension = latent, Epochs = epochs, BatchSize = batch, LearningRate = lr, Seed = 0,
                    ValidationFraction = 0, EarlyStoppingPatience = 0, SmallDataRows = 0, Threads = cfg.Threads, TransformBatchSize = 1024,
                    Outputs = AutoencoderOutputs.Reconstruction,
                }).Fit(trainView);
                double speed = model.History.SamplesPerSecond(warmup);
                var rebuilt = ReadKeys(model.Transform(testView));
                var exact = test.Select((w, i) => rebuilt[i].SequenceEqual(Keys(w))).ToArray();
                lib.Add((speed, exact.Average(e => e ? 1.0 : 0.0)));
                libByLength = exact.Select((e, i) => (e, test[i].Length)).GroupBy(p => p.Length).ToDictionary(g => g.Key, g => g.Average(p => p.e ? 1.0 : 0.0));
                Console.WriteLine($"    rep {r + 1} A library: {speed,8:N0} words/s after warm-up, final loss {model.History.Epochs[^1].TrainLoss:G4}; held-out exact-word rate {lib[^1].Exact:P1}");

                // Transform (a cursor over the reconstruction column) against a raw batched forward of the same network, interleaved.
                for (int k = 0; k < 3; k++)
                {
                    var sw = Stopwatch.StartNew();
                    ReadKeys(model.Transform(testView));
                    double viaTransform = test.Length / sw.Elapsed.TotalSeconds;
                    sw.Restart();
                    RawForward(model, testFloats, test.Length, maxLength);
                    double raw = test.Length / sw.Elapsed.TotalSeconds;
                    transformRatios.Add((viaTransform, raw));
                }
                Console.WriteLine($"    rep {r + 1}   Transform {transformRatios[^1].Transform:N0} words/s, raw TorchSharp batched forward {transformRatios[^1].Raw:N0} words/s (last of 3 pairs)");
                model.Release();

                Collect();
                var args = $"\"{cfg.ReferenceScript ?? FindReferenceScript()}\" --script words_ae.py --words \"{file}\" --threads {cfg.Threads} --epochs {epochs} --warmup-epochs {warmup} " +
                           $"--batch {batch} --embedding {embedding} --hidden {hidden} --latent {latent} --lr {lr.ToString(System.Globalization.CultureInfo.InvariantCulture)} --seed 0 --json";
                if (RunReference(args, "(w)", r, out double secs) is { } doc)
                {
                    using var _ = doc;
                    var root = doc.RootElement;
                    reference.Add((root.GetProperty("samples_per_s").GetDouble(), root.GetProperty("exact_word_rate").GetDouble(), root.GetProperty("greedy_words_per_s").GetDouble()));
                    refByLength = root.GetProperty("exact_by_length").EnumerateObject().ToDictionary(p => int.Parse(p.Name), p => p.Value.GetDouble());
                    Console.WriteLine($"    rep {r + 1} B PyTorch: {reference[^1].Speed,8:N0} words/s after warm-up, fit {root.GetProperty("fit_seconds").GetDouble():F1}s (process {secs:F1}s), final loss {root.GetProperty("final_loss").GetDouble():G4}; " +
                                      $"held-out exact-word rate {reference[^1].Exact:P1}; greedy {reference[^1].Greedy:N0} words/s; {root.GetProperty("versions").GetProperty("blas").GetString()}");
                }
            }
        }
        finally
        {
            File.Delete(file);
        }
        if (lib.Count == 0) return;
        if (libByLength is not null)
        {
            Console.WriteLine("    held-out exact-word rate by length (last rep): length: library / PyTorch");
            Console.WriteLine("      " + string.Join("  ", libByLength.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value:P0} / {(refByLength?.TryGetValue(p.Key, out var b) == true ? b.ToString("P0") : "n/a")}")));
        }
        double libSpeed = Median(lib.Select(x => x.Speed)), refSpeed = reference.Count > 0 ? Median(reference.Select(x => x.Speed)) : double.NaN;
        double libExact = Median(lib.Select(x => x.Exact)), refExact = reference.Count > 0 ? Median(reference.Select(x => x.Exact)) : double.NaN;
        double transformRatio = Median(transformRatios.Select(p => p.Transform / p.Raw));
        Console.WriteLine($"    => Fit throughput, median: library {libSpeed:N0} words/s, PyTorch {Fmt(refSpeed)} words/s: ratio {libSpeed / refSpeed:F2}; Transform / raw TorchSharp forward, median of {transformRatios.Count} interleaved pairs: {transformRatio:F2}");
        Table.Add(new Row($"(w) words GRU autoencoder held-out exact-word rate vs PyTorch", $"{libExact:P1}", double.IsFinite(refExact) ? $"{refExact:P1}" : "n/a", libExact / refExact, "-", null));
        Table.Add(new Row($"(w) words GRU autoencoder Fit words/s vs PyTorch ({epochs} epochs, batch {batch})", Fmt(libSpeed), Fmt(refSpeed), libSpeed / refSpeed, ">= 0.95", double.IsFinite(refSpeed) ? libSpeed / refSpeed >= 0.95 : null));
        Table.Add(new Row("(w) words Transform words/s vs raw TorchSharp batched forward", Fmt(Median(transformRatios.Select(p => p.Transform))), Fmt(Median(transformRatios.Select(p => p.Raw))), transformRatio, ">= 0.8", transformRatio >= 0.8));
        if (cfg.Quick) Notes.Add("(w) ran on 2,000 words for 3 epochs (--quick): figures are indicative only.");
    }

    /// <summary>The reconstructed keys of every row of a transformed view.</summary>
    private static List<uint[]> ReadKeys(IDataView view)
    {
        var column = view.Schema[AutoencoderColumnNames.Reconstruction];
        var result = new List<uint[]>();
        using var cursor = view.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<uint>>(column);
        VBuffer<uint> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value.DenseValues().ToArray());
        }
        return result;
    }

    /// <summary>Encode + greedy decode of the trained network straight through TorchSharp, 1,024 rows a batch, outputs copied out.</summary>
    private static void RawForward(AutoencoderTransformer model, float[] rows, int count, int width)
    {
        var network = model.Model.Network;
        var output = new float[count * width];
        using var noGrad = no_grad();
        for (int b = 0; b < count; b += 1024)
        {
            int n = Math.Min(1024, count - b);
            using var scope = NewDisposeScope();
            var x = tensor(rows.AsSpan(b * width, n * width).ToArray(), new long[] { n, width });
            var decoded = network.Decode(network.Encode(x));
            decoded.data<float>().CopyTo(output, b * width);
        }
    }

    private sealed class LetterRow
    {
        [KeyType(26)]
        public uint[] Tokens { get; set; } = [];
    }
}
