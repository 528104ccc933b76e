using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Ml.Autoencoders.Neighbors;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// (s) Where the scoring path's time goes, side by side in one process: the classic net's cursor and prediction engine
/// against the raw forward passes of (b) and against their own parts (the source data view read alone, the model's
/// forward on arrays), and the k-NN pipeline against <c>Model.Predict</c> on the same rows. Every figure is wall time
/// and process CPU time (all threads) per row, interleaved over the repetitions; CPU time moves less with the load.
/// </summary>
internal static partial class Program
{
    private sealed class Timed
    {
        public readonly List<double> Wall = new(), Cpu = new();
        public void Add(double wall, double cpu)
        {
            Wall.Add(wall);
            Cpu.Add(cpu);
        }
    }

    /// <summary>Runs <paramref name="body"/> once; wall and process CPU seconds per row (microseconds).</summary>
    private static (double Wall, double Cpu) PerRow(int rows, Action body)
    {
        Collect();
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        body();
        sw.Stop();
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        return (sw.Elapsed.TotalMilliseconds * 1000 / rows, cpu.TotalMilliseconds * 1000 / rows);
    }

    private static void PartS(Config cfg, MLContext ml, FashionMnistSplit train, FashionMnistSplit test)
    {
        int rows = cfg.TransformRows, peRows = Math.Min(cfg.PredictionEngineRows, rows);
        Header($"(s) Scoring path, classic 784-64-32-16 ReLU: where the time goes; cursor over {rows:N0} rows, one-row paths over {peRows:N0} rows, {cfg.Reps} reps interleaved; " +
               "microseconds per row, wall (process CPU, all threads)");
        var fitRows = train.Take(Math.Min(train.Count, 10_000));
        var options = ClassicOptions(1);
        options.Threads = cfg.Threads;
        var transformer = ml.Transforms.Autoencoder(options).Fit(ml.Data.LoadFromEnumerable(ToRows(fitRows, fitRows.Count)));
        var view = ml.Data.LoadFromEnumerable(RepeatRows(test, rows));
        var transformed = transformer.Transform(view);
        var latentCol = transformed.Schema[AutoencoderColumnNames.LatentCode];
        var featureCol = view.Schema["Features"];
        var peInputs = RepeatRows(test, peRows);
        using var engine = ml.Model.CreatePredictionEngine<ImageRow, LatentRow>(transformer);
        using var encoder = RawEncoder(new[] { 64, 32 }, Activation.ReLU, Activation.ReLU);
        encoder.eval();
        var model = transformer.Model;
        // The same path with a network whose forward pass costs almost nothing (784-2, no hidden layer): what remains per
        // row is the path's own cost (reading, copying and checking rows, serving codes), which does not shrink with
        // more libtorch threads: on a quiet machine it is what keeps the cursor below the raw loop.
        var tinyOptions = new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = [], CodeActivation = Activation.ReLU, Epochs = 1, BatchSize = Batch, Seed = 0, Threads = cfg.Threads };
        var tiny = ml.Transforms.Autoencoder(tinyOptions).Fit(ml.Data.LoadFromEnumerable(ToRows(fitRows, 2_000)));
        var tinyTransformed = tiny.Transform(view);
        var tinyLatent = tinyTransformed.Schema[AutoencoderColumnNames.LatentCode];
        using var tinyEncoder = RawEncoder(Array.Empty<int>(), Activation.ReLU, Activation.ReLU, latent: 2);
        tinyEncoder.eval();

