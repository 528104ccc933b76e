using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// Lets <c>mlContext.Model.Save</c>/<c>Load</c> carry the library's transformers (<see cref="AutoencoderTransformer"/>,
/// <see cref="Neighbors.KNearestNeighborsPredictionTransformer"/>, <see cref="Embedding.TsneTransformer"/>,
/// <see cref="Anomaly.AutoencoderAnomalyTransformer"/>, <see cref="Classification.AutoencoderClassifierTransformer"/>).
/// </summary>
/// <remarks>
/// <para>
/// ML.NET keeps its model save/load surface internal (dotnet/machinelearning#4911, #6839), so this file reaches ML.NET
/// internals by reflection (with MlNetModelLoaders.cs, which declares the loaders with ML.NET's own attribute; the only
/// other one is <see cref="MlNetEnvironment"/>: the MLContext's seed, log and cancellation). The members are those of Microsoft.ML 5.0.1 and 6.0.0 (identical in both; the package depends
/// on 5.0.1 or later). On first use every internal member is looked up once; when one is missing, a
/// <see cref="NotSupportedException"/> names it and the Microsoft.ML.Core version found, and points to
/// <see cref="AutoencoderTransformer.Save(string)"/>: nothing is written that could not be read back.
/// </para>
/// <para>
/// Save: the entry written for a transformer holds an ML.NET header (the model and loader signatures of its kind,
/// loader assembly = this assembly), a small main stream (payload format and length) and a binary stream with the
/// bytes of the transformer's own <c>Save(Stream)</c>: one format for both routes.
/// </para>
/// <para>
/// Load: ML.NET loads the loader assembly the header names (this one), registers it in the loading context's
/// <see cref="ComponentCatalog"/> (<see cref="ComponentCatalog.RegisterAssembly"/>, which reads its <c>LoadableClass</c>
/// attributes), then calls the loader of the signature, <c>MlNetModelLoader&lt;T&gt;.Create</c>, which calls
/// <see cref="Load"/>. So any context, in any process, loads with no registration call.
/// </para>
/// </remarks>
internal static class MlNetModelBridge
{
    /// <summary>One kind of transformer the bridge carries: its ML.NET signatures, payload stream and own format.</summary>
    internal sealed record Kind(Type Transformer, string ModelSignature, string LoaderSignature, string PayloadStreamName, string Description,
        Action<object, Stream> Write, Func<Stream, object> Read);

    // 0x00010001: first version. Bump VerWrittenCur for a new layout; VerWeCanReadBack is the oldest layout still read.
    private const uint VerWrittenCur = 0x00010001;
    private const uint VerReadableCur = 0x00010001;
    private const uint VerWeCanReadBack = 0x00010001;

    private const int PayloadFormat = 1;

    private static readonly Lazy<Internals> Api = new(() => new Internals(typeof(ModelSaveContext).Assembly), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Looks every ML.NET internal up (once per process).</summary>
    /// <exception cref="NotSupportedException">This Microsoft.ML lacks an internal member the bridge needs.</exception>
    public static void EnsureSupported() => _ = Api.Value;

    /// <summary>Implements <see cref="ICanSaveModel.Save(ModelSaveContext)"/> for <paramref name="transformer"/>.</summary>
    public static void Save(ICanSaveModel transformer, ModelSaveContext ctx, Kind kind)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(ctx);
        if (kind.Transformer != transformer.GetType())
            throw new InvalidOperationException($"{transformer.GetType().Name} was handed the bridge kind of {kind.Transformer.Name}.");
        var api = Api.Value;
        api.CheckLoaderDeclared(kind);

        byte[] payload;
        using (var buffer = new MemoryStream())
        {
            try
            {
                kind.Write(transformer, buffer);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw SaveFailed(kind, e);
            }
            payload = buffer.ToArray();
        }

        api.SaveCheckAtModel(ctx);
        api.SetVersionInfo(ctx, api.CreateVersionInfo(kind, typeof(MlNetModelBridge).Assembly.GetName().Name!));
        var writer = api.SaveWriter(ctx);
        writer.Write(PayloadFormat);
        writer.Write((long)payload.Length);
        api.SaveBinaryStream(ctx, kind.PayloadStreamName, w => w.Write(payload));
    }

