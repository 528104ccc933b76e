using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// <c>mlContext.Model.Save</c>/<c>Load</c> of an <see cref="AutoencoderTransformer"/>, alone and inside a chain,
/// in the same process and in a fresh one (the LoadCheck program).
/// </summary>
[TestClass]
public sealed class MlNetModelSaveLoadTests
{
    private const int Rows = 64;
    private const int Width = 8;

    private TempDirectory? temp;

    private string _tempDir => temp!.Path;

    /// <summary>Creates a fresh temporary directory for the files a test writes.</summary>
    [TestInitialize]
    public void CreateTempDir() => temp = new TempDirectory("mlnet-saveload-tests");

    /// <summary>Removes the temporary directory.</summary>
    [TestCleanup]
    public void DeleteTempDir() => temp?.Dispose();

    /// <summary>A transformer saved by <c>Model.Save</c> loads back (same context, no registration call) as an
    /// <see cref="AutoencoderTransformer"/> with identical latent codes and reconstruction errors.</summary>
    [TestMethod]
    public void Transformer_SaveLoad_SameContext_GivesIdenticalOutputs()
    {
        var mlContext = new MLContext(seed: 0);
        var data = MakeData(mlContext);
        var trained = new AutoencoderEstimator(Options()).Fit(data);
        string path = Path.Combine(_tempDir, "autoencoder.zip");

        mlContext.Model.Save(trained, data.Schema, path);
        var loaded = mlContext.Model.Load(path, out var inputSchema);

        Assert.IsInstanceOfType<AutoencoderTransformer>(loaded);
        Assert.IsNotNull(inputSchema);
        Assert.AreEqual(data.Schema[nameof(InputRow.Features)].Type, inputSchema[nameof(InputRow.Features)].Type);
        AssertSameOutputs(trained.Transform(data), loaded.Transform(data));
        ((AutoencoderTransformer)loaded).Model.Dispose();
    }

    /// <summary>A NormalizeMinMax then Autoencoder chain saved by <c>Model.Save</c> loads in a new context (its own, empty
    /// component catalog) with no call at all, after ML.NET's documented <c>ComponentCatalog.RegisterAssembly</c>, and after
    /// the <see cref="AutoencoderModelRegistration.Register"/> of earlier versions (twice, and followed by RegisterAssembly:
    /// none of them may collide with the registration that <c>Model.Load</c> does itself), with identical outputs.</summary>
    [TestMethod]
    [DataRow("none")]
    [DataRow("RegisterAssembly")]
    [DataRow("Register")]
    public void Chain_SaveLoad_OtherContext_GivesIdenticalOutputs(string registration)
    {
        var mlContext = new MLContext(seed: 0);
        var data = MakeData(mlContext);
        var chain = mlContext.Transforms.NormalizeMinMax(nameof(InputRow.Features))
            .Append(mlContext.Transforms.Autoencoder(Options()))
            .Fit(data);
        string path = Path.Combine(_tempDir, "chain.zip");

        mlContext.Model.Save(chain, data.Schema, path);
        var other = new MLContext(seed: 1);
        if (registration == "RegisterAssembly")
        {
            other.ComponentCatalog.RegisterAssembly(typeof(AutoencoderTransformer).Assembly);
        }
        else if (registration == "Register")
        {
            Assert.AreSame(other, AutoencoderModelRegistration.Register(other));
            AutoencoderModelRegistration.Register(other); // idempotent
            other.ComponentCatalog.RegisterAssembly(typeof(AutoencoderTransformer).Assembly);
        }
        var loaded = other.Model.Load(path, out _);
        var again = other.Model.Load(path, out _); // the second load registers nothing new

        var loadedChain = loaded as TransformerChain<ITransformer>;
        Assert.IsNotNull(loadedChain, $"loaded a {loaded.GetType()}");
        Assert.IsInstanceOfType<AutoencoderTransformer>(loadedChain.LastTransformer);
        AssertSameOutputs(chain.Transform(data), loaded.Transform(data));
        AssertSameOutputs(chain.Transform(data), again.Transform(data));
        chain.LastTransformer.Model.Dispose();
        ((AutoencoderTransformer)loadedChain.LastTransformer).Model.Dispose();
        ((AutoencoderTransformer)((TransformerChain<ITransformer>)again).LastTransformer).Model.Dispose();
    }

    /// <summary>A chain saved by <c>Model.Save</c> loads, with a plain <c>Model.Load</c> and no call of any kind before it,
    /// in a separate process that never touched the library before, and gives bit-identical outputs.</summary>
    [TestMethod]
    public void Chain_SaveLoad_FreshProcessWithoutAnyCall_GivesIdenticalOutputs()
    {
        var mlContext = new MLContext(seed: 0);
        var data = MakeData(mlContext);
        var chain = mlContext.Transforms.NormalizeMinMax(nameof(InputRow.Features))
            .Append(mlContext.Transforms.Autoencoder(Options()))
            .Fit(data);
        string modelPath = Path.Combine(_tempDir, "chain.zip");
        string inputPath = Path.Combine(_tempDir, "input.txt");
        string outputPath = Path.Combine(_tempDir, "output.txt");
        mlContext.Model.Save(chain, data.Schema, modelPath);
        File.WriteAllLines(inputPath, MakeRows().Select(r => string.Join(" ", r.Features.Select(Hex))));
        var transformed = chain.Transform(data);
        var expected = Zip(transformed);
        chain.LastTransformer.Model.Dispose();

        var (exitCode, stdout, stderr) = RunLoadCheck(modelPath, inputPath, outputPath);

        Assert.AreEqual(0, exitCode, $"LoadCheck failed.\nstdout: {stdout}\nstderr: {stderr}");
        StringAssert.Contains(stdout, "model TransformerChain");
        CollectionAssert.AreEqual(expected, File.ReadAllLines(outputPath));
    }

