using System.Diagnostics;
using Microsoft.ML;
using Ml.Autoencoders.Runtime;
using Ml.Autoencoders.SampleData;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// (j) The same fits alone and next to a CPU-bound competitor process (one busy loop: half of a 2-core machine), with
/// default thread settings: the library's slowdown, and the library vs PyTorch ratio in both conditions. Without
/// watching the load (TorchThreads.LoadWatch), a small fit ran 20-50x slower next to other work.
/// </summary>
internal static partial class Program
{
    private static void PartJ(Config cfg, MLContext ml, IDataView trainView)
    {
        const int epochs = 3, warmup = 1;
        Header($"(j) fits alone and next to a busy process (one `while :; do :; done`), default threads ({TorchRuntime.EnsureLoaded()}), {cfg.RefReps} reps interleaved");
        string script = cfg.ReferenceScript ?? FindReferenceScript();
        string dataDir = FashionMnist.ResolveDirectory(cfg.DataDir);
        var small = ml.Data.LoadFromEnumerable(SmallTableRows(1437, 64, seed: 5));
        var results = new Dictionary<string, List<double>>();
        void Add(string key, double v) { if (!results.TryGetValue(key, out var l)) results[key] = l = new(); l.Add(v); }

        foreach (bool loaded in new[] { false, true })
        {
            for (int r = 0; r < cfg.RefReps; r++)
            {
                using var competitor = loaded ? StartCompetitor() : null;
                string tag = loaded ? "loaded" : "alone";
                Collect();
                // Default options, Threads = 0: what a new user runs. Classic dense net, full Fashion-MNIST rows.
                var options = ClassicOptions(epochs);
                options.Threads = 0;
                var t = ml.Transforms.Autoencoder(options).Fit(trainView);
                double lib = Median(t.History.Epochs.Skip(warmup).Select(e => e.SamplesPerSecond));
                t.Model.Dispose();
                Add($"lib {tag}", lib);
                var sw = Stopwatch.StartNew();
                var s = ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 16, Epochs = 30, Seed = r }).Fit(small);
                double smallSeconds = sw.Elapsed.TotalSeconds;
                s.Model.Dispose();
                Add($"small {tag}", smallSeconds);
                Console.WriteLine($"    {tag,-6} rep {r + 1}: library classic dense {lib,9:N0} samples/s; default 16-d autoencoder on 1,437 x 64 rows, 30 epochs: {smallSeconds:F2} s");
                var args = $"\"{script}\" --data \"{dataDir}\" --threads {Environment.ProcessorCount} --epochs {epochs} --warmup-epochs {warmup} --json";
                if (RunReference(args, "(j)", r, out double secs) is { } doc)
                {
                    using var _ = doc;
                    double reference = doc.RootElement.GetProperty("samples_per_s_median").GetDouble();
                    Add($"ref {tag}", reference);
                    Console.WriteLine($"    {tag,-6} rep {r + 1}: PyTorch classic dense {reference,9:N0} samples/s (process {secs:F1}s)");
                }
            }
        }

        double Med(string key) => results.TryGetValue(key, out var l) ? Median(l) : double.NaN;
        double slowdown = Med("lib alone") / Med("lib loaded");
        double smallSlowdown = Med("small loaded") / Med("small alone");
        double refSlowdown = Med("ref alone") / Med("ref loaded");
        Console.WriteLine($"    => library classic dense: {Med("lib alone"):N0} alone, {Med("lib loaded"):N0} loaded (slowdown {slowdown:F2}x); PyTorch {Med("ref alone"):N0} / {Med("ref loaded"):N0} ({refSlowdown:F2}x)");
        Console.WriteLine($"    => small fit: {Med("small alone"):F2} s alone, {Med("small loaded"):F2} s loaded (slowdown {smallSlowdown:F2}x)");
        Table.Add(new Row("(j) default Fit slowdown next to a busy process, classic dense", $"{slowdown:F2}x", "-", null, "<= 2.5x", slowdown <= 2.5));
        Table.Add(new Row("(j) default Fit slowdown next to a busy process, 1,437 x 64", $"{smallSlowdown:F2}x", "-", null, "<= 2.5x", smallSlowdown <= 2.5));
        Table.Add(new Row("(j) classic dense fit samples/s vs PyTorch, alone", Fmt(Med("lib alone")), Fmt(Med("ref alone")), Med("lib alone") / Med("ref alone"), "-", null));
        Table.Add(new Row("(j) classic dense fit samples/s vs PyTorch, next to a busy process", Fmt(Med("lib loaded")), Fmt(Med("ref loaded")), Med("lib loaded") / Med("ref loaded"), "-", null));
    }

    /// <summary>A busy shell loop, killed when disposed.</summary>
    private static Competitor StartCompetitor() => new(Process.Start(new ProcessStartInfo("sh", "-c \"while :; do :; done\"") { UseShellExecute = false })!);

    private sealed class Competitor(Process process) : IDisposable
    {
        public void Dispose()
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit();
            process.Dispose();
        }
    }

    /// <summary>Rows of a 64-feature table in [0, 1] with structure (8 latent factors), like a small image table.</summary>
    private static IEnumerable<SmallRow> SmallTableRows(int rows, int features, int seed)
    {
        var random = new Random(seed);
        var basis = new float[8, features];
        for (int k = 0; k < 8; k++) for (int j = 0; j < features; j++) basis[k, j] = (float)(random.NextDouble() * 2 - 1);
        for (int i = 0; i < rows; i++)
        {
            var f = new float[8];
            for (int k = 0; k < 8; k++) f[k] = (float)(random.NextDouble() * 2 - 1);
            var v = new float[features];
            for (int j = 0; j < features; j++)
            {
                double x = 0;
                for (int k = 0; k < 8; k++) x += f[k] * basis[k, j];
                v[j] = (float)(1 / (1 + Math.Exp(-x)));
            }
            yield return new SmallRow { Features = v };
        }
    }

    private sealed class SmallRow
    {
        [Microsoft.ML.Data.VectorType(64)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
