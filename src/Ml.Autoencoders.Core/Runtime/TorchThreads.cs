using System.Diagnostics;
using TorchSharp;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// How the library uses libtorch's CPU threads: a thread count set for one call and restored after it, and, with the
/// default count, one thread while other processes keep the cores busy.
/// </summary>
internal static class TorchThreads
{
    /// <summary>
    /// Sets libtorch's intra-op thread count to <paramref name="threads"/> until the returned scope is disposed, then
    /// restores the count that was in force. With 0 (libtorch's default count), the scope instead watches the machine
    /// while the caller trains (<see cref="Poll"/>, Linux): see <see cref="LoadWatch"/>. The count is process-wide in
    /// libtorch: two calls that run at the same time with different counts see whichever was set last. Inside a scope with
    /// an explicit count on the same thread (the anomaly detector's <c>Threads</c> around its members' fits), 0 keeps that
    /// count and does not watch.
    /// </summary>
    public static IDisposable Use(int threads)
    {
        if (threads <= 0)
        {
            if (managedThreads > 0) return NoScope.Instance; // an enclosing call asked for a count: it holds
            if (!OperatingSystem.IsLinux() || torch.get_num_threads() <= 1 || LoadWatch.Sample() is null) return NoScope.Instance;
            return current = new LoadWatch(torch.get_num_threads(), current);
        }
        int before = torch.get_num_threads();
        if (before != threads) torch.set_num_threads(threads);
        return new Scope(before, threads, managedThreads);
    }

    [ThreadStatic]
    private static int managedThreads;

    /// <summary>
    /// Options for the library's managed parallel loops (t-SNE, k-NN) started on this thread: at most the count of the
    /// innermost <see cref="Use"/> scope with an explicit count, else the runtime's default.
    /// </summary>
    public static ParallelOptions Parallel => new() { MaxDegreeOfParallelism = managedThreads > 0 ? managedThreads : -1 };

    [ThreadStatic]
    private static LoadWatch? current;

    /// <summary>Called by the training loops before each batch: lets the innermost watching scope of this thread look at the machine (at most every 0.25 s).</summary>
    public static void Poll() => current?.Poll();

    private sealed class Scope : IDisposable
    {
        private readonly int before, set, managedBefore;
        private int disposed;

        public Scope(int before, int set, int managedBefore)
        {
            (this.before, this.set, this.managedBefore) = (before, set, managedBefore);
            managedThreads = set;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            managedThreads = managedBefore;
            if (torch.get_num_threads() == set && before != set) torch.set_num_threads(before);
        }
    }

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose()
        {
        }
    }

    /// <summary>
    /// libtorch's OpenMP workers (GNU libgomp) spin while they wait for work. On a quiet machine that is what makes two
    /// threads pay (a passive wait policy costs about a third of a quiet fit's speed); next to another busy process a
    /// spinning worker holds a core the thread it waits for needs, and every small parallel region waits for the
    /// scheduler, so fits slow down by orders of magnitude (figures in bench/README.md, parts c and j). So while a fit runs with the default thread count, this
    /// measures, every 0.25 s, how much CPU other processes use (/proc/stat minus this process's /proc/self/stat): from
    /// <see cref="BusyCores"/> cores on it trains with one thread (no parallel regions, nothing spins), and back with the
    /// default count once they use less than <see cref="QuietCores"/>.
    /// </summary>
    internal sealed class LoadWatch : IDisposable
    {
        /// <summary>Other processes' CPU use, in cores, from which training drops to one thread.</summary>
        public const double BusyCores = 0.4;

        /// <summary>Other processes' CPU use, in cores, below which training goes back to the default count.</summary>
        public const double QuietCores = 0.2;

        private static readonly TimeSpan Interval = TimeSpan.FromSeconds(0.25);
        private readonly int defaultThreads;
        private readonly LoadWatch? outer;
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private (long Busy, long Total, long Self)? last;
        private bool disposed;

        public LoadWatch(int defaultThreads, LoadWatch? outer)
        {
            this.defaultThreads = defaultThreads;
            this.outer = outer;
            last = Sample();
        }

        /// <summary>True while training runs with one thread because other processes are busy.</summary>
        public bool Reduced { get; private set; }

        public void Poll()
        {
            if (disposed || clock.Elapsed < Interval) return;
            clock.Restart();
            var now = Sample();
            if (now is not { } n || last is not { } l) return;
            last = n;
            long total = n.Total - l.Total;
            if (total <= 0) return;
            double others = Math.Max(0, n.Busy - l.Busy - (n.Self - l.Self)) * (double)Environment.ProcessorCount / total;
            Apply(Decide(Reduced, others));
        }

        /// <summary>Trains with one thread (<paramref name="reduce"/>) or the default count from now on.</summary>
        internal void Apply(bool reduce)
        {
            if (reduce == Reduced || disposed) return;
            Reduced = reduce;
            torch.set_num_threads(reduce ? 1 : defaultThreads);
        }

        /// <summary>Whether to train with one thread, given whether it does now and other processes' use in cores (hysteresis between <see cref="QuietCores"/> and <see cref="BusyCores"/>).</summary>
        internal static bool Decide(bool reduced, double otherCores) => reduced ? otherCores >= QuietCores : otherCores >= BusyCores;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            if (Reduced) torch.set_num_threads(defaultThreads);
            current = outer;
        }

        /// <summary>Busy and total ticks of all CPUs (/proc/stat) and this process's own ticks (/proc/self/stat); null where unreadable.</summary>
        internal static (long Busy, long Total, long Self)? Sample()
        {
            try
            {
                string? cpu = File.ReadLines("/proc/stat").FirstOrDefault();
                string self = File.ReadAllText("/proc/self/stat");
                if (cpu is null || !cpu.StartsWith("cpu ", StringComparison.Ordinal)) return null;
                var f = cpu.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
                if (f.Length < 8) return null;
                long busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7]; // user nice system irq softirq steal
                long total = busy + f[3] + f[4];                    // + idle iowait
                var p = self[(self.LastIndexOf(')') + 2)..].Split(' ');
                long own = long.Parse(p[11]) + long.Parse(p[12]);   // utime stime (fields 14 and 15)
                return (busy, total, own);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or OverflowException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Refuses a thread count below 0 or above <paramref name="maxPerCore"/> per core of this machine (oversubscribed
    /// threads make training many times slower, never faster), naming the option <paramref name="option"/>.
    /// </summary>
    public static void Check(int threads, string option, int maxPerCore)
    {
        if (threads < 0) throw new ArgumentOutOfRangeException(option, threads, $"{option} must be >= 0 (0 keeps TorchSharp's default).");
        int cores = Environment.ProcessorCount;
        if (threads > maxPerCore * cores)
            throw new ArgumentOutOfRangeException(option, threads,
                $"{option} = {threads} is more than {maxPerCore} per core on this machine ({cores} cores, so at most {maxPerCore * cores}); oversubscribed threads make training many times slower. Use 0 for TorchSharp's default.");
    }
}
