using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Embedding;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.SampleData;
using TorchSharp;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Bench;

/// <summary>One labelled Fashion-MNIST image for the k-NN classifier.</summary>
internal sealed class LabeledImageRow
{
    [VectorType(784)]
    public float[] Features { get; set; } = Array.Empty<float>();

    public float Label { get; set; }
}

/// <summary>One PCA-30 row for t-SNE.</summary>
internal sealed class Pca30Row
{
    [VectorType(30)]
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>
/// (g) The k-NN classifier and the t-SNE transform against scikit-learn (bench/reference/knn_tsne.py): k-NN on raw
/// Fashion-MNIST pixels (accuracy, the same predictions, predict time, fraction of the machine's matrix-product speed);
/// t-SNE of identical PCA-30 rows at several sizes (seconds, KL, trustworthiness); t-SNE of all 70,000 images.
/// </summary>
internal static partial class Program
{
    private const int PcaDims = 30;
    private const int KnnK = 5;
    private const double GemmFlops = 2.0 * 10000 * 60000 * 784;

    private static void PartG(Config cfg, MLContext ml, FashionMnistSplit train, FashionMnistSplit test)
    {
        int reps = cfg.GRefReps;
        string script = cfg.ReferenceScript ?? FindReferenceScript();
        string dataDir = FashionMnist.ResolveDirectory(cfg.DataDir);
        string tmp = Path.Combine(Path.GetTempPath(), $"mlae-bench-g-{Environment.ProcessId}");
        Directory.CreateDirectory(tmp);
        if (cfg.SklearnThreads is int st && st != cfg.Threads) Notes.Add($"(g) sklearn ran with {st} threads (--sklearn-threads), the library with {cfg.Threads}.");
        string load0 = LoadAverage();
        try
        {
            if (cfg.KnnTestRows != 0) KnnVsSklearn(cfg, ml, train, test, reps, script, dataDir, tmp);
            if (cfg.TsneSizes.Length > 0) TsneVsSklearn(cfg, ml, test, reps, script, dataDir, tmp);
            if (cfg.TsneAll) TsneAllImages(cfg, ml, train, test, script, dataDir, tmp);
        }
        finally
        {
            Notes.Add($"(g) load average (1, 5, 15 min) at the start of (g): {load0}; at its end: {LoadAverage()} ({Environment.ProcessorCount} cores). " +
                      "sklearn's OpenMP loops (t-SNE gradient) slow down far more than the library's under load from other processes (300 rows: 1.4 s with 1 thread, 13 s with 2 at load 8).");
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Signed(double d) => (d < 0 ? "-" : "+") + Math.Abs(d).ToString("F4", CultureInfo.InvariantCulture);

    private static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    // ------------------------------------------------------------------------------------------------
    // k-NN
    // ------------------------------------------------------------------------------------------------
    private static void KnnVsSklearn(Config cfg, MLContext ml, FashionMnistSplit fullTrain, FashionMnistSplit fullTest, int reps, string script, string dataDir, string tmp)
    {
        var train = cfg.KnnTrainRows is int tr && tr < fullTrain.Count ? fullTrain.Take(tr) : fullTrain;
        var test = cfg.KnnTestRows is int te && te < fullTest.Count ? fullTest.Take(te) : fullTest;
        double flops = 2.0 * test.Count * train.Count * Pixels;
        Header($"(g) k-NN classifier vs scikit-learn (bench/reference/knn_tsne.py): raw pixels, train {train.Count:N0}, test {test.Count:N0}, k = {KnnK}, Euclidean, uniform votes, {cfg.Threads} threads, {reps} reps interleaved");
        Console.WriteLine("    library: MapValueToKey(Label, ByValue) + KNearestNeighbors; fit = reading and storing the rows; predict = knn.Transform(test view) + cursor over PredictedLabel");
        Console.WriteLine("    sklearn: KNeighborsClassifier(n_neighbors=5, algorithm='brute', n_jobs=1) fit / predict on the same float32 pixels");
        var trainView = ml.Data.LoadFromEnumerable(LabeledRows(train));
        var testView = ml.Data.LoadFromEnumerable(LabeledRows(test));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors("Label", "Features", KnnK, NeighborMetric.Euclidean, NeighborWeighting.Uniform));

        var libFit = new List<double>();
        var libPredict = new List<double>();
        var libArray = new List<double>();
        var refFit = new List<double>();
        var refPredict = new List<double>();
        int[]? libPred = null;
        int[]? refPred = null;
        double refAcc = double.NaN, numpyGflops = double.NaN;
        string refInfo = "";
        string predFile = Path.Combine(tmp, "sklearn-knn-predictions.txt");
        for (int r = 0; r < reps; r++)
        {
            Collect();
            var sw = Stopwatch.StartNew();
            var chain = pipeline.Fit(trainView);
            libFit.Add(sw.Elapsed.TotalSeconds);
            var knn = chain.LastTransformer;
            var model = knn.Model;
            var classOf = ClassToDigit(model);
            if (r == 0)
            {
                // warm-up of the JIT and libtorch's kernels on a few rows (not timed)
                PredictThroughCursor(knn, ml.Data.LoadFromEnumerable(LabeledRows(test.Take(Math.Min(128, test.Count)))), classOf);
                model.Predict(test.Pixels.AsSpan(0, Math.Min(128, test.Count) * Pixels), Math.Min(128, test.Count));
            }
            Collect();
            sw.Restart();
            var predicted = PredictThroughCursor(knn, testView, classOf);
            libPredict.Add(sw.Elapsed.TotalSeconds);
            Collect();
            sw.Restart();
            var (_, classes) = model.Predict(test.Pixels, test.Count);
            libArray.Add(sw.Elapsed.TotalSeconds);
            var arrayPred = classes.Select(c => classOf[c]).ToArray();
            int pipelineVsArray = predicted.Zip(arrayPred).Count(p => p.First != p.Second);
            if (pipelineVsArray != 0) Notes.Add($"(g) k-NN: the pipeline and Model.Predict disagree on {pipelineVsArray} of {test.Count} rows");
            libPred ??= predicted;
            double acc = Accuracy(predicted, test.Labels);
            Console.WriteLine($"    rep {r + 1} A library : fit {libFit[^1]:F2}s, predict {libPredict[^1]:F2}s ({test.Count / libPredict[^1]:N0} rows/s, {flops / libPredict[^1] / 1e9:F1} GFLOP/s distance-product equivalent); Model.Predict on the array {libArray[^1]:F2}s; accuracy {acc:F4}");
            knn.Model.Dispose();

            var args = $"\"{script}\" --script knn_tsne.py --task knn --data \"{dataDir}\" --threads {cfg.SklearnThreads ?? cfg.Threads} --train-rows {train.Count} --test-rows {test.Count} --k {KnnK} --metric euclidean --weights uniform " +
                       $"--save-predictions \"{predFile}\" --gemm-reps {(r == 0 ? cfg.GemmReps : 0)} --json";
            if (RunReference(args, "(g) k-NN", r, out double secs) is not { } doc) break;
            using (doc)
            {
                var root = doc.RootElement;
                refFit.Add(root.GetProperty("fit_seconds").GetDouble());
                refPredict.Add(root.GetProperty("predict_seconds").GetDouble());
                refAcc = root.GetProperty("accuracy").GetDouble();
                if (root.TryGetProperty("gemm_gflops", out var g)) numpyGflops = g.GetDouble();
                refInfo = $"sklearn {root.GetProperty("sklearn")}, numpy {root.GetProperty("numpy")}, BLAS {ShortBlas(root.GetProperty("blas").ToString())} kernel {root.GetProperty("blas_kernel")}";
                Console.WriteLine($"    rep {r + 1} B sklearn : fit {refFit[^1]:F2}s, predict {refPredict[^1]:F2}s ({test.Count / refPredict[^1]:N0} rows/s, {flops / refPredict[^1] / 1e9:F1} GFLOP/s); accuracy {refAcc:F4}" +
                                  (r == 0 && double.IsFinite(numpyGflops) ? $"; numpy float32 GEMM {numpyGflops:F1} GFLOP/s" : "") + $" (process {secs:F1}s)");
            }
            refPred ??= File.ReadAllLines(predFile).Where(l => l.Length > 0).Select(l => (int)double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        }
        Console.WriteLine($"    reference: {refInfo}");

        Collect();
        double torchGflops = TorchGemmGflops(cfg.GemmReps, out var torchTimes);
        Console.WriteLine($"    TorchSharp float32 GEMM A(10000x784) @ B(60000x784)^T: best {torchTimes.Min():F2}s of {torchTimes.Count} ({string.Join(", ", torchTimes.Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))}s, after one warm-up), {torchGflops:F1} GFLOP/s");

        double libAcc = Accuracy(libPred!, test.Labels);
        double medLib = Median(libPredict), medArray = Median(libArray), medLibFit = Median(libFit);
        double libGflops = flops / medLib / 1e9;
        Console.WriteLine($"    => library predict {medLib:F2}s (median), {libGflops:F1} GFLOP/s equivalent = {libGflops / torchGflops:P0} of TorchSharp GEMM" +
                          (double.IsFinite(numpyGflops) ? $", {libGflops / numpyGflops:P0} of numpy GEMM" : "") + $"; Model.Predict on the array {medArray:F2}s");
        if (refPredict.Count == 0 || refPred is null)
        {
            Table.Add(new Row("(g) k-NN predict s (ref/lib = speed-up)", $"{medLib:F2}", "failed", null, ">= 2.00", null));
            Table.Add(new Row("(g) k-NN accuracy", $"{libAcc:F4}", "failed", null, "equal", null));
            return;
        }
        double medRef = Median(refPredict);
        double refGflops = flops / medRef / 1e9;
        var check = CompareWithSklearn(libPred!, refPred, train, test);
        Console.WriteLine($"    => accuracy library {libAcc:F4} vs sklearn {refAcc:F4}; {check.Disagreements} of {test.Count} predictions differ: {check.Ties} at an exact distance tie at the k-th neighbour (integer pixel distances), " +
                          $"{check.Unexplained} without one (exact integer k-NN agrees with the library on {check.LibraryExact}, with sklearn on {check.ReferenceExact} of those)");
        if (check.Examples.Length > 0) Console.WriteLine($"       differing rows (test index: library/sklearn/true): {check.Examples}");
        Console.WriteLine($"    => predict: library {medLib:F2}s vs sklearn {medRef:F2}s = {medRef / medLib:F2}x faster; fit {medLibFit:F2}s vs {Median(refFit):F3}s");

        string size = train.Count == fullTrain.Count && test.Count == fullTest.Count ? "" : $" [{train.Count / 1000}k x {test.Count / 1000}k]";
        Table.Add(new Row($"(g) k-NN accuracy{size} (k=5, Euclidean, uniform)", $"{libAcc:F4}", $"{refAcc:F4}", libAcc / refAcc, "equal", check.Unexplained == 0));
        Table.Add(new Row($"(g) k-NN predictions differing from sklearn (exact ties)", $"{check.Disagreements} ({check.Ties})", "", null, "(info)", null));
        Table.Add(new Row($"(g) k-NN predict s, pipeline{size} [median of {libPredict.Count}] (ratio = ref/lib)", $"{medLib:F2}", $"{medRef:F2}", medRef / medLib, ">= 2.00", medRef / medLib >= 2.0));
        Table.Add(new Row($"(g) k-NN predict s, Model.Predict on the array (ratio = ref/lib)", $"{medArray:F2}", $"{medRef:F2}", medRef / medArray, "(info)", null));
        Table.Add(new Row($"(g) k-NN predict s, pipeline vs Model.Predict on the same rows (ratio = pipeline/array)", $"{medLib:F2}", $"{medArray:F2}", medLib / medArray, "<= 1.20", medLib / medArray <= 1.2));
        Table.Add(new Row($"(g) k-NN fit s (storing the rows)", $"{medLibFit:F2}", $"{Median(refFit):F3}", null, "(info)", null));
        Table.Add(new Row("(g) k-NN GFLOP/s equiv (2*test*train*784/predict s)", $"{libGflops:F1}", $"{refGflops:F1}", libGflops / refGflops, "(info)", null));
        Table.Add(new Row("(g) float32 GEMM GFLOP/s: TorchSharp / numpy", $"{torchGflops:F1}", double.IsFinite(numpyGflops) ? $"{numpyGflops:F1}" : "n/a", torchGflops / numpyGflops, "(info)", null));
        Table.Add(new Row("(g) k-NN GFLOP/s as fraction of TorchSharp / numpy GEMM", $"{libGflops / torchGflops:F3}", double.IsFinite(numpyGflops) ? $"{libGflops / numpyGflops:F3}" : "n/a", null, "(info)", null));
        Table.Add(new Row("(g) sklearn k-NN GFLOP/s as fraction of numpy GEMM", "", double.IsFinite(numpyGflops) ? $"{refGflops / numpyGflops:F3}" : "n/a", null, "(info)", null));
        if (size.Length > 0) Notes.Add($"(g) k-NN on {train.Count} train x {test.Count} test rows (--quick / --knn-train-rows / --knn-test-rows), not the full sets.");
    }

    private static IEnumerable<LabeledImageRow> LabeledRows(FashionMnistSplit split)
    {
        for (int i = 0; i < split.Count; i++) yield return new LabeledImageRow { Features = split.Row(i), Label = split.Labels[i] };
    }

    /// <summary>Class index (key − 1) → digit label, from the key values (ByValue ordering makes them equal).</summary>
    private static int[] ClassToDigit(KNearestNeighborsModel model)
    {
        var map = Enumerable.Range(0, model.ClassCount).ToArray();
        if (model.ClassNames is { } names)
            for (int c = 0; c < names.Count; c++)
                if (double.TryParse(names[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) map[c] = (int)v;
        if (map.Where((d, c) => d != c).Any()) Notes.Add($"(g) k-NN class order is not the digit order: {string.Join(",", map)}");
        return map;
    }

    private static int[] PredictThroughCursor(KNearestNeighborsPredictionTransformer knn, IDataView view, int[] classOf)
    {
        var scored = knn.Transform(view);
        var col = scored.Schema["PredictedLabel"];
        var result = new List<int>();
        using var cursor = scored.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<uint>(col);
        uint key = 0;
        while (cursor.MoveNext())
        {
            getter(ref key);
            result.Add(key == 0 ? -1 : classOf[key - 1]);
        }
        return result.ToArray();
    }

    private static double Accuracy(int[] predicted, int[] labels)
    {
        int hits = 0;
        for (int i = 0; i < predicted.Length; i++) if (predicted[i] == labels[i]) hits++;
        return (double)hits / predicted.Length;
    }

    private sealed record KnnCheck(int Disagreements, int Ties, int Unexplained, int LibraryExact, int ReferenceExact, string Examples);

    /// <summary>
    /// Rows where the library and sklearn predict differently: for each (up to 500), exact squared distances in integer
    /// pixel units (bytes, so no rounding) to every training row decide whether the k-th and (k+1)-th nearest are an
    /// exact tie (then which rows vote is unspecified on both sides); otherwise the exact k-NN vote (smallest class on
    /// equal votes) says which side is right.
    /// </summary>
    private static KnnCheck CompareWithSklearn(int[] lib, int[] reference, FashionMnistSplit train, FashionMnistSplit test)
    {
        if (lib.Length != reference.Length)
        {
            Notes.Add($"(g) k-NN: sklearn returned {reference.Length} predictions for {lib.Length} test rows");
            return new KnnCheck(lib.Length, 0, lib.Length, 0, 0, "");
        }
        var differ = Enumerable.Range(0, lib.Length).Where(i => lib[i] != reference[i]).ToArray();
        var trainBytes = ToBytes(train.Pixels);
        int ties = 0, unexplained = 0, libExact = 0, refExact = 0;
        var examples = new List<string>();
        var dist = new long[train.Count];
        var order = new int[train.Count];
        foreach (int i in differ.Take(500))
        {
            var q = ToBytes(test.Pixels.AsSpan(i * Pixels, Pixels));
            for (int t = 0; t < train.Count; t++)
            {
                long s = 0;
                var row = trainBytes.AsSpan(t * Pixels, Pixels);
                for (int p = 0; p < Pixels; p++)
                {
                    int d = row[p] - q[p];
                    s += d * d;
                }
                dist[t] = s;
                order[t] = t;
            }
            Array.Sort((long[])dist.Clone(), order);
            long kth = dist[order[KnnK - 1]], next = dist[order[KnnK]];
            bool tie = kth == next;
            if (tie) ties++;
            else
            {
                unexplained++;
                var votes = new int[10];
                for (int j = 0; j < KnnK; j++) votes[train.Labels[order[j]]]++;
                int exact = Array.IndexOf(votes, votes.Max());
                if (exact == lib[i]) libExact++;
                if (exact == reference[i]) refExact++;
            }
            if (examples.Count < 12) examples.Add($"{i}: {lib[i]}/{reference[i]}/{test.Labels[i]}{(tie ? " tie" : "")}");
        }
        if (differ.Length > 500) Notes.Add($"(g) k-NN: only the first 500 of {differ.Length} differing predictions were checked for ties");
        return new KnnCheck(differ.Length, ties, unexplained + Math.Max(0, differ.Length - 500), libExact, refExact, string.Join("; ", examples));
    }

    private static byte[] ToBytes(ReadOnlySpan<float> pixels)
    {
        var b = new byte[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) b[i] = (byte)Math.Round(pixels[i] * 255f);
        return b;
    }

    /// <summary>float32 A(10000x784) · B(60000x784)ᵀ on TorchSharp (the shape numpy's figure uses): best GFLOP/s after one warm-up.</summary>
    private static double TorchGemmGflops(int reps, out List<double> times)
    {
        times = new List<double>();
        using var scope = NewDisposeScope();
        torch.random.manual_seed(0);
        var a = torch.rand(10000, 784);
        var b = torch.rand(60000, 784);
        using (var warm = a.matmul(b.t())) { }
        for (int r = 0; r < Math.Max(1, reps); r++)
        {
            var sw = Stopwatch.StartNew();
            using var c = a.matmul(b.t());
            times.Add(sw.Elapsed.TotalSeconds);
        }
        return GemmFlops / times.Min() / 1e9;
    }

    // ------------------------------------------------------------------------------------------------
    // t-SNE
    // ------------------------------------------------------------------------------------------------
    private static void TsneVsSklearn(Config cfg, MLContext ml, FashionMnistSplit test, int reps, string script, string dataDir, string tmp)
    {
        Header($"(g) t-SNE vs scikit-learn (bench/reference/knn_tsne.py): PCA-30 of the first N test images (computed here, the same float32 rows on both sides), sizes {string.Join(", ", cfg.TsneSizes)}, {cfg.Threads} threads, {reps} reps interleaved");
        var defaults = new TsneOptions();
        Console.WriteLine($"    library: ProjectToTsne defaults (perplexity {defaults.Perplexity}, PCA init, {defaults.Iterations} iterations, exaggeration {defaults.EarlyExaggeration} for {defaults.EarlyExaggerationIterations}, learning rate max(n/12, 200) without the factor 4, method {defaults.Method}, theta {defaults.Theta}); seconds = Fit");
        Console.WriteLine("    sklearn: TSNE(perplexity=30, init='pca', learning_rate='auto', method='barnes_hut', angle 0.5, 1000 iterations); seconds = fit_transform");
        Console.WriteLine("    trustworthiness (k = 10) of each side's embedding against the PCA-30 input: EmbeddingQuality.Trustworthiness / sklearn.manifold.trustworthiness");
        foreach (int size in cfg.TsneSizes)
        {
            int n = Math.Min(size, test.Count);
            var sw = Stopwatch.StartNew();
            var input = Pca30(test.Pixels.AsSpan(0, n * Pixels), n);
            double pcaSecs = sw.Elapsed.TotalSeconds;
            string file = Path.Combine(tmp, $"pca30-{n}.f32");
            File.WriteAllBytes(file, MemoryMarshal.AsBytes(input.AsSpan()).ToArray());
            string embFile = Path.Combine(tmp, $"sklearn-tsne-{n}.txt");
            Console.WriteLine($"  N = {n:N0} (PCA-30 of the first {n:N0} test images in {pcaSecs:F2}s)");
            var libSecs = new List<double>();
            var libKl = new List<double>();
            var libTw = new List<double>();
            var refSecs = new List<double>();
            var refKl = new List<double>();
            var refTw = new List<double>();
            string method = "?";
            double crossTw = double.NaN;
            for (int r = 0; r < reps; r++)
            {
                Collect();
                var (secs, kl, tw, m, _) = LibraryTsne(ml, input, n);
                method = m;
                libSecs.Add(secs);
                libKl.Add(kl);
                libTw.Add(tw);
                Console.WriteLine($"    rep {r + 1} A library : {secs:F2}s, KL {kl:F4}, trustworthiness {tw:F4} (method {m})");

                var args = $"\"{script}\" --script knn_tsne.py --task tsne --data \"{dataDir}\" --threads {cfg.SklearnThreads ?? cfg.Threads} --input-file \"{file}\" --input-dims {PcaDims} --seed 0" +
                           (r == 0 ? $" --save-embedding \"{embFile}\"" : "") + " --json";
                if (RunReference(args, $"(g) t-SNE {n}", r, out double procSecs) is not { } doc) break;
                using (doc)
                {
                    var root = doc.RootElement;
                    refSecs.Add(root.GetProperty("tsne_seconds").GetDouble());
                    refKl.Add(root.GetProperty("kl_divergence").GetDouble());
                    refTw.Add(root.GetProperty("trustworthiness_k10").GetDouble());
                    Console.WriteLine($"    rep {r + 1} B sklearn : {refSecs[^1]:F2}s, KL {refKl[^1]:F4}, trustworthiness {refTw[^1]:F4} (iterations {root.GetProperty("n_iter_run")}, process {procSecs:F1}s)");
                }
                if (r == 0 && File.Exists(embFile))
                {
                    // cross-check of the trustworthiness definitions: the library's function on sklearn's embedding
                    var emb = File.ReadAllLines(embFile).Where(l => l.Length > 0)
                        .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                    if (emb.Length == n * 2) crossTw = EmbeddingQuality.Trustworthiness(input, PcaDims, emb, 2, k: 10);
                }
            }
            if (double.IsFinite(crossTw))
                Console.WriteLine($"    EmbeddingQuality.Trustworthiness on sklearn's embedding: {crossTw:F6} (sklearn: {refTw[0]:F6}, difference {crossTw - refTw[0]:E1})");
            if (double.IsFinite(crossTw) && Math.Abs(crossTw - refTw[0]) > 1e-6)
                Notes.Add($"(g) t-SNE {n}: the library's trustworthiness of sklearn's embedding is {crossTw:F6}, sklearn's own {refTw[0]:F6}");
            if (refSecs.Count == 0)
            {
                Table.Add(new Row($"(g) t-SNE {n:N0} s (ratio = ref/lib)", $"{Median(libSecs):F2}", "failed", null, n >= 10000 ? ">= 2.00" : "(info)", null));
                continue;
            }
            double ml_ = Median(libSecs), mr = Median(refSecs);
            double twL = Median(libTw), twR = Median(refTw);
            Console.WriteLine($"    => N = {n:N0}: library {ml_:F2}s vs sklearn {mr:F2}s = {mr / ml_:F2}x; KL {Median(libKl):F4} vs {Median(refKl):F4}; trustworthiness {twL:F4} vs {twR:F4} ({Signed(twL - twR)})");
            bool timed = n >= 10000;
            Table.Add(new Row($"(g) t-SNE {n:N0} s, {method} [median of {libSecs.Count}] (ratio = ref/lib)", $"{ml_:F2}", $"{mr:F2}", mr / ml_, timed ? ">= 2.00" : "(info)", timed ? mr / ml_ >= 2.0 : null));
            Table.Add(new Row($"(g) t-SNE {n:N0} trustworthiness k=10", $"{twL:F4}", $"{twR:F4}", twL / twR, ">= ref-.01", twL >= twR - 0.01));
            Table.Add(new Row($"(g) t-SNE {n:N0} KL divergence", $"{Median(libKl):F4}", $"{Median(refKl):F4}", Median(libKl) / Median(refKl), "(info)", null));
        }
        if (!cfg.TsneSizes.Any(s => s >= 10000)) Notes.Add("(g) t-SNE speed target (>= 2x sklearn) applies at 10,000 points, which this run did not include.");
    }

    /// <summary>Fit of the library's t-SNE (defaults) on <paramref name="n"/> rows: seconds, KL, trustworthiness (k = 10, not timed), method.</summary>
    private static (double Seconds, double Kl, double Trust, string Method, float[] Embedding) LibraryTsne(MLContext ml, float[] input, int n, bool trust = true)
    {
        var rows = new List<Pca30Row>(n);
        for (int i = 0; i < n; i++) rows.Add(new Pca30Row { Features = input.AsSpan(i * PcaDims, PcaDims).ToArray() });
        var view = ml.Data.LoadFromEnumerable(rows);
        var sw = Stopwatch.StartNew();
        var t = ml.Transforms.ProjectToTsne(new TsneOptions { InputColumnName = "Features", OutputColumnName = "Tsne" }).Fit(view);
        double secs = sw.Elapsed.TotalSeconds;
        var emb = t.GetTrainingEmbedding();
        double tw = trust ? EmbeddingQuality.Trustworthiness(input, PcaDims, emb, 2, k: 10) : double.NaN;
        var result = (secs, t.KlDivergence, tw, t.Method.ToString(), emb);
        t.Release();
        return result;
    }

    /// <summary>
    /// PCA-30 of <paramref name="count"/> rows (fitted on them): the covariance's eigenvectors in double precision, as
    /// <c>PcaBaseline</c> computes them, and the centred rows projected; float32, row-major.
    /// </summary>
    private static float[] Pca30(ReadOnlySpan<float> pixels, int count)
    {
        using var scope = NewDisposeScope();
        var x = torch.tensor(pixels.ToArray(), new long[] { count, Pixels }).to(ScalarType.Float64);
        var centered = x - x.mean(new long[] { 0 });
        var covariance = centered.T.matmul(centered) / Math.Max(1, count - 1);
        var (_, vectors) = linalg.eigh(covariance);
        var top = vectors.narrow(1, Pixels - PcaDims, PcaDims).flip(1);
        var projected = centered.matmul(top).to(ScalarType.Float32).contiguous();
        return projected.data<float>().ToArray();
    }

    /// <summary>The library's time for all 70,000 images: pixels → PCA-30 → t-SNE (sklearn only with --tsne-all-ref).</summary>
    private static void TsneAllImages(Config cfg, MLContext ml, FashionMnistSplit train, FashionMnistSplit test, string script, string dataDir, string tmp)
    {
        int n = train.Count + test.Count;
        Header($"(g) t-SNE of all {n:N0} images (train + test): pixels -> PCA-30 -> t-SNE, library defaults{(cfg.TsneAllRef ? ", then sklearn on the same PCA-30 rows" : " (no sklearn run: --tsne-all-ref adds it)")}");
        var all = new float[(long)n * Pixels];
        train.Pixels.CopyTo(all, 0);
        test.Pixels.CopyTo(all, train.Pixels.Length);
        Collect();
        var sw = Stopwatch.StartNew();
        var input = Pca30(all, n);
        double pcaSecs = sw.Elapsed.TotalSeconds;
        all = null!;
        Collect();
        var (secs, kl, _, method, _) = LibraryTsne(ml, input, n, trust: false);
        Console.WriteLine($"    library: PCA-30 {pcaSecs:F1}s + t-SNE {secs:F1}s = {pcaSecs + secs:F1}s; KL {kl:F4}; method {method} (trustworthiness not computed at this size)");
        string refText = "";
        double? ratio = null;
        if (cfg.TsneAllRef)
        {
            string file = Path.Combine(tmp, $"pca30-{n}.f32");
            File.WriteAllBytes(file, MemoryMarshal.AsBytes(input.AsSpan()).ToArray());
            var args = $"\"{script}\" --script knn_tsne.py --task tsne --data \"{dataDir}\" --threads {cfg.SklearnThreads ?? cfg.Threads} --input-file \"{file}\" --input-dims {PcaDims} --seed 0 --json";
            if (RunReference(args, "(g) t-SNE all", 0, out double procSecs) is { } doc)
            {
                using (doc)
                {
                    var root = doc.RootElement;
                    double r = root.GetProperty("tsne_seconds").GetDouble();
                    Console.WriteLine($"    sklearn: t-SNE {r:F1}s, KL {root.GetProperty("kl_divergence").GetDouble():F4}, trustworthiness {root.GetProperty("trustworthiness_k10").GetDouble():F4} (process {procSecs:F1}s)");
                    refText = $"{r:F1}";
                    ratio = r / secs;
                }
            }
        }
        Table.Add(new Row($"(g) t-SNE all {n:N0} images: PCA-30 + t-SNE s ({method})", $"{pcaSecs:F1} + {secs:F1}", refText, ratio, "(info)", null));
        Table.Add(new Row($"(g) t-SNE all {n:N0} images KL divergence", $"{kl:F4}", "", null, "(info)", null));
    }
}