    /// <summary>The assembly declares a loader to ML.NET for every transformer the bridge carries, read the way ML.NET's
    /// <c>ComponentCatalog.RegisterAssembly</c> reads them (a kind added without its <c>LoadableClass</c> line fails here,
    /// and its save would refuse to write a model nobody could load).</summary>
    [TestMethod]
    public void EveryBridgedTransformerHasAnMlNetLoader()
    {
        var api = new Pipeline.MlNetModelBridge.Internals(typeof(ModelSaveContext).Assembly);
        Assert.HasCount(7, AutoencoderModelRegistration.Kinds);
        foreach (var kind in AutoencoderModelRegistration.Kinds)
        {
            api.CheckLoaderDeclared(kind);
        }

        var stranger = AutoencoderModelRegistration.Kinds[0] with { LoaderSignature = "NotDeclaredAnywhere" };
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => api.CheckLoaderDeclared(stranger));
        StringAssert.Contains(e.Message, "NotDeclaredAnywhere");
    }

    /// <summary>On a Microsoft.ML whose internals the bridge does not know, it fails loudly: a
    /// <see cref="NotSupportedException"/> naming the member it did not find, the assembly and its version, and the
    /// library's own Save/Load as the way out. The members are looked up in an assembly that lacks the types, then in one
    /// that has the types but not their members (a stand-in for "Microsoft.ML.Core 9.9.9").</summary>
    [TestMethod]
    public void UnknownMlNetInternals_FailWithAMessageNamingTheMemberAndVersion()
    {
        var notMlNet = typeof(MlNetModelSaveLoadTests).Assembly;
        var noTypes = Assert.ThrowsExactly<NotSupportedException>(() => new Pipeline.MlNetModelBridge.Internals(notMlNet));
        StringAssert.Contains(noTypes.Message, "'Microsoft.ML.ModelSaveContext'");
        StringAssert.Contains(noTypes.Message, notMlNet.GetName().Name!);
        StringAssert.Contains(noTypes.Message, notMlNet.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion);
        StringAssert.Contains(noTypes.Message, "Save(path)");

        var future = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Microsoft.ML.Core"), AssemblyBuilderAccess.Run);
        future.SetCustomAttribute(new CustomAttributeBuilder(
            typeof(AssemblyInformationalVersionAttribute).GetConstructor([typeof(string)])!, ["9.9.9+future"]));
        var module = future.DefineDynamicModule("Microsoft.ML.Core");
        foreach (string name in new[] { "ModelSaveContext", "VersionInfo", "ModelLoadContext", "SignatureLoadModel", "LoadableClassAttributeBase" })
        {
            module.DefineType("Microsoft.ML." + name, TypeAttributes.Public).CreateType();
        }
        var noMembers = Assert.ThrowsExactly<NotSupportedException>(() => new Pipeline.MlNetModelBridge.Internals(future));
        StringAssert.Contains(noMembers.Message, "'Microsoft.ML.VersionInfo(String, UInt32, UInt32, UInt32, String, String, String)'");
        StringAssert.Contains(noMembers.Message, "Microsoft.ML.Core (9.9.9+future)");
        StringAssert.Contains(noMembers.Message, "Save(path)");
    }

    private static AutoencoderOptions Options() => new()
    {
        LatentDimension = 3,
        HiddenLayerSizes = [6],
        Epochs = 2,
        BatchSize = 16,
        Seed = 7,
    };

    private static InputRow[] MakeRows()
    {
        var random = new Random(42);
        return Enumerable.Range(0, Rows)
            .Select(_ => new InputRow { Features = Enumerable.Range(0, Width).Select(_ => (float)random.NextDouble() * 4f - 1f).ToArray() })
            .ToArray();
    }

    private static IDataView MakeData(MLContext mlContext) => mlContext.Data.LoadFromEnumerable(MakeRows());

    private static void AssertSameOutputs(IDataView expected, IDataView actual) =>
        CollectionAssert.AreEqual(Zip(expected), Zip(actual));

    /// <summary>Per row: the bit patterns of the latent code, then of the reconstruction error (the format LoadCheck writes).</summary>
    private static string[] Zip(IDataView view)
    {
        var latent = view.GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToArray();
        var error = view.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray();
        Assert.HasCount(Rows, latent);
        Assert.HasCount(Rows, error);
        return latent.Select((code, i) => string.Join(" ", code.Select(Hex)) + " | " + Hex(error[i])).ToArray();
    }

    /// <summary>A float's bit pattern in hex, as the LoadCheck program reads and writes rows.</summary>
    internal static string Hex(float v) => BitConverter.SingleToInt32Bits(v).ToString("X8", CultureInfo.InvariantCulture);

    /// <summary>How to start the LoadCheck program (a fresh process) with <paramref name="args"/>, output redirected.</summary>
    internal static ProcessStartInfo LoadCheckStartInfo(params string[] args)
    {
        string dll = typeof(MlNetModelSaveLoadTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "MlAutoencodersLoadCheckPath").Value!;
        Assert.IsTrue(File.Exists(dll), $"LoadCheck not built at {dll}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    private static (int ExitCode, string Stdout, string Stderr) RunLoadCheck(params string[] args)
    {
        var start = LoadCheckStartInfo(args);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("LoadCheck did not finish within 120 s.");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>One synthetic input row.</summary>
    public sealed class InputRow
    {
        /// <summary>The features.</summary>
        [VectorType(Width)]
        public float[] Features { get; set; } = [];
    }
}