        var parts = new (string Name, string What, int Rows, Action Run)[]
        {
            ("source", "the input data view alone: LoadFromEnumerable cursor + Features getter per row (ML.NET's cost, in every cursor)", rows, () => CursorPass(view, featureCol, rows)),
            ("cursor", "library cursor: Transform(view) + LatentCode getter per row", rows, () => CursorPass(transformed, latentCol, rows)),
            ("model", "Model.Encode(span, 1024 rows) per batch on a managed array (the model's forward, no ML.NET)", rows, () => ModelBatchedPass(model, test, rows, 1024)),
            ("raw", "raw batch-1024 forward of (b)", rows, () => RawBatchedPass(encoder, test, rows, 1024, 16)),
            ("cursor-2", "library cursor, network 784-2: the path's own cost per row (reading, copying, checking, serving)", rows, () => CursorPass(tinyTransformed, tinyLatent, rows)),
            ("raw-2", "raw batch-1024 forward, network 784-2: the raw loop's own cost per row", rows, () => RawBatchedPass(tinyEncoder, test, rows, 1024, 2)),
            ("engine", "PredictionEngine<ImageRow, LatentRow>.Predict(row, ref result) per row", peRows, () => PredictionEnginePass(engine, peInputs)),
            ("model-1", "Model.Encode(float[]) per row", peRows, () => ModelRowPass(model, test, peRows)),
            ("raw-1", "raw 1-row forward of (b)", peRows, () => RawBatchedPass(encoder, test, peRows, 1, 16)),
        };
        if (cfg.ScoringParts is { } only) parts = parts.Where(p => only.Contains(p.Name)).ToArray();
        foreach (var p in parts) Console.WriteLine($"    {p.Name,-8}: {p.What}");
        foreach (var p in parts) PerRow(Math.Min(p.Rows, 2000), p.Run); // warm-up: JIT, oneDNN primitive caches
        var times = parts.ToDictionary(p => p.Name, _ => new Timed());
        for (int r = 0; r < cfg.Reps; r++)
        {
            var line = new List<string>();
            // Every other repetition runs the parts in reverse order, so each library part and its raw counterpart run
            // first equally often (the part after the batched ones otherwise meets libtorch's workers still spinning).
            foreach (var p in r % 2 == 0 ? parts : parts.Reverse())
            {
                var (wall, cpu) = PerRow(p.Rows, p.Run);
                times[p.Name].Add(wall, cpu);
                line.Add($"{p.Name} {wall:F2} ({cpu:F2})");
            }
            Console.WriteLine($"    rep {r + 1}: {string.Join(" | ", line)}  [load {LoadAverage()}]");
        }
        if (cfg.ScoringParts is { } subset)
        {
            transformer.Release(); // a subset (for a profiler): no ratios
            tiny.Release();
            if (subset.Any(p => p.StartsWith("knn-", StringComparison.Ordinal))) KnnPipelineVsArray(cfg, ml, train, test);
            return;
        }
        Console.WriteLine("    => medians, microseconds per row, wall (CPU): " + string.Join(" | ", parts.Select(p => $"{p.Name} {Median(times[p.Name].Wall):F2} ({Median(times[p.Name].Cpu):F2})")));
        RatioRow("(s) cursor vs raw batched, rows/s (= raw / cursor time)", times["cursor"], times["raw"], ">= 0.80", 0.80);
        RatioRow("(s) cursor vs Model.Encode batched", times["cursor"], times["model"], "(info)", null);
        RatioRow("(s) Model.Encode batched vs raw batched", times["model"], times["raw"], "(info)", null);
        Console.WriteLine($"    => the source view alone takes {Median(times["source"].Wall) / Median(times["cursor"].Wall):P0} of the cursor's wall time per row " +
                          $"({Median(times["source"].Cpu) / Median(times["cursor"].Cpu):P0} of its CPU time)");
        double ownCursor = Median(times["cursor-2"].Cpu) - Median(times["source"].Cpu), ownRaw = Median(times["raw-2"].Cpu);
        Console.WriteLine($"    => per-row cost beyond the forward pass (784-2 network, process CPU): cursor {Median(times["cursor-2"].Cpu):F3} us " +
                          $"(of which the source view {Median(times["source"].Cpu):F3}), raw loop {ownRaw:F3} us");
        Table.Add(new Row("(s) per-row cost beyond the forward (784-2 net, CPU us): cursor minus source view / raw loop", $"{ownCursor:F3}", $"{ownRaw:F3}", null, "(info)", null));
        Table.Add(new Row("(s) per-row cost of the source view alone (CPU us)", $"{Median(times["source"].Cpu):F3}", "", null, "(info)", null));
        RatioRow("(s) PredictionEngine vs raw 1-row", times["engine"], times["raw-1"], ">= 0.90", 0.90);
        RatioRow("(s) Model.Encode(row) vs raw 1-row", times["model-1"], times["raw-1"], "(info)", null);
        transformer.Release();
        tiny.Release();

