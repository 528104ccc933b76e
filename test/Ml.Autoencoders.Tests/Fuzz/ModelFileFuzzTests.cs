using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Networks.Dense;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Networks.Tokens;
using Ml.Autoencoders.Objectives;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Damaged and hostile autoencoder model files, made from real saved models (dense, tied, variational, sparse and
/// denoising, convolutional with and without a dense code) with a fixed seed: byte flips, overwrites, truncations,
/// insertions, deletions and splices of two models; the same re-signed (a fresh SHA-256, so the parser behind the
/// checksum runs); JSON header mutations, re-signed (numbers made huge, negative, zero or NaN, fields dropped or nulled,
/// enum names swapped, widths and tensor shapes changed, entries duplicated, deep nesting, long strings, headers that
/// consistently claim enormous layers); garbage and empty files. Every case loads to a model whose Transform outputs
/// equal the original's bit for bit, or raises <see cref="AutoencoderModelFormatException"/>. A re-signed file is a
/// file someone wrote on purpose: it may also load as a different valid model (other weights, options or column names),
/// which must then transform without error. Anything else fails the test with the case's description and seed.
/// </summary>
/// <remarks>
/// 10,000 cases by default (6-9 s on 2 cores; the ML.NET zip fuzz 500 more, 2 s); <c>ML_AUTOENCODERS_FUZZ_CASES</c> and <c>ML_AUTOENCODERS_FUZZ_SEED</c>
/// select a longer run or another seed. Case i draws from <c>new Random(seed * 1_000_003 + i)</c>, so one case reruns alone.
/// </remarks>
[TestClass]
public sealed class ModelFileFuzzTests
{
    /// <summary>Environment variable: number of cases of the file fuzz (the ML.NET zip fuzz runs a twentieth as many).</summary>
    public const string CasesVariable = "ML_AUTOENCODERS_FUZZ_CASES";

    /// <summary>Environment variable: seed of the fuzz.</summary>
    public const string SeedVariable = "ML_AUTOENCODERS_FUZZ_SEED";

    private const int DefaultCases = 10_000;
    private const int DefaultSeed = 20261126;
    private static readonly TimeSpan PerCase = TimeSpan.FromSeconds(30);

    private const string Identical = "identical", Refused = "format exception", Differs = "loaded, differs (re-signed)";

    /// <summary>ML.NET calls a loader by reflection and does not unwrap what it throws: the format exception arrives inside a TargetInvocationException.</summary>
    private const string RefusedWrapped = "format exception (inside ML.NET's TargetInvocationException)";

    /// <summary>MSTest's context, for the tally in the test output.</summary>
    public TestContext TestContext { get; set; } = null!;

    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>A real saved model, the rows it is probed with, and its outputs on them.</summary>
    private sealed record Subject(string Name, AutoencoderTransformer Model, byte[] File, IDataView Probe, Dictionary<string, List<float[]>> Expected);

    private static readonly Lazy<Subject[]> Subjects = new(CreateSubjects);

    private static Subject[] CreateSubjects()
    {
        var rows = Synthetic.LowRank(64, 10, 2, seed: 5);
        var image = new ImageShape(1, 8, 8);
        var images = PatternImages.Planar(image, 32);
        AutoencoderOptions Small(AutoencoderOptions o)
        {
            o.Epochs ??= 1;
            o.BatchSize = 16;
            o.Seed = 3;
            return o;
        }
        var subjects = new (string Name, AutoencoderOptions Options, float[][] Rows)[]
        {
            ("dense", Small(new() { HiddenLayerSizes = [6], LatentDimension = 3, Epochs = 2 }), rows),
            ("tied", Small(new() { HiddenLayerSizes = [7, 5], HiddenActivations = [Activation.Tanh, Activation.ReLU], LatentDimension = 3, TiedWeights = true }), rows),
            ("variational", Small(new() { HiddenLayerSizes = [6], LatentDimension = 2, LatentHead = LatentHead.Gaussian, KlWarmupEpochs = 1, Outputs = AutoencoderOutputs.AllVariational }), rows),
            ("sparse, denoising", Small(new()
            {
                HiddenLayerSizes = [6], LatentDimension = 4, CodeActivation = Activation.Sigmoid,
                Corruption = new GaussianNoise { Factor = 0.2, ClipMin = 0, ClipMax = 1 },
                Penalties = [new SparsityPenalty { Kind = SparsityKind.KlDivergence, Weight = 0.1, TargetActivation = 0.1 }],
            }), rows),
            ("conv, dense code, batch norm", Small(new()
            {
                Body = new ConvolutionalOptions { ImageShape = image, EncoderLayers = { new ConvolutionLayer(3, 3, 2) }, BatchNormalization = true, DenseCode = true },
                HiddenLayerSizes = [5], LatentDimension = 3, Epochs = 2,
            }), images),
            ("conv, written decoder", Small(new()
            {
                Body = new ConvolutionalOptions
                {
                    ImageShape = image,
                    EncoderLayers = { new ConvolutionLayer(3, 3, 2, PoolSize: 2) },
                    DecoderLayers = [new DecoderLayer(3, DecoderLayerKind.UpsampleConvolution, UpsampleFactor: 2), new DecoderLayer(1, Stride: 2)],
                    Upsampling = DecoderUpsampling.NearestNeighbour,
                },
                HiddenLayerSizes = [],
                Corruption = new MaskingNoise { Rate = 0.1 },
            }), images),
        };
        Subject Make(string name, AutoencoderOptions options, IDataView data, IDataView probe)
        {
            var model = Ml.Transforms.Autoencoder(options).Fit(data);
            using var buffer = new MemoryStream();
            model.Save(buffer);
            return new Subject(name, model, buffer.ToArray(), probe, Outputs(model, probe));
        }
        // The token-sequence body: its file kind, read back on character keys of the words it was trained on.
        var words = TokenWords.Words(24, 5, seed: 2);
        var text = TokenWords.Characters(Ml).Fit(TokenWords.View(Ml, words));
        var tokens = text.Transform(TokenWords.View(Ml, words));
        var tokenSubject = Make("token sequences, LSTM", Small(new()
        {
            InputColumnName = "Tokens", Body = new TokenSequenceOptions { MaxLength = 5, EmbeddingSize = 3, HiddenSize = 6, Cell = RecurrentCell.Lstm },
            HiddenLayerSizes = [4], LatentDimension = 3, Epochs = 2,
        }), tokens, text.Transform(TokenWords.View(Ml, words.Take(5))));
        return subjects.Select(s => Make(s.Name, s.Options, Ml.ToDataView(s.Rows), Ml.ToDataView(s.Rows.Take(5).ToArray())))
            .Append(tokenSubject).ToArray();
    }

    private static string[] Columns(AutoencoderTransformer model) =>
        AutoencoderTransformer.OutputColumns(model.Outputs, model.OptionsView).Select(c => c.Name).ToArray();

    private static Dictionary<string, List<float[]>> Outputs(AutoencoderTransformer model, IDataView probe) =>
        Conformance.EstimatorConformance.ReadOutputs(model.Transform(probe), Columns(model));

    /// <summary>Same columns, rows and bits.</summary>
    private static bool Same(Dictionary<string, List<float[]>> expected, Dictionary<string, List<float[]>> actual) =>
        expected.Count == actual.Count && expected.All(e => actual.TryGetValue(e.Key, out var rows) && rows.Count == e.Value.Count &&
            rows.Zip(e.Value).All(p => p.First.AsSpan().SequenceEqual(p.Second)));

    /// <summary>
    /// Thousands of damaged, spliced, re-signed and hostile files through <see cref="AutoencoderModelFile.Load(Stream, Runtime.ComputeDevice)"/>:
    /// each loads identically, raises the format exception, or (re-signed only) loads as a different valid model.
    /// </summary>
    [TestMethod]
    public void DamagedAndHostileModelFilesLoadIdenticallyOrRaiseTheFormatException()
    {
        int cases = FileFuzzing.EnvironmentInt(CasesVariable, DefaultCases), seed = FileFuzzing.EnvironmentInt(SeedVariable, DefaultSeed);
        var subjects = Subjects.Value;
        var tally = new FuzzTally();
        var differing = new List<string>();
        var clock = Stopwatch.StartNew();
        FileFuzzing.RunWatched(cases, i =>
        {
            var c = Generate(subjects, seed, i);
            string outcome = Evaluate(c, seed, i, bytes => AutoencoderModelFile.Load(new MemoryStream(bytes)));
            tally.Add(c.Kind, outcome);
            if (outcome == Differs && differing.Count < 12 && !c.Kind.Contains("weights", StringComparison.Ordinal)) differing.Add($"case {i}: {c.Kind} of '{c.Subject.Name}': {c.Description}");
        }, i => Describe(subjects, seed, i), PerCase);
        Report(tally, $"{cases} cases, seed {seed}, {clock.Elapsed.TotalSeconds:F1} s");
        TestContext.WriteLine("Re-signed files that loaded as a different valid model (first 12 besides changed weights):\n  " + string.Join("\n  ", differing));
        Assert.AreEqual(cases, tally.Total);
        Assert.IsTrue(tally.Count(Refused) > cases / 2, "most cases are refused");
        Assert.IsTrue(tally.Count(Identical) > 0, "some cases (no-op mutations, unknown fields, re-signed unchanged headers) load identically");
    }

    /// <summary>
    /// The autoencoder's payload inside ML.NET's model zip, mutated as above (its declared length kept in step), loads
    /// through <c>mlContext.Model.Load</c> identically or raises the format exception, which ML.NET (calling the loader by
    /// reflection) passes on as the inner exception of a TargetInvocationException. Damage to the zip itself is ML.NET's
    /// to report: what it raises is tallied by type, down to the innermost cause; only a load that gives different
    /// outputs fails.
    /// </summary>
    [TestMethod]
    public void DamagedPayloadsInsideMlNetZipsRaiseTheFormatException()
    {
        int cases = Math.Max(200, FileFuzzing.EnvironmentInt(CasesVariable, DefaultCases) / 20), seed = FileFuzzing.EnvironmentInt(SeedVariable, DefaultSeed) + 1;
        var subjects = Subjects.Value;
        var zips = subjects.Select(s =>
        {
            using var buffer = new MemoryStream();
            Ml.Model.Save(s.Model, s.Probe.Schema, buffer);
            return buffer.ToArray();
        }).ToArray();
        var tally = new FuzzTally();
        var clock = Stopwatch.StartNew();
        FileFuzzing.RunWatched(cases, i =>
        {
            var random = new Random(unchecked(seed * 1_000_003 + i));
            int which = i % subjects.Length;
            if (i % 5 == 4)
            {
                // The zip itself damaged: whatever ML.NET (or the zip reader) raises is recorded, not judged, unless it loads.
                var damaged = FileFuzzing.Damage(zips[which], random, random.Next(3));
                string outcome;
                try
                {
                    var loaded = Ml.Model.Load(new MemoryStream(damaged), out _);
                    outcome = Same(subjects[which].Expected, Conformance.EstimatorConformance.ReadOutputs(loaded.Transform(subjects[which].Probe), subjects[which].Expected.Keys)) ? Identical : "loaded, differs";
                    Assert.AreEqual(Identical, outcome, $"zip damage, seed {seed}, case {i}: the model loaded from a damaged zip gives different outputs");
                }
                catch (AutoencoderModelFormatException)
                {
                    outcome = Refused;
                }
                catch (Exception e) when (e is not AssertFailedException)
                {
                    outcome = Chain(e);
                }
                tally.Add("zip damage (ML.NET's)", outcome);
                return;
            }
            var c = Generate(subjects, seed, i, which);
            var zip = ReplacePayload(zips[which], c.Bytes);
            tally.Add("payload " + c.Kind, Evaluate(c, seed, i, bytes => Ml.Model.Load(new MemoryStream(zip), out _), throughMlNet: true));
        }, i => $"ML.NET zip case {i}, seed {seed}", PerCase);
        Report(tally, $"{cases} ML.NET zip cases, seed {seed}, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.IsTrue(tally.Count(RefusedWrapped) > cases / 3, "most mutated payloads are refused");
    }

    /// <summary>"Outer(Inner(Innermost: message start))": what ML.NET raised, down to the cause.</summary>
    private static string Chain(Exception e)
    {
        string message = e.Message.Length > 50 ? e.Message[..50] + "..." : e.Message;
        return e.InnerException is { } inner ? $"{e.GetType().Name}({Chain(inner)})" : $"{e.GetType().Name}: {message.Replace('\n', ' ')}";
    }

    private void Report(FuzzTally tally, string title)
    {
        TestContext.WriteLine($"Model file fuzz: {title}\n{tally}");
    }

    /// <summary>One case: its kind, a description (for a failure message) and the bytes.</summary>
    private sealed record Case(string Kind, string Description, byte[] Bytes, Subject Subject)
    {
        /// <summary>Re-signed files may describe a different valid model; unsigned damage must never load as one.</summary>
        public bool MayDiffer => Kind.StartsWith("signed ", StringComparison.Ordinal) || Kind.StartsWith("json ", StringComparison.Ordinal);

        /// <summary>These must load identically: the parser ignores unknown fields, and re-signing alone changes nothing.</summary>
        public bool MustBeIdentical => Kind is "json unknown field" or "json re-signed unchanged";
    }

    private static string Describe(Subject[] subjects, int seed, int i)
    {
        var c = Generate(subjects, seed, i);
        return $"seed {seed}, case {i}: {c.Kind} of '{c.Subject.Name}' ({c.Description}; {c.Bytes.Length} bytes)";
    }

    /// <summary>Loads <paramref name="c"/> through <paramref name="load"/> and classifies the outcome; anything not allowed fails the test.</summary>
    private static string Evaluate(Case c, int seed, int i, Func<byte[], ITransformer> load, bool throughMlNet = false)
    {
        string where = $"seed {seed}, case {i}: {c.Kind} of '{c.Subject.Name}' ({c.Description}; {c.Bytes.Length} bytes)";
        ITransformer loaded;
        try
        {
            loaded = load(c.Bytes);
        }
        catch (AutoencoderModelFormatException)
        {
            Assert.IsFalse(c.MustBeIdentical, $"{where}: refused a file that must load");
            return Refused;
        }
        catch (System.Reflection.TargetInvocationException e) when (throughMlNet && e.InnerException is AutoencoderModelFormatException)
        {
            Assert.IsFalse(c.MustBeIdentical, $"{where}: refused a file that must load");
            return RefusedWrapped;
        }
        catch (Exception e)
        {
            Assert.Fail($"{where}: raised {e.GetType().FullName} instead of AutoencoderModelFormatException: {e}");
            throw;
        }
        var model = loaded as AutoencoderTransformer ?? (loaded as TransformerChain<ITransformer>)?.OfType<AutoencoderTransformer>().Single();
        try
        {
            Dictionary<string, List<float[]>> outputs;
            try
            {
                outputs = Conformance.EstimatorConformance.ReadOutputs(loaded.Transform(c.Subject.Probe), model is null ? c.Subject.Expected.Keys : Columns(model));
            }
            catch (Exception e) when (c.MayDiffer && e is AutoencoderSchemaException or AutoencoderDataException)
            {
                // A re-signed header renamed the input column, changed the image shape or the key count, or shortened a
                // token body's MaxLength below the probe's words: a valid model for other data, which says so by name.
                return Differs;
            }
            if (Same(c.Subject.Expected, outputs)) return Identical;
            Assert.IsTrue(c.MayDiffer && !c.MustBeIdentical, $"{where}: loaded a model whose outputs differ from the original's");
            return Differs;
        }
        catch (Exception e) when (e is not AssertFailedException)
        {
            Assert.Fail($"{where}: loaded, but Transform raised {e.GetType().FullName}: {e}");
            throw;
        }
        finally
        {
            model?.Model.Dispose();
        }
    }

    // ---- Case generation ----

    private static Case Generate(Subject[] subjects, int seed, int i, int? which = null)
    {
        var random = new Random(unchecked(seed * 1_000_003 + i));
        var subject = subjects[which ?? random.Next(subjects.Length)];
        var other = subjects[random.Next(subjects.Length)];
        var file = subject.File;
        var body = FileFuzzing.Body(file);
        int roll = random.Next(100);
        (string Kind, string Description, byte[] Bytes) made = roll switch
        {
            < 2 => ("unsigned flip", "1-4 bytes flipped", FileFuzzing.Flip(file, random)),
            < 3 => ("unsigned overwrite", "random run written", FileFuzzing.Overwrite(file, random)),
            < 4 => ("unsigned truncation", "cut short", FileFuzzing.Truncate(file, random)),
            < 5 => ("unsigned splice", $"start spliced to the end of '{other.Name}'", FileFuzzing.Splice(file, other.File, random)),
            < 6 => ("unsigned insertion", "random bytes inserted", FileFuzzing.Insert(file, random)),
            < 7 => ("unsigned deletion", "bytes deleted", FileFuzzing.Delete(file, random)),
            < 9 => ("signed flip in header", "header bytes flipped", FileFuzzing.Sign(FlipWithin(body, 16, HeaderLength(file), random))),
            < 11 => ("signed flip in weights", "weight bytes flipped", FileFuzzing.Sign(FlipWithin(body, 16 + HeaderLength(file), body.Length - 16 - HeaderLength(file), random))),
            < 12 => ("signed overwrite", "random run written", FileFuzzing.Sign(FileFuzzing.Overwrite(body, random))),
            < 14 => ("signed truncation", "cut short", FileFuzzing.Sign(FileFuzzing.Truncate(body, random))),
            < 16 => ("signed splice", $"start spliced to the end of '{other.Name}'", FileFuzzing.Sign(FileFuzzing.Splice(body, FileFuzzing.Body(other.File), random))),
            < 17 => ("signed insertion", "random bytes inserted", FileFuzzing.Sign(FileFuzzing.Insert(body, random))),
            < 18 => ("signed deletion", "bytes deleted", FileFuzzing.Sign(FileFuzzing.Delete(body, random))),
            < 20 => ("signed header length", "header length field changed", FileFuzzing.Sign(WithInt(body, 12, HeaderLengthValue(file, random)))),
            < 21 => ("signed version", "format version changed", FileFuzzing.Sign(WithInt(body, 8, random.Next(2) == 0 ? random.Next() : 2))),
            < 23 => ("signed weights of another model", $"header with the weights of '{other.Name}'", FileFuzzing.Sign([.. body.AsSpan(0, 16 + HeaderLength(file)), .. FileFuzzing.Body(other.File).AsSpan(16 + HeaderLength(other.File))])),
            < 25 => Garbage(random),
            _ => MutateHeader(subject, random),
        };
        return new Case(made.Kind, made.Description, made.Bytes, subject);
    }

    private static int HeaderLength(byte[] file) => BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(12));

    private static int HeaderLengthValue(byte[] file, Random random) => random.Next(5) switch
    {
        0 => HeaderLength(file) + random.Next(-8, 9),
        1 => -random.Next(),
        2 => int.MaxValue,
        3 => 0,
        _ => random.Next(file.Length + 64),
    };

    private static byte[] FlipWithin(byte[] body, int start, int length, Random random)
    {
        var bytes = (byte[])body.Clone();
        for (int n = random.Next(1, 4); n > 0; n--) bytes[start + random.Next(length)] ^= (byte)random.Next(1, 256);
        return bytes;
    }

    private static byte[] WithInt(byte[] body, int at, int value)
    {
        var bytes = (byte[])body.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), value);
        return bytes;
    }

    private static (string, string, byte[]) Garbage(Random random)
    {
        byte[] magic = "MLAEMODL"u8.ToArray();
        switch (random.Next(5))
        {
            case 0: return ("garbage", "random bytes", FileFuzzing.Garbage(random, random.Next(4096)));
            case 1: return ("garbage", "empty file", []);
            case 2: return ("garbage", "magic then random bytes", [.. magic, .. FileFuzzing.Garbage(random, random.Next(4096))]);
            case 3:
            {
                var rest = FileFuzzing.Garbage(random, random.Next(8, 4096));
                BinaryPrimitives.WriteInt32LittleEndian(rest, 1);
                BinaryPrimitives.WriteInt32LittleEndian(rest.AsSpan(4), random.Next(rest.Length));
                return ("signed garbage", "magic, version 1, a header length, random bytes, signed", FileFuzzing.Sign([.. magic, .. rest]));
            }
            default:
            {
                var json = Encoding.UTF8.GetBytes(random.Next(4) switch { 0 => "{}", 1 => "null", 2 => "[]", _ => "{\"Kind\":\"dense-autoencoder\"}" });
                var header = new byte[8];
                BinaryPrimitives.WriteInt32LittleEndian(header, 1);
                BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), json.Length);
                return ("signed garbage", "a tiny JSON header, signed", FileFuzzing.Sign([.. magic, .. header, .. json]));
            }
        }
    }

    // ---- JSON header mutations (re-signed) ----

    private const string NestingPlaceholder = "@@nesting@@";

    private static readonly string[] EnumNames =
    {
        "Linear", "ReLU", "LeakyReLU", "SELU", "Tanh", "Sigmoid", "GELU", "Deterministic", "Gaussian", "TransposedConvolution",
        "UpsampleConvolution", "NearestNeighbour", "Planar", "Interleaved", "L1", "KlDivergence", "MeanSquaredError", "BinaryCrossEntropy",
        "Adam", "Sgd", "Cosine", "Cpu", "Cuda", "Auto", "All", "LatentCode", "dense-autoencoder", "conv-autoencoder", "gaussian", "masking",
        "salt-and-pepper", "sparsity", "contractive", "Nope", "", "Features", "LatentCode", "99", "-1",
    };

    private static readonly JsonNode?[] OddValues =
    {
        0, -1, 1, 2, 3, int.MaxValue, int.MinValue, 16777216, 16777217, 1L << 40, long.MaxValue, 1e300, -1e300, 0.5, -0.5, 1e-300,
        "NaN", "Infinity", "-Infinity", 9007199254740993, "x", true, false, null, new JsonArray(), new JsonObject(), new JsonArray(1, 2),
        new JsonObject { ["a"] = 1 },
    };

    private static (string, string, byte[]) MutateHeader(Subject subject, Random random)
    {
        var file = subject.File;
        var root = FileFuzzing.Header(file);
        var nodes = Nodes(root);
        string kind, what;
        string? nesting = null;
        switch (random.Next(17))
        {
            case 0:
            case 1:
            {
                var numbers = nodes.Where(n => n.Node is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number).ToList();
                var (parent, key, node) = numbers[random.Next(numbers.Count)];
                double old = node!.GetValue<double>();
                var value = random.Next(3) switch
                {
                    0 => OddValues[random.Next(16)],
                    1 => JsonValue.Create(old + random.Next(-2, 3)),
                    _ => OddValues[random.Next(OddValues.Length)]?.DeepClone(),
                };
                Set(parent!, key, value?.DeepClone());
                (kind, what) = ("json number", $"{Path(parent!, key)} {old} -> {value?.ToJsonString() ?? "null"}");
                break;
            }
            case 2:
            {
                var properties = nodes.Where(n => n.Parent is JsonObject).ToList();
                var (parent, key, _) = properties[random.Next(properties.Count)];
                parent!.AsObject().Remove((string)key);
                (kind, what) = ("json dropped field", $"{Path(parent, key)} removed");
                break;
            }
            case 3:
            {
                var (parent, key, _) = nodes[random.Next(nodes.Count)];
                Set(parent!, key, null);
                (kind, what) = ("json null", $"{Path(parent!, key)} = null");
                break;
            }
            case 4:
            {
                var strings = nodes.Where(n => n.Node is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String).ToList();
                var (parent, key, node) = strings[random.Next(strings.Count)];
                string name = EnumNames[random.Next(EnumNames.Length)];
                Set(parent!, key, name);
                (kind, what) = ("json enum swap", $"{Path(parent!, key)} {node!.ToJsonString()} -> \"{name}\"");
                break;
            }
            case 5:
            {
                var (parent, key, node) = nodes[random.Next(nodes.Count)];
                var value = OddValues[16 + random.Next(OddValues.Length - 16)]?.DeepClone();
                Set(parent!, key, value);
                (kind, what) = ("json type change", $"{Path(parent!, key)} -> {value?.ToJsonString() ?? "null"}");
                break;
            }
            case 6:
            case 7:
                (kind, what) = ("json width", Width(root, random));
                break;
            case 8:
            case 9:
                (kind, what) = ("json tensor table", TensorTable(root, random));
                break;
            case 10:
            {
                var arrays = nodes.Where(n => n.Node is JsonArray { Count: > 0 }).ToList();
                if (arrays.Count == 0) goto case 3;
                var (parent, key, node) = arrays[random.Next(arrays.Count)];
                var array = node!.AsArray();
                int from = random.Next(array.Count), to = random.Next(array.Count + 1);
                array.Insert(to, array[from]?.DeepClone());
                (kind, what) = ("json duplicated entry", $"{Path(parent!, key)}[{from}] copied to [{to}]");
                break;
            }
            case 11:
            {
                var (parent, key, _) = nodes[random.Next(nodes.Count)];
                int depth = new[] { 10, 62, 63, 64, 65, 200, 5000 }[random.Next(7)];
                bool arrays = random.Next(2) == 0;
                nesting = (arrays ? string.Concat(Enumerable.Repeat("[", depth)) : string.Concat(Enumerable.Repeat("{\"a\":", depth))) + "1" +
                    string.Concat(Enumerable.Repeat(arrays ? "]" : "}", depth));
                Set(parent!, key, NestingPlaceholder); // JsonNode's writer refuses deep trees: the text goes in after writing
                (kind, what) = ("json deep nesting", $"{Path(parent!, key)} {(arrays ? "arrays" : "objects")} nested {depth} deep");
                break;
            }
            case 12:
            {
                var (parent, key, _) = nodes[random.Next(nodes.Count)];
                int length = random.Next(3) == 0 ? random.Next(1 << 20, 1 << 22) : random.Next(1, 1 << 16);
                Set(parent!, key, new string((char)random.Next('a', 'z' + 1), length));
                (kind, what) = ("json long string", $"{Path(parent!, key)} = a {length}-character string");
                break;
            }
            case 13:
                (kind, what) = ("json hostile widths", HostileWidths(root, subject, random));
                break;
            case 14:
            {
                var objects = nodes.Where(n => n.Node is JsonObject).Select(n => n.Node!.AsObject()).Append(root).ToList();
                var target = objects[random.Next(objects.Count)];
                target["Unknown" + random.Next(1000)] = 1;
                (kind, what) = ("json unknown field", $"a field added to {target.GetPath()}");
                break;
            }
            case 15:
            {
                var polymorphic = nodes.Where(n => n.Node is JsonObject o && o.ContainsKey("kind")).Select(n => n.Node!.AsObject()).ToList();
                if (polymorphic.Count == 0) goto case 10;
                var target = polymorphic[random.Next(polymorphic.Count)];
                var old = target["kind"]!.GetValue<string>();
                switch (random.Next(3))
                {
                    case 0: target.Remove("kind"); what = "removed"; break;
                    case 1: target["kind"] = "unknown"; what = "set to 'unknown'"; break;
                    default: target.Remove("kind"); target["kind"] = old; what = "moved last"; break;
                }
                (kind, what) = ("json type discriminator", $"{target.GetPath()}.kind {what}");
                break;
            }
            default:
                (kind, what) = ("json re-signed unchanged", "header parsed, written again and re-signed");
                break;
        }
        string text = root.ToJsonString();
        if (nesting is not null) text = text.Replace($"\"{NestingPlaceholder}\"", nesting, StringComparison.Ordinal);
        return (kind, what, FileFuzzing.WithHeader(file, text));
    }

    /// <summary>A width of the header or of the stored options (or both, so the cross-check passes) set to an odd value.</summary>
    private static string Width(JsonObject root, Random random)
    {
        var options = root["Options"]!.AsObject();
        var targets = new List<(JsonNode Parent, object Key)>
        {
            (root, "InputSize"), (root, "LatentDimension"), (options, "LatentDimension"), (options, "TransformBatchSize"),
        };
        foreach (var (array, owner) in new[] { (root["HiddenSizes"], root), (options["HiddenLayerSizes"], options) })
            if (array is JsonArray { Count: > 0 } a) targets.Add((a, random.Next(a.Count)));
        foreach (var conv in new[] { root["Body"], options["Body"] })
        {
            if (conv is not JsonObject c) continue;
            if ((string?)c["kind"] == "tokens")
            {
                targets.Add((c, new[] { "MaxLength", "VocabularySize", "EmbeddingSize", "HiddenSize", "Layers" }[random.Next(5)]));
                continue;
            }
            targets.Add((c["ImageShape"]!, new[] { "Channels", "Height", "Width" }[random.Next(3)]));
            foreach (var layers in new[] { c["EncoderLayers"], c["DecoderLayers"] })
                if (layers is JsonArray { Count: > 0 } l)
                    targets.Add((l[random.Next(l.Count)]!, new[] { "Channels", "KernelSize", "Stride", "Padding", "PoolSize", "OutputPadding", "UpsampleFactor" }[random.Next(7)]));
        }
        var (parent, key) = targets[random.Next(targets.Count)];
        var value = new JsonNode[] { 0, -1, 1, 2, 7, 1 << 20, 16777216, 16777217, int.MaxValue, int.MinValue }[random.Next(10)];
        Set(parent, key, value.DeepClone());
        string what = $"{Path(parent, key)} = {value.ToJsonString()}";
        // Half the time the twin in the other copy (header <-> options) follows, so only the deeper checks can refuse it.
        if (random.Next(2) == 0 && Twin(root, parent, key) is var (twinParent, twinKey))
        {
            Set(twinParent, twinKey, value.DeepClone());
            what += $" and {Path(twinParent, twinKey)} too";
        }
        return what;
    }

    private static (JsonNode, object)? Twin(JsonObject root, JsonNode parent, object key)
    {
        var options = root["Options"]!.AsObject();
        string path = parent.GetPath();
        if (ReferenceEquals(parent, root) && key is "LatentDimension") return (options, "LatentDimension");
        if (ReferenceEquals(parent, options) && key is "LatentDimension") return (root, "LatentDimension");
        if (ReferenceEquals(parent, root["HiddenSizes"])) return (options["HiddenLayerSizes"]!, key);
        if (ReferenceEquals(parent, options["HiddenLayerSizes"])) return (root["HiddenSizes"]!, key);
        if (path.StartsWith("$.Body", StringComparison.Ordinal)) return (Find(root, "$.Options.Body" + path["$.Body".Length..]), key);
        if (path.StartsWith("$.Options.Body", StringComparison.Ordinal)) return (Find(root, "$.Body" + path["$.Options.Body".Length..]), key);
        return null;
    }

    private static JsonNode Find(JsonObject root, string path) => Nodes(root).Select(n => n.Node).Append(root).First(n => n?.GetPath() == path)!;

    /// <summary>One entry of the tensor table changed: a dimension, a name, a swap, a duplicate, a removal, an extra entry, a rank.</summary>
    private static string TensorTable(JsonObject root, Random random)
    {
        var table = root["Tensors"]!.AsArray();
        int i = random.Next(table.Count), j = random.Next(table.Count);
        var entry = table[i]!.AsObject();
        var shape = entry["Shape"]!.AsArray();
        switch (random.Next(7))
        {
            case 0 when shape.Count > 0:
                int d = random.Next(shape.Count);
                long old = shape[d]!.GetValue<long>();
                long value = new[] { old + 1, old - 1, 0, -1, 16777216, 16777217, long.MaxValue, 1L << 40 }[random.Next(8)];
                shape[d] = value;
                return $"tensor {i} dimension {d}: {old} -> {value}";
            case 1:
                entry["Name"] = random.Next(2) == 0 ? table[j]!["Name"]!.GetValue<string>() : "encoder.linear99.weight";
                return $"tensor {i} renamed {entry["Name"]!.ToJsonString()}";
            case 2:
                var a = table[i]!.DeepClone();
                table[i] = table[j]!.DeepClone();
                table[j] = a;
                return $"tensors {i} and {j} swapped";
            case 3:
                table[j] = table[i]!.DeepClone();
                return $"tensor {i} written over entry {j} (a duplicate)";
            case 4:
                table.RemoveAt(i);
                return $"tensor {i} removed";
            case 5:
                table.Insert(j, new JsonObject { ["Name"] = "extra", ["Shape"] = new JsonArray(4, 4) });
                return $"an extra tensor inserted at {j}";
            default:
                shape.Add(1);
                return $"tensor {i} given another dimension of 1";
        }
    }

    /// <summary>
    /// A header consistent in every respect (both copies of the widths and the tensor table agree) that claims a layer of
    /// 2^20-2^24 units (or channels): only the weight count against the bytes present can refuse it, before any allocation.
    /// </summary>
    private static string HostileWidths(JsonObject root, Subject subject, Random random)
    {
        var options = root["Options"]!.AsObject();
        int huge = new[] { 1 << 20, 1 << 22, 1 << 24 }[random.Next(3)];
        if (root["Body"] is JsonObject tokenBody && (string?)tokenBody["kind"] == "tokens")
        {
            // The token body's recurrent width (embedding, gates, output layer and dense code all follow it).
            huge >>= 3; // the body's own limit on its width is 2^21
            foreach (var body in new[] { root["Body"]!, options["Body"]! })
                body["HiddenSize"] = huge;
            var tokenSpec = System.Text.Json.JsonSerializer.Deserialize<AutoencoderOptions>(options.ToJsonString(), AutoencoderModelFile.Json)!
                .Spec(subject.Model.Model.InputSize, subject.Model.Model.Network.OutputActivation);
            root["Tensors"] = FileFuzzing.Table(tokenSpec.ExpectedTensors());
            return $"a token body of {huge} recurrent units, tensor table to match";
        }
        if (root["Body"] is JsonObject)
        {
            foreach (var conv in new[] { root["Body"]!, options["Body"]! })
                conv["EncoderLayers"]![0]!["Channels"] = huge;
        }
        else if (root["HiddenSizes"] is JsonArray { Count: > 0 } hidden)
        {
            int at = random.Next(hidden.Count);
            hidden[at] = huge;
            options["HiddenLayerSizes"]![at] = huge;
        }
        else
        {
            root["LatentDimension"] = huge;
            options["LatentDimension"] = huge;
        }
        // The tensor table the library itself expects for the enlarged spec.
        var spec = SpecOf(root, subject.Model.Model.Network);
        var expected = spec is ConvNetworkSpec conv2 ? ConvolutionalAutoencoderNetwork.ExpectedTensors(conv2) : DenseAutoencoderNetwork.ExpectedTensors((DenseNetworkSpec)spec);
        root["Tensors"] = FileFuzzing.Table(expected);
        return $"a layer of {huge} units or channels, tensor table to match ({expected.Sum(t => t.Shape.Aggregate(1.0, (x, y) => x * y)):E2} weights claimed)";
    }

    private static object SpecOf(JsonObject root, AutoencoderNetwork network)
    {
        var options = System.Text.Json.JsonSerializer.Deserialize<AutoencoderOptions>(root["Options"]!.ToJsonString(), AutoencoderModelFile.Json)!;
        var output = network.OutputActivation;
        return network is ConvolutionalAutoencoderNetwork
            ? TestNetworks.ConvSpec(options, output)
            : TestNetworks.DenseSpec(options, network.InputSize, output);
    }

    private static readonly System.Text.Json.JsonSerializerOptions HeaderJson = new()
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static List<(JsonNode? Parent, object Key, JsonNode? Node)> Nodes(JsonNode root)
    {
        var found = new List<(JsonNode?, object, JsonNode?)>();
        void Walk(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o.ToList())
                    {
                        found.Add((o, key, value));
                        Walk(value);
                    }
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++)
                    {
                        found.Add((a, i, a[i]));
                        Walk(a[i]);
                    }
                    break;
            }
        }
        Walk(root);
        return found;
    }

    private static void Set(JsonNode parent, object key, JsonNode? value)
    {
        if (parent is JsonObject o) o[(string)key] = value;
        else parent.AsArray()[(int)key] = value;
    }

    private static string Path(JsonNode parent, object key) => parent.GetPath() + (key is int i ? $"[{i}]" : $".{key}");

    // ---- ML.NET zip ----

    /// <summary>
    /// The zip with the autoencoder's payload entry replaced by <paramref name="payload"/> and the length in the bridge's
    /// main stream (format 1, then the payload length as int64) set to match, so the parser behind it runs.
    /// </summary>
    private static byte[] ReplacePayload(byte[] zip, byte[] payload)
    {
        using var input = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        var payloadEntry = input.Entries.Single(e => e.FullName.EndsWith("AutoencoderModel.bin", StringComparison.Ordinal));
        string folder = payloadEntry.FullName[..(payloadEntry.FullName.LastIndexOf('/') + 1)];
        long originalLength = payloadEntry.Length;
        using var output = new MemoryStream();
        using (var writer = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in input.Entries)
            {
                using var read = entry.Open();
                using var content = new MemoryStream();
                read.CopyTo(content);
                byte[] bytes = content.ToArray();
                if (entry == payloadEntry)
                {
                    bytes = payload;
                }
                else if (entry.FullName == folder + "Model.key")
                {
                    var marker = new byte[12];
                    BinaryPrimitives.WriteInt32LittleEndian(marker, 1);
                    BinaryPrimitives.WriteInt64LittleEndian(marker.AsSpan(4), originalLength);
                    int at = bytes.AsSpan().LastIndexOf(marker);
                    Assert.IsTrue(at >= 0, "the bridge's main stream holds format 1 and the payload length");
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at + 4), payload.Length);
                }
                using var write = writer.CreateEntry(entry.FullName).Open();
                write.Write(bytes);
            }
        }
        return output.ToArray();
    }
}
