using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Bench;

/// <summary>
/// <c>--stream</c>: Fit streams a generated data view far larger than this machine's memory (rows made on the fly by
/// <see cref="GeneratedImages"/>), printing resident and managed memory every few seconds against the documented bound
/// (ShuffleBufferRows + 2 x BatchSize) x features x 4 bytes; training is cancelled after a time budget (the point is
/// the memory, not convergence), which also shows cancellation at a batch boundary.
/// </summary>
internal static class StreamBench
{
    public static int Run(string[] args)
    {
        long rows = 12_000_000;
        int seconds = 120, batch = 256, buffer = 16_384, threads = 2, every = 5;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--stream": break;
                case "--rows": rows = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--buffer": buffer = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--every": every = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--help":
                    Console.WriteLine("bench --stream [--rows N (12,000,000)] [--seconds S of training before cancelling (120)] [--batch N (256)] [--buffer ShuffleBufferRows (16,384)] [--threads T (2)] [--every S between readings (5)]");
                    return 0;
                default: Console.Error.WriteLine($"Unknown option {args[i]} (try --stream --help)"); return 2;
            }
        }

        const int features = GeneratedImages.Size;
        double dataGb = rows * (double)features * sizeof(float) / 1e9, machineGb = TotalMemoryBytes() / 1e9;
        double boundMb = (buffer + 2.0 * batch) * features * sizeof(float) / 1048576.0;
        Console.WriteLine($"Streaming Fit over {rows:N0} generated rows x {features} floats = {dataGb:F1} GB ({dataGb / machineGb:F1}x this machine's {machineGb:F1} GB of memory)");
        Console.WriteLine($"Shuffle buffer {buffer:N0} rows, batch {batch}: bound (buffer + 2 x batch) x features x 4 bytes = {boundMb:F1} MB, plus the network and optimizer");

        var ml = new MLContext(seed: 1);
        var source = new CountingView(new GeneratedImages(rows));
        using var cancel = new CancellationTokenSource();
        var options = new AutoencoderOptions
        {
            HiddenLayerSizes = [128], LatentDimension = 32, Epochs = 1, BatchSize = batch, ShuffleBufferRows = buffer, Threads = threads,
            CancellationToken = cancel.Token, Seed = 1,
        };
        // Auto streams what does not fit MaxCacheBytes; a smaller --rows would be cached, so name streaming for it.
        if (rows * (long)features * sizeof(float) <= options.MaxCacheBytes) options.Caching = DataCaching.Stream;
        Console.WriteLine($"Caching = {options.Caching} (MaxCacheBytes {options.MaxCacheBytes / 1048576.0:F0} MB)");
        // Warm up libtorch, the JIT and the thread pools on a small slice, so the baseline includes them.
        ml.Transforms.Autoencoder(new AutoencoderOptions { HiddenLayerSizes = [128], LatentDimension = 32, Epochs = 1, BatchSize = batch, Threads = threads })
            .Fit(new GeneratedImages(20_000)).Model.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        double baseRss = SoakBench.ResidentMb(), baseManaged = GC.GetTotalMemory(true) / 1048576.0, peakRss = baseRss;
        Console.WriteLine($"baseline after warm-up: resident {baseRss:F0} MB, managed {baseManaged:F0} MB");
        Console.WriteLine("  time  phase          rows read   resident  (growth)   managed  GC committed  native (resident - GC committed)");

        var clock = Stopwatch.StartNew();
        double trainingStarted = double.NaN;
        bool done = false;
        var samples = new List<(double Rows, double Rss)>(); // (rows trained, resident MB) during training
        var monitor = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                Thread.Sleep(every * 1000);
                if (Volatile.Read(ref done)) break;
                int pass = source.Passes;
                double rss = SoakBench.ResidentMb(), committed = GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0;
                peakRss = Math.Max(peakRss, rss);
                if (pass >= 2 && double.IsNaN(trainingStarted)) trainingStarted = clock.Elapsed.TotalSeconds;
                string phase = pass <= 1 ? "checking pass" : "training";
                if (pass >= 2) lock (samples) samples.Add((source.RowsInPass, rss));
                Console.WriteLine($"{clock.Elapsed.TotalSeconds,6:F0}s  {phase,-13} {source.RowsInPass,11:N0} {rss,9:F0} MB ({rss - baseRss,+6:F0}) {GC.GetTotalMemory(false) / 1048576.0,7:F0} MB {committed,9:F0} MB {rss - committed,9:F0} MB");
                if (!double.IsNaN(trainingStarted) && clock.Elapsed.TotalSeconds - trainingStarted >= seconds) cancel.Cancel();
            }
        }) { IsBackground = true };
        monitor.Start();
        string end;
        try
        {
            ml.Transforms.Autoencoder(options).Fit(source).Model.Dispose();
            end = "the epoch completed";
        }
        catch (OperationCanceledException)
        {
            end = $"cancelled after {seconds} s of training, at a batch boundary (OperationCanceledException), as planned";
        }
        Volatile.Write(ref done, true);
        monitor.Join();
        long trained = source.Passes >= 2 ? source.RowsInPass : 0;
        peakRss = Math.Max(peakRss, SoakBench.ResidentMb());
        Console.WriteLine($"end: {end}; {trained:N0} rows trained in the streamed epoch, {clock.Elapsed.TotalSeconds:F0} s in all");
        double growth = peakRss - baseRss;
        Console.WriteLine($"peak resident growth {growth:F0} MB while streaming {dataGb:F1} GB; bound {boundMb:F1} MB + network (the rest is libtorch's and the");
        Console.WriteLine($"  allocators' working memory, which levels off); {(growth < dataGb * 1000 / 10 ? "PASS" : "FAIL")} (growth < a tenth of the data)");
        var late = samples.Skip(samples.Count / 2).ToArray();
        if (late.Length >= 3 && late[^1].Rows > late[0].Rows)
        {
            double slope = SoakBench.LeastSquaresSlope(late.Select(x => x.Rows / 1e6).ToArray(), late.Select(x => x.Rss).ToArray());
            Console.WriteLine($"resident memory over the second half of training ({late[0].Rows:N0} to {late[^1].Rows:N0} rows): {slope:+0.0;-0.0} MB per million rows; " +
                              $"{(Math.Abs(slope) < 5 ? "PASS" : "FAIL")} (|slope| < 5 MB per million rows)");
        }
        return 0;
    }

    private static long TotalMemoryBytes()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    /// <summary>Passes the rows through and counts cursors (passes) and rows read in the current pass.</summary>
    private sealed class CountingView(IDataView inner) : IDataView
    {
        private int passes;
        private long rowsInPass;

        public int Passes => Volatile.Read(ref passes);

        public long RowsInPass => Interlocked.Read(ref rowsInPass);

        public bool CanShuffle => inner.CanShuffle;

        public DataViewSchema Schema => inner.Schema;

        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            Interlocked.Increment(ref passes);
            Interlocked.Exchange(ref rowsInPass, 0);
            return new Cursor(this, inner.GetRowCursor(columnsNeeded, rand));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(CountingView parent, DataViewRowCursor inner) : DataViewRowCursor
        {
            public override DataViewSchema Schema => inner.Schema;
            public override long Position => inner.Position;
            public override long Batch => inner.Batch;
            public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);
            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);
            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override bool MoveNext()
            {
                if (!inner.MoveNext()) return false;
                Interlocked.Increment(ref parent.rowsInPass);
                return true;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
