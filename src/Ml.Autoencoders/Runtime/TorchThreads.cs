using System.Runtime.InteropServices;
using TorchSharp;

namespace Ml.Autoencoders.Runtime;

/// <summary>
/// How the library uses libtorch's CPU threads: a thread count set for one call and restored after it, and OpenMP
/// workers that sleep instead of spinning while they wait.
/// </summary>
internal static class TorchThreads
{
    /// <summary>
    /// Sets libtorch's intra-op thread count to <paramref name="threads"/> (0 = leave it) until the returned scope is
    /// disposed, then restores the count that was in force. The count is process-wide in libtorch: two calls that run
    /// at the same time with different counts see whichever was set last.
    /// </summary>
    public static IDisposable Use(int threads)
    {
        if (threads <= 0) return NoScope.Instance;
        int before = torch.get_num_threads();
        if (before != threads) torch.set_num_threads(threads);
        return new Scope(before, threads);
    }

    private sealed class Scope(int before, int set) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0 && torch.get_num_threads() == set && before != set)
                torch.set_num_threads(before);
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

    /// <summary>What <see cref="PreferPassiveWaiting"/> found or did, for <see cref="TorchRuntime.EnsureLoaded"/>'s description.</summary>
    public static string WaitPolicy { get; private set; } = "not checked";

    /// <summary>
    /// libtorch's OpenMP workers (GNU libgomp on Linux) spin while they wait for work by default. When another process
    /// uses the cores, a spinning worker holds a core the thread it waits for needs, and each of the thousands of small
    /// parallel regions in a fit waits for the scheduler: a 16-d autoencoder on 1,437 x 64 rows took 1.5-5.6 s per epoch
    /// with 2 threads next to other work, against 0.03-0.25 s with 1 thread or with passive waiting (bench part j).
    /// libgomp reads OMP_WAIT_POLICY once, when it is loaded; so before libtorch is first loaded, and only where the
    /// host has not set it, this sets it to PASSIVE in the process environment. A host value (OMP_WAIT_POLICY=ACTIVE
    /// for a dedicated machine) is left alone; if libtorch was loaded before the library (the application used
    /// TorchSharp first), it is too late and the description says so.
    /// </summary>
    public static void PreferPassiveWaiting()
    {
        if (!OperatingSystem.IsLinux())
        {
            WaitPolicy = "OpenMP wait policy left to the platform";
            return;
        }
        string? host = Marshal.PtrToStringAnsi(GetEnv("OMP_WAIT_POLICY"));
        if (host is not null)
        {
            WaitPolicy = $"OMP_WAIT_POLICY={host} (host)";
            return;
        }
        if (OpenMpAlreadyLoaded())
        {
            WaitPolicy = "OpenMP loaded before Ml.Autoencoders (spin-waiting; set OMP_WAIT_POLICY=PASSIVE before start on a shared machine)";
            return;
        }
        WaitPolicy = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0
            ? "OMP_WAIT_POLICY=PASSIVE (set by Ml.Autoencoders)"
            : "OMP_WAIT_POLICY could not be set (spin-waiting)";
    }

    private static bool OpenMpAlreadyLoaded()
    {
        try
        {
            return File.ReadLines("/proc/self/maps").Any(l => l.Contains("libgomp", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPStr)] string name);

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPStr)] string name, [MarshalAs(UnmanagedType.LPStr)] string value, int overwrite);
}
