using Ml.Autoencoders.Runtime;

namespace Ml.Autoencoders.Tests;

/// <summary>Process-wide settings for the test run.</summary>
[TestClass]
public static class TestSetup
{
    /// <summary>
    /// Test networks are tiny: one intra-op thread is faster for them than two, and it keeps the suite's
    /// time steady on a loaded machine (libtorch's worker threads spin while they wait).
    /// </summary>
    [AssemblyInitialize]
    public static void SingleThreadedTorch(TestContext context)
    {
        TorchRuntime.EnsureLoaded();
        TorchSharp.torch.set_num_threads(1);
    }
}