    /// <summary>Set (on the saving thread) while <see cref="AtomicModelSaveCatalog.SaveAtomically"/> runs, so a failure message can say the file is safe.</summary>
    [ThreadStatic]
    internal static bool SavingAtomically;

    /// <summary>
    /// Why the transformer could not be saved. The transformer is serialised before anything reaches the model, but by the
    /// time ML.NET calls us with a file path it has already emptied that file (ML.NET offers no hook before it does): the
    /// message says so and names the atomic route.
    /// </summary>
    private static InvalidOperationException SaveFailed(Kind kind, Exception e) => new(
        $"The {kind.Description} cannot be saved: {e.Message} " + (SavingAtomically
            ? "The file being replaced is left as it was."
            : "If mlContext.Model.Save was given a file path, ML.NET emptied that file before this error; " +
              "mlContext.Model.SaveAtomically(model, inputSchema, filePath) (Ml.Autoencoders) writes a temporary file and " +
              "replaces the target only once the save is complete, so a failed save leaves the previous file as it was."),
        e);

    /// <summary>
    /// Reads a transformer of <paramref name="kind"/> from ML.NET's <c>ModelLoadContext</c> (typed <see cref="object"/>: the
    /// loaders in MlNetModelLoaders.cs hand it over). Must read exactly what <see cref="Save"/> wrote to the main stream.
    /// </summary>
    public static object Load(object ctx, Kind kind)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var api = Api.Value;
        api.LoadCheckAtModel(ctx, api.CreateVersionInfo(kind, typeof(MlNetModelBridge).Assembly.GetName().Name!));
        var reader = api.LoadReader(ctx);
        var payload = new MemoryStream(); // grows with what is really there, never with what the header claims
        long length;
        try
        {
            int format = reader.ReadInt32();
            if (format != PayloadFormat)
                throw new AutoencoderModelFormatException($"Unknown {kind.Description} payload format {format} in the ML.NET model (expected {PayloadFormat}).");
            length = reader.ReadInt64();
            if (length < 0 || length > int.MaxValue)
                throw new AutoencoderModelFormatException($"Invalid {kind.Description} payload length {length} in the ML.NET model.");
            if (!api.TryLoadBinaryStream(ctx, kind.PayloadStreamName, r => r.BaseStream.CopyTo(payload)))
                throw new AutoencoderModelFormatException($"The ML.NET model lacks the stream '{kind.PayloadStreamName}' of the {kind.Description}.");
        }
        catch (EndOfStreamException e)
        {
            throw new AutoencoderModelFormatException($"The {kind.Description}'s stream in the ML.NET model is truncated.", e);
        }
        catch (InvalidDataException e)
        {
            // The zip entry's compressed data is damaged (the deflate stream cannot be decoded).
            throw new AutoencoderModelFormatException($"The {kind.Description}'s stream in the ML.NET model cannot be decompressed: {e.Message}", e);
        }
        if (payload.Length != length)
            throw new AutoencoderModelFormatException($"The {kind.Description} payload in the ML.NET model is truncated: {payload.Length} of {length} bytes.");
        payload.Position = 0;
        return kind.Read(payload);
    }

    /// <summary>
    /// Every ML.NET internal the bridge touches, looked up once in <c>core</c> (Microsoft.ML.Core; another assembly only in
    /// the test of the failure), and the loaders this assembly declares to ML.NET, read the way ML.NET reads them.
    /// </summary>
    internal sealed class Internals
    {
        private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

        private readonly Assembly core;

        // Save side (Microsoft.ML.ModelSaveContext, Microsoft.ML.VersionInfo).
        private readonly ConstructorInfo versionInfoCtor;
        private readonly MethodInfo saveCheckAtModel;
        private readonly MethodInfo saveSetVersionInfo;
        private readonly FieldInfo saveWriter;
        private readonly MethodInfo saveBinaryStream;

        // Load side (Microsoft.ML.ModelLoadContext).
        private readonly MethodInfo loadCheckAtModel;
        private readonly FieldInfo loadReader;
        private readonly MethodInfo loadTryLoadBinaryStream;

        // The LoadableClass attributes of this assembly, as ML.NET's ComponentCatalog.RegisterAssembly reads them:
        // lower-case loader signature -> (loadable type, loader type).
        private readonly Dictionary<string, (Type Instance, Type Loader)> declaredLoaders = new(StringComparer.Ordinal);

        /// <summary>Looks every member up in <paramref name="core"/>.</summary>
        /// <exception cref="NotSupportedException">A member is missing or has another shape; the message names it and the version of <paramref name="core"/>.</exception>
        public Internals(Assembly core)
        {
            this.core = core;
            Type saveContext = RequireType("Microsoft.ML.ModelSaveContext");
            Type versionInfo = RequireType("Microsoft.ML.VersionInfo");
            Type loadContext = RequireType("Microsoft.ML.ModelLoadContext");
            Type signatureLoadModel = RequireType("Microsoft.ML.SignatureLoadModel");
            Type attributeBase = RequireType("Microsoft.ML.LoadableClassAttributeBase");

            versionInfoCtor = RequireCtor(versionInfo,
                typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string));

            saveCheckAtModel = RequireMethod(saveContext, "CheckAtModel");
            saveSetVersionInfo = RequireMethod(saveContext, "SetVersionInfo", versionInfo);
            saveWriter = RequireField(saveContext, "Writer", typeof(BinaryWriter));
            saveBinaryStream = RequireMethod(saveContext, "SaveBinaryStream", typeof(string), typeof(Action<BinaryWriter>));

            loadCheckAtModel = RequireMethod(loadContext, "CheckAtModel", versionInfo);
            loadReader = RequireField(loadContext, "Reader", typeof(BinaryReader));
            loadTryLoadBinaryStream = RequireMethod(loadContext, "TryLoadBinaryStream", typeof(string), typeof(Action<BinaryReader>));

            // SignatureLoadModel must still be (ModelLoadContext ctx): the loaders take exactly that argument.
            var invoke = signatureLoadModel.GetMethod("Invoke");
            if (invoke is null || invoke.GetParameters() is not [var only] || only.ParameterType != loadContext)
                throw Missing("Microsoft.ML.SignatureLoadModel(ModelLoadContext)");

            var loadNames = RequireProperty(attributeBase, "LoadNames", typeof(string[]));
            var instanceType = RequireProperty(attributeBase, "InstanceType", typeof(Type));
            var loaderType = RequireProperty(attributeBase, "LoaderType", typeof(Type));
            var sigTypes = RequireProperty(attributeBase, "SigTypes", typeof(Type[]));
            IEnumerable<Attribute> attributes;
            try
            {
                attributes = typeof(MlNetModelBridge).Assembly.GetCustomAttributes(attributeBase).ToArray();
            }
            catch (Exception e) when (e is MissingMemberException or TypeLoadException or TargetInvocationException or BadImageFormatException)
            {
                throw Missing($"Microsoft.ML.LoadableClassAttribute as Ml.Autoencoders declares its loaders ({e.GetType().Name}: {e.Message})");
            }
            foreach (var attribute in attributes)
            {
                if (((Type[])sigTypes.GetValue(attribute)!).Contains(signatureLoadModel))
                    foreach (string name in (string[])loadNames.GetValue(attribute)!)
                        declaredLoaders[name.ToLowerInvariant()] = ((Type)instanceType.GetValue(attribute)!, (Type)loaderType.GetValue(attribute)!);
            }
        }

        /// <summary>Throws unless this assembly declares the loader of <paramref name="kind"/> to ML.NET, so that no model is written that no context could load.</summary>
        public void CheckLoaderDeclared(Kind kind)
        {
            if (!declaredLoaders.TryGetValue(kind.LoaderSignature.ToLowerInvariant(), out var declared) || declared.Instance != kind.Transformer)
                throw new InvalidOperationException(
                    $"Ml.Autoencoders declares no ML.NET loader for the {kind.Description} ({kind.Transformer.Name}, loader signature '{kind.LoaderSignature}'): " +
                    "a LoadableClass line is missing in MlNetModelLoaders.cs, or the runtime did not hand the attribute over.");
        }

        public object CreateVersionInfo(Kind kind, string loaderAssemblyName) =>
            Invoke(versionInfoCtor, [kind.ModelSignature, VerWrittenCur, VerReadableCur, VerWeCanReadBack, loaderAssemblyName, kind.LoaderSignature, null]);

        public void SaveCheckAtModel(ModelSaveContext ctx) => Invoke(saveCheckAtModel, ctx, []);

        public void SetVersionInfo(ModelSaveContext ctx, object versionInfo) => Invoke(saveSetVersionInfo, ctx, [versionInfo]);

        public BinaryWriter SaveWriter(ModelSaveContext ctx) => (BinaryWriter)saveWriter.GetValue(ctx)!;

        public void SaveBinaryStream(ModelSaveContext ctx, string name, Action<BinaryWriter> action) =>
            Invoke(saveBinaryStream, ctx, [name, action]);

        public void LoadCheckAtModel(object ctx, object versionInfo) => Invoke(loadCheckAtModel, ctx, [versionInfo]);

        public BinaryReader LoadReader(object ctx) => (BinaryReader)loadReader.GetValue(ctx)!;

        public bool TryLoadBinaryStream(object ctx, string name, Action<BinaryReader> action) =>
            (bool)Invoke(loadTryLoadBinaryStream, ctx, [name, action])!;

        private static object Invoke(ConstructorInfo ctor, object?[] args) =>
            ctor.Invoke(BindingFlags.DoNotWrapExceptions, null, args, null);

        private static object? Invoke(MethodInfo method, object target, object?[] args) =>
            method.Invoke(target, BindingFlags.DoNotWrapExceptions, null, args, null);

        private Type RequireType(string name) =>
            core.GetType(name, throwOnError: false) ?? throw Missing(name);

        private ConstructorInfo RequireCtor(Type type, params Type[] parameters) =>
            type.GetConstructor(Instance, parameters)
            ?? throw Missing($"{type.FullName}({string.Join(", ", parameters.Select(t => t.Name))})");

        private MethodInfo RequireMethod(Type type, string name, params Type[] parameters) =>
            type.GetMethod(name, Instance, parameters)
            ?? throw Missing($"{type.FullName}.{name}({string.Join(", ", parameters.Select(t => t.Name))})");

        private FieldInfo RequireField(Type type, string name, Type fieldType)
        {
            var field = type.GetField(name, Instance);
            if (field is null || field.FieldType != fieldType)
                throw Missing($"{type.FullName}.{name}");
            return field;
        }

        private PropertyInfo RequireProperty(Type type, string name, Type propertyType) =>
            type.GetProperty(name, Instance) is { } property && property.PropertyType == propertyType ? property
            : throw Missing($"{type.FullName}.{name}");

        private NotSupportedException Missing(string member) => new(
            $"mlContext.Model.Save/Load of the library's transformers relies on the internal ML.NET member '{member}', " +
            $"which this {core.GetName().Name} ({CoreVersion()}) does not have " +
            "(the bridge knows Microsoft.ML 5.0.1 and 6.0.0). Use the transformer's own Save(path) and " +
            "Load(path) instead.");

        private string CoreVersion() =>
            core.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? core.GetName().Version?.ToString() ?? "unknown version";
    }
}
