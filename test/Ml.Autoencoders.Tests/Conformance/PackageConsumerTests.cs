using System.Diagnostics;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The package works for someone who is not us: test/consumer/run.sh packs the two packages from this checkout, makes
/// a console app outside the repository with <c>dotnet new console</c>, adds the package and the CPU backend, and runs
/// the quick start (test/consumer/Program.cs), which checks its own output and saves a pipeline (autoencoder, then a k-NN
/// classifier) with <c>mlContext.Model.Save</c>; a second process of the app loads it with a plain <c>mlContext.Model.Load</c>
/// (no registration call) and checks the outputs bit for bit. All of it on Microsoft.ML 5.0.1 and on 6.0.0 (the app adds
/// each in turn; the run checks which one it ran on), and 6.0.0 also loads the pipeline saved on 5.0.1. Needs the machine's
/// NuGet source for Microsoft.ML, TorchSharp and the backend, as every build here does.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    /// <summary>The packed library installs into a fresh console app, its quick start runs and checks itself, and a fresh
    /// process loads the saved pipeline with no registration call, on each Microsoft.ML version the package supports.</summary>
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void AFreshConsoleAppInstallsThePackageAndRunsTheQuickStart()
    {
        string root = RepositoryRoot();
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "test", "consumer", "run.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        start.Environment.Remove("MSBuildExtensionsPath"); // the test host's MSBuild settings must not leak into the user's build
        start.Environment.Remove("MSBUILD_EXE_PATH");
        start.Environment.Remove("MSBuildSDKsPath");
        start.Environment["ML_AUTOENCODERS_MLNET_VERSIONS"] = "5.0.1 6.0.0"; // the versions this test proves, whatever the caller's environment says
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        string output = stdout.Result + stderr.Result;
        Assert.AreEqual(0, process.ExitCode, "test/consumer/run.sh failed:\n" + output);
        StringAssert.Contains(output, "QUICKSTART OK");
        StringAssert.Contains(output, "Microsoft.ML 5.0.1");
        StringAssert.Contains(output, "Microsoft.ML 6.0.0");
        StringAssert.Contains(output, "with a new MLContext and no registration call: all 600 rows identical");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ml.Autoencoders.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No Ml.Autoencoders.sln above {AppContext.BaseDirectory}.");
    }
}
