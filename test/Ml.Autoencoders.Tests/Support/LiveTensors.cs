using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>Checks that repeating an action leaves no native tensor alive on this thread.</summary>
internal static class LiveTensors
{
    /// <summary>Runs <paramref name="action"/> once (lazily created globals), then <paramref name="times"/> more times, and asserts the live count is unchanged.</summary>
    public static void AssertNoGrowth(Action action, int times, string what)
    {
        action();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < times; i++) action();
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, $"live tensors after {times} x {what}");
    }
}