        if (cfg.KnnTestRows != 0) KnnPipelineVsArray(cfg, ml, train, test);
    }

    /// <summary>A library/reference row of per-row times: ratio = reference time / library time (a speed ratio), wall and CPU.</summary>
    private static void RatioRow(string figure, Timed library, Timed reference, string target, double? min)
    {
        double wall = Median(reference.Wall) / Median(library.Wall), cpu = Median(reference.Cpu) / Median(library.Cpu);
        // Each repetition ran both sides back to back: the median of the per-repetition ratios follows the load less.
        double paired = Median(library.Wall.Zip(reference.Wall, (l, r) => r / l));
        Console.WriteLine($"    => {figure}: {wall:F3} wall, {cpu:F3} CPU (ratios of the medians); median of the per-repetition wall ratios {paired:F3}");
        Table.Add(new Row($"{figure} [median of {library.Wall.Count} per-rep wall ratios]", "", "", paired, "(info)", null));
        Table.Add(new Row($"{figure} [median of {library.Wall.Count}, wall]", $"{Median(library.Wall):F2} us", $"{Median(reference.Wall):F2} us", wall, target, min is { } m ? wall >= m : null));
        Table.Add(new Row($"{figure} [median of {library.Wall.Count}, process CPU]", $"{Median(library.Cpu):F2} us", $"{Median(reference.Cpu):F2} us", cpu, "(info)", null));
    }

    /// <summary>The k-NN pipeline (Transform + cursor over PredictedLabel) against Model.Predict on the same rows, interleaved.</summary>
    private static void KnnPipelineVsArray(Config cfg, MLContext ml, FashionMnistSplit fullTrain, FashionMnistSplit fullTest)
    {
        var train = fullTrain.Take(Math.Min(fullTrain.Count, cfg.KnnTrainRows ?? 20_000));
        var test = fullTest.Take(Math.Min(fullTest.Count, cfg.KnnTestRows ?? 4_000));
        Header($"(s) k-NN pipeline vs Model.Predict: train {train.Count:N0}, test {test.Count:N0}, k = {KnnK}, Euclidean, {cfg.Reps} reps interleaved");
        var knn = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors("Label", "Features", KnnK, NeighborMetric.Euclidean, NeighborWeighting.Uniform))
            .Fit(ml.Data.LoadFromEnumerable(LabeledRows(train))).LastTransformer;
        var testView = ml.Data.LoadFromEnumerable(LabeledRows(test));
        var classOf = ClassToDigit(knn.Model);
        int[] viaPipeline = Array.Empty<int>(), viaArray = Array.Empty<int>();
        var parts = new (string Name, Action Run)[]
        {
            ("pipeline", () => viaPipeline = PredictThroughCursor(knn, testView, classOf)),
            ("array", () => viaArray = knn.Model.Predict(test.Pixels, test.Count).Classes.Select(c => classOf[c]).ToArray()),
            ("chunks", () =>
            {
                for (int start = 0; start < test.Count; start += knn.TransformBatchSize)
                {
                    int n = Math.Min(knn.TransformBatchSize, test.Count - start);
                    knn.Model.Predict(test.Pixels.AsSpan(start * Pixels, n * Pixels), n);
                }
            }),
        };
        if (cfg.ScoringParts is { } only) parts = parts.Where(p => only.Contains("knn-" + p.Name)).ToArray();
        foreach (var p in parts) p.Run();
        var times = parts.ToDictionary(p => p.Name, _ => new Timed());
        for (int r = 0; r < cfg.Reps; r++)
        {
            var line = new List<string>();
            foreach (var p in parts)
            {
                var (w, c) = PerRow(test.Count, p.Run);
                times[p.Name].Add(w, c);
                line.Add($"{p.Name} {w:F1} ({c:F1})");
            }
            Console.WriteLine($"    rep {r + 1}: {string.Join(" | ", line)} us per row  [load {LoadAverage()}]");
        }
        if (parts.Length < 2) return; // a subset (for a profiler): no ratios
        int differ = viaPipeline.Zip(viaArray).Count(x => x.First != x.Second);
        Console.WriteLine($"    => predictions differing between pipeline and Model.Predict: {differ} of {test.Count}");
        double wall = Median(times["pipeline"].Wall) / Median(times["array"].Wall), cpu = Median(times["pipeline"].Cpu) / Median(times["array"].Cpu);
        Console.WriteLine($"    => pipeline / Model.Predict time: {wall:F3} wall, {cpu:F3} CPU");
        Table.Add(new Row($"(s) k-NN pipeline / Model.Predict time [{train.Count / 1000}k x {test.Count / 1000}k, median of {cfg.Reps}, wall]",
            $"{Median(times["pipeline"].Wall):F1} us", $"{Median(times["array"].Wall):F1} us", wall, "<= 1.20", wall <= 1.2));
        Table.Add(new Row("(s) k-NN pipeline / Model.Predict time [process CPU]", $"{Median(times["pipeline"].Cpu):F1} us", $"{Median(times["array"].Cpu):F1} us", cpu, "(info)", null));
        Table.Add(new Row("(s) k-NN predictions differing, pipeline vs Model.Predict", $"{differ}", "", null, "0", differ == 0));
        knn.Release();
    }

    /// <summary>As <see cref="RawBatchedPass"/>, through <c>Model.Encode</c>: rows copied into a batch array, codes returned in a new one.</summary>
    private static double ModelBatchedPass(Models.AutoencoderModel model, FashionMnistSplit test, int rows, int batch)
    {
        var input = new float[batch * Pixels];
        double check = 0;
        int done = 0;
        while (done < rows)
        {
            int start = done % test.Count;
            int count = Math.Min(Math.Min(batch, rows - done), test.Count - start);
            Array.Copy(test.Pixels, start * Pixels, input, 0, count * Pixels);
            check += model.Encode(input.AsSpan(0, count * Pixels), count)[0];
            done += count;
        }
        return check;
    }

    private static double ModelRowPass(Models.AutoencoderModel model, FashionMnistSplit test, int rows)
    {
        double check = 0;
        var row = new float[Pixels];
        for (int i = 0; i < rows; i++)
        {
            Array.Copy(test.Pixels, i % test.Count * Pixels, row, 0, Pixels);
            check += model.Encode(row)[0];
        }
        return check;
    }
}
