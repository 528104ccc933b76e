using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Networks.Tokens;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Samples;

/// <summary>
/// A character-level GRU autoencoder over an English word list (Debian's wamerican: /usr/share/dict/american-english):
/// text -> TokenizeIntoCharactersAsKeys -> compact character keys -> token-sequence autoencoder -> MapKeyToValue back to
/// text. Prints the exact-word reconstruction rate on held-out words by word length, the nearest neighbours of a few
/// words in code space, and writes a t-SNE map of the held-out words' codes coloured by length.
/// </summary>
internal static class WordsSample
{
    public const string DefaultWordList = "/usr/share/dict/american-english";

    /// <summary>The words the sample uses: lowercase a-z, 2 to 12 letters, deduplicated, in the list's order.</summary>
    public static string[] ReadWords(string path, int maxLength = 12) =>
        File.ReadLines(path).Select(w => w.Trim()).Where(w => w.Length >= 2 && w.Length <= maxLength && w.All(c => c is >= 'a' and <= 'z'))
            .Distinct().ToArray();

    public static void Run(string[] args)
    {
        string path = SampleData.Arg(args, "--words") ?? DefaultWordList;
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"No word list at {path}. Install Debian's English word list (sudo apt-get install -y wamerican, which writes " +
                $"{DefaultWordList}), or pass any file of one word per line with --words FILE.");
            Environment.Exit(2);
        }
        int trainCount = SampleData.Arg(args, "--train") is { } t ? int.Parse(t) : 20_000;
        int testCount = SampleData.Arg(args, "--test") is { } s ? int.Parse(s) : 2_000;
        int epochs = SampleMetrics.Epochs(args, 15);
        string outDir = SampleData.Arg(args, "--out") ?? "out";
        Directory.CreateDirectory(outDir);

        var all = ReadWords(path);
        var random = new Random(0);
        var shuffled = all.OrderBy(_ => random.Next()).ToArray();
        if (shuffled.Length < trainCount + testCount) trainCount = shuffled.Length - testCount;
        var train = shuffled.Take(trainCount).ToArray();
        var test = shuffled.Skip(trainCount).Take(testCount).ToArray();
        Console.WriteLine($"{all.Length:N0} words of 2-12 lowercase letters in {path}; training on {train.Length:N0}, holding out {test.Length:N0}.");

        var ml = new MLContext(seed: 0);
        IDataView View(IEnumerable<string> words) => ml.Data.LoadFromEnumerable(words.Select(w => new WordRow { Text = w }).ToArray());
        // TokenizeIntoCharactersAsKeys keys every UTF-16 code unit (65,535 keys); back to characters and to keys of the
        // characters seen keeps the vocabulary (and the output layer) at 26.
        var text = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Chars", "Text", useMarkerCharacters: false)
            .Append(ml.Transforms.Conversion.MapKeyToValue("Chars"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Chars", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue))
            .Fit(View(all));
        var options = new AutoencoderOptions
        {
            InputColumnName = "Tokens",
            Body = new TokenSequenceOptions { MaxLength = 12, EmbeddingSize = 32, Cell = RecurrentCell.Gru, HiddenSize = 128 },
            HiddenLayerSizes = [], LatentDimension = 32,
            Epochs = epochs, BatchSize = 64, LearningRate = 0.003, Seed = 0,
            ValidationFraction = 0.05,
            Progress = new ConsoleProgress("char GRU"),
        };
        var clock = Stopwatch.StartNew();
        var autoencoder = ml.Transforms.Autoencoder(options).Fit(text.Transform(View(train)));
        Console.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F0}s: {autoencoder.Model.Architecture}");

        var back = ml.Transforms.Conversion.MapKeyToValue("Back", AutoencoderColumnNames.Reconstruction);
        (string[] Words, float[][] Codes, float[] Errors) Score(string[] words)
        {
            var scored = autoencoder.Transform(text.Transform(View(words)));
            var withText = back.Fit(scored).Transform(scored);
            var rebuilt = withText.GetColumn<VBuffer<ReadOnlyMemory<char>>>("Back").Select(v => string.Concat(v.DenseValues().Select(c => c.ToString()))).ToArray();
            return (rebuilt, withText.GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToArray(), withText.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray());
        }
        var (trainBack, _, _) = Score(train.Take(testCount).ToArray());
        var (testBack, testCodes, testErrors) = Score(test);
        double trainExact = trainBack.Zip(train).Count(p => p.First == p.Second) / (double)trainBack.Length;

        Console.WriteLine();
        Console.WriteLine("Exact-word reconstruction of held-out words, by length:");
        Console.WriteLine("  length   words   exact   mean token cross-entropy");
        foreach (var group in test.Select((w, i) => (w, i)).GroupBy(p => p.w.Length).OrderBy(g => g.Key))
        {
            int exact = group.Count(p => testBack[p.i] == p.w);
            Console.WriteLine($"  {group.Key,6} {group.Count(),7} {exact / (double)group.Count(),7:P1}   {group.Average(p => testErrors[p.i]),8:F3}");
        }
        double testExact = test.Zip(testBack).Count(p => p.First == p.Second) / (double)test.Length;
        Console.WriteLine($"  all    {test.Length,7} {testExact,7:P1}   (first {trainBack.Length:N0} training words: {trainExact:P1})");
        Console.WriteLine("  e.g. " + string.Join(", ", test.Zip(testBack).Take(10).Select(p => p.First == p.Second ? p.First : $"{p.First}->{p.Second}")));

        Console.WriteLine();
        Console.WriteLine("Nearest held-out words in code space (Euclidean):");
        foreach (var word in new[] { "house", "running", "quickly", "nation", "apple" })
        {
            var (_, codes, _) = Score([word]);
            var nearest = Enumerable.Range(0, test.Length).Where(i => test[i] != word)
                .OrderBy(i => Distance(codes[0], testCodes[i])).Take(6).Select(i => test[i]);
            Console.WriteLine($"  {word,-8} -> {string.Join(", ", nearest)}");
        }

        clock.Restart();
        var codeView = ml.Data.LoadFromEnumerable(testCodes.Select(c => new CodeRow { Code = c }).ToArray());
        var map = ml.Transforms.ProjectToTsne(new TsneOptions { InputColumnName = "Code", OutputColumnName = "Tsne", Seed = 0 }).Fit(codeView).Transform(codeView)
            .GetColumn<float[]>("Tsne").ToArray();
        var lengthClasses = new[] { "2-4 letters", "5-6", "7-8", "9-10", "11-12" };
        int LengthClass(string w) => w.Length switch { <= 4 => 0, <= 6 => 1, <= 8 => 2, <= 10 => 3, _ => 4 };
        string png = Path.Combine(outDir, "words-tsne.png");
        ScatterPlot.Save(png, map.Select(p => p[0]).ToArray(), map.Select(p => p[1]).ToArray(), test.Select(LengthClass).ToArray(), lengthClasses,
            $"t-SNE of the {LatentDimension(options)}-d codes of {test.Length:N0} held-out words (character GRU autoencoder)");
        Console.WriteLine();
        Console.WriteLine($"t-SNE in {clock.Elapsed.TotalSeconds:F0}s; wrote {Path.GetFullPath(png)}");
        autoencoder.Model.Dispose();
    }

    private static int LatentDimension(AutoencoderOptions options) => options.LatentDimension;

    private static double Distance(float[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (a[i] - b[i]) * (double)(a[i] - b[i]);
        return sum;
    }

    private sealed class WordRow
    {
        public string Text { get; set; } = "";
    }

    private sealed class CodeRow
    {
        [VectorType(32)]
        public float[] Code { get; set; } = [];
    }
}
