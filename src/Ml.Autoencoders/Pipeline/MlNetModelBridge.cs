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
/// ML.NET 5.0.1 keeps its model save/load surface internal (dotnet/machinelearning#4911, #6839), so this file
/// reaches ML.NET internals, by reflection (the only other one is <see cref="MlNetEnvironment"/>: the MLContext's seed,
/// log and cancellation). Microsoft.ML is pinned exactly
/// (Directory.Packages.props). On first use every internal member is looked up once; when one is missing
/// a <see cref="NotSupportedException"/> names it and points to <see cref="AutoencoderTransformer.Save(string)"/>.
/// </para>
/// <para>
/// Save: the entry written for a transformer holds an ML.NET header (the model and loader signatures of its kind,
/// loader assembly = this assembly), a small main stream (payload format and length) and a binary stream with the
/// bytes of the transformer's own <c>Save(Stream)</c>: one format for both routes.
/// </para>
/// <para>
/// Load: ML.NET looks the loader signature up in the <see cref="ComponentCatalog"/> of the loading
/// <see cref="MLContext"/>. A C# assembly cannot carry ML.NET's (internal) <c>LoadableClassAttribute</c>, so the
/// loader is added to a catalog by <see cref="RegisterLoader(ComponentCatalog, IReadOnlyList{Kind})"/>: explicitly through
/// <see cref="AutoencoderModelRegistration.Register(MLContext)"/>, and automatically into the catalog of the
/// context that saves (so Save then Load on one context needs no call).
/// </para>
/// </remarks>
internal static class MlNetModelBridge
{
    /// <summary>One kind of transformer the bridge carries: its ML.NET signatures, payload stream and own format.</summary>
    internal sealed record Kind(Type Transformer, string ModelSignature, string LoaderSignature, string PayloadStreamName, string Description,
        Action<object, Stream> Write, Func<Stream, object> Read);

    // The kinds seen so far: each transformer hands its own kind over when it saves, and the registration call at the
    // top of the library (AutoencoderModelRegistration) hands over every kind; a loader ML.NET calls finds its kind here.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, Kind> Known = new();

    private static Kind KindOf(Type type) => Known.TryGetValue(type, out var kind) ? kind
        : throw new InvalidOperationException($"{type.Name} is not carried by the ML.NET model bridge.");

    // 0x00010001: first version. Bump VerWrittenCur for a new layout; VerWeCanReadBack is the oldest layout still read.
    private const uint VerWrittenCur = 0x00010001;
    private const uint VerReadableCur = 0x00010001;
    private const uint VerWeCanReadBack = 0x00010001;

    private const int PayloadFormat = 1;

    private static readonly Lazy<Internals> Api = new(Internals.Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Implements <see cref="ICanSaveModel.Save(ModelSaveContext)"/> for <paramref name="transformer"/>.</summary>
    public static void Save(ICanSaveModel transformer, ModelSaveContext ctx, Kind kind)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(ctx);
        if (kind.Transformer != transformer.GetType())
            throw new InvalidOperationException($"{transformer.GetType().Name} was handed the bridge kind of {kind.Transformer.Name}.");
        var api = Api.Value;
        Known.TryAdd(kind.Transformer, kind);

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

        // The context that saves can load back with no registration call.
        if (api.SaveEnvironment(ctx) is IHostEnvironment env)
            RegisterLoader(env.ComponentCatalog, [kind]);
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

    /// <summary>Adds the loaders of <paramref name="kinds"/> to <paramref name="catalog"/> (idempotent, thread-safe).</summary>
    /// <exception cref="NotSupportedException">This Microsoft.ML version lacks an internal member the bridge needs.</exception>
    public static void RegisterLoader(ComponentCatalog catalog, IReadOnlyList<Kind> kinds)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        foreach (var kind in kinds) Known.TryAdd(kind.Transformer, kind);
        Api.Value.Register(catalog, kinds);
    }

    /// <summary>
    /// The loader ML.NET calls (through the registered create method) with its <c>ModelLoadContext</c>; typed
    /// <see cref="object"/> because that type is internal. Must read exactly what <see cref="Save"/> wrote to the main stream.
    /// </summary>
    private static T CreateFromModelLoadContext<T>(object ctx)
    {
        var api = Api.Value;
        var kind = KindOf(typeof(T));
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
        return (T)kind.Read(payload);
    }

    /// <summary>Every ML.NET internal the bridge touches, looked up once.</summary>
    private sealed class Internals
    {
        private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        private const BindingFlags Static = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

        // Save side (Microsoft.ML.ModelSaveContext, Microsoft.ML.VersionInfo).
        private readonly ConstructorInfo versionInfoCtor;
        private readonly MethodInfo saveCheckAtModel;
        private readonly MethodInfo saveSetVersionInfo;
        private readonly FieldInfo saveWriter;
        private readonly MethodInfo saveBinaryStream;
        private readonly FieldInfo saveRepository;
        private readonly PropertyInfo repositoryExceptionContext;

        // Load side (Microsoft.ML.ModelLoadContext).
        private readonly MethodInfo loadCheckAtModel;
        private readonly FieldInfo loadReader;
        private readonly MethodInfo loadTryLoadBinaryStream;

        // Registration (Microsoft.ML.ComponentCatalog and its LoadableClassInfo, LoadableClassAttribute, SignatureLoadModel).
        private readonly Type signatureLoadModel;
        private readonly ConstructorInfo loadableClassAttributeCtor;
        private readonly ConstructorInfo loadableClassInfoCtor;
        private readonly MethodInfo catalogAddClass;
        private readonly MethodInfo catalogGetLoadableClassInfo;
        private readonly FieldInfo catalogLock;
        private readonly MethodInfo createMethod;

        private Internals()
        {
            Assembly core = typeof(ModelSaveContext).Assembly;
            Type versionInfo = RequireType(core, "Microsoft.ML.VersionInfo");
            Type loadContext = RequireType(core, "Microsoft.ML.ModelLoadContext");
            Type repository = RequireType(core, "Microsoft.ML.Repository");
            signatureLoadModel = RequireType(core, "Microsoft.ML.SignatureLoadModel");
            Type attribute = RequireType(core, "Microsoft.ML.LoadableClassAttribute");
            Type attributeBase = RequireType(core, "Microsoft.ML.LoadableClassAttributeBase");
            Type classInfo = RequireType(core, typeof(ComponentCatalog).FullName + "+LoadableClassInfo");

            versionInfoCtor = RequireCtor(versionInfo,
                typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string));

            saveCheckAtModel = RequireMethod(typeof(ModelSaveContext), "CheckAtModel", Instance);
            saveSetVersionInfo = RequireMethod(typeof(ModelSaveContext), "SetVersionInfo", Instance, versionInfo);
            saveWriter = RequireField(typeof(ModelSaveContext), "Writer", typeof(BinaryWriter));
            saveBinaryStream = RequireMethod(typeof(ModelSaveContext), "SaveBinaryStream", Instance, typeof(string), typeof(Action<BinaryWriter>));
            saveRepository = RequireField(typeof(ModelSaveContext), "Repository", null);
            repositoryExceptionContext = repository.GetProperty("ExceptionContext", Instance) is { } p && p.PropertyType == typeof(IExceptionContext)
                ? p : throw Missing("Microsoft.ML.Repository.ExceptionContext");

            loadCheckAtModel = RequireMethod(loadContext, "CheckAtModel", Instance, versionInfo);
            loadReader = RequireField(loadContext, "Reader", typeof(BinaryReader));
            loadTryLoadBinaryStream = RequireMethod(loadContext, "TryLoadBinaryStream", Instance, typeof(string), typeof(Action<BinaryReader>));

            loadableClassAttributeCtor = RequireCtor(attribute,
                typeof(string), typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[]));
            loadableClassInfoCtor = RequireCtor(classInfo,
                attributeBase, typeof(MethodInfo), typeof(ConstructorInfo), typeof(MethodInfo), typeof(bool));
            catalogAddClass = RequireMethod(typeof(ComponentCatalog), "AddClass", Instance, classInfo, typeof(string[]), typeof(bool));
            catalogGetLoadableClassInfo = RequireMethod(typeof(ComponentCatalog), "GetLoadableClassInfo", Instance, typeof(string), typeof(Type));
            catalogLock = RequireField(typeof(ComponentCatalog), "_lock", null);

            createMethod = typeof(MlNetModelBridge).GetMethod(nameof(CreateFromModelLoadContext), Static)
                ?? throw new InvalidOperationException("MlNetModelBridge.CreateFromModelLoadContext not found.");

            // SignatureLoadModel must still be (ModelLoadContext ctx): the loader receives exactly that argument.
            var invoke = signatureLoadModel.GetMethod("Invoke");
            if (invoke is null || invoke.GetParameters() is not [var only] || only.ParameterType != loadContext)
                throw Missing("Microsoft.ML.SignatureLoadModel(ModelLoadContext)");
        }

        public static Internals Probe() => new();

        public object CreateVersionInfo(Kind kind, string loaderAssemblyName) =>
            Invoke(versionInfoCtor, [kind.ModelSignature, VerWrittenCur, VerReadableCur, VerWeCanReadBack, loaderAssemblyName, kind.LoaderSignature, null]);

        public void SaveCheckAtModel(ModelSaveContext ctx) => Invoke(saveCheckAtModel, ctx, []);

        public void SetVersionInfo(ModelSaveContext ctx, object versionInfo) => Invoke(saveSetVersionInfo, ctx, [versionInfo]);

        public BinaryWriter SaveWriter(ModelSaveContext ctx) => (BinaryWriter)saveWriter.GetValue(ctx)!;

        public void SaveBinaryStream(ModelSaveContext ctx, string name, Action<BinaryWriter> action) =>
            Invoke(saveBinaryStream, ctx, [name, action]);

        /// <summary>The environment the saving repository was opened with (the saving <see cref="MLContext"/>'s), or null.</summary>
        public object? SaveEnvironment(ModelSaveContext ctx) =>
            saveRepository.GetValue(ctx) is { } rep ? repositoryExceptionContext.GetValue(rep) : null;

        public void LoadCheckAtModel(object ctx, object versionInfo) => Invoke(loadCheckAtModel, ctx, [versionInfo]);

        public BinaryReader LoadReader(object ctx) => (BinaryReader)loadReader.GetValue(ctx)!;

        public bool TryLoadBinaryStream(object ctx, string name, Action<BinaryReader> action) =>
            (bool)Invoke(loadTryLoadBinaryStream, ctx, [name, action])!;

        public void Register(ComponentCatalog catalog, IReadOnlyList<Kind> kinds)
        {
            object gate = catalogLock.GetValue(catalog) ?? catalog;
            lock (gate)
            {
                foreach (var kind in kinds)
                {
                    // Keys are stored lower-case (ComponentCatalog.AddClass).
                    object? existing = Invoke(catalogGetLoadableClassInfo, catalog, [kind.LoaderSignature.ToLowerInvariant(), signatureLoadModel]);
                    if (existing is not null)
                        continue;
                    object attribute = Invoke(loadableClassAttributeCtor,
                    [
                        $"{kind.Description} (Ml.Autoencoders)", kind.Transformer, typeof(MlNetModelBridge),
                        null, signatureLoadModel, kind.Transformer.Name, new[] { kind.LoaderSignature },
                    ]);
                    object info = Invoke(loadableClassInfoCtor, [attribute, null, null, createMethod.MakeGenericMethod(kind.Transformer), false]);
                    Invoke(catalogAddClass, catalog, [info, new[] { kind.LoaderSignature }, true]);
                }
            }
        }

        private static object Invoke(ConstructorInfo ctor, object?[] args) =>
            ctor.Invoke(BindingFlags.DoNotWrapExceptions, null, args, null);

        private static object? Invoke(MethodInfo method, object target, object?[] args) =>
            method.Invoke(target, BindingFlags.DoNotWrapExceptions, null, args, null);

        private static Type RequireType(Assembly assembly, string name) =>
            assembly.GetType(name, throwOnError: false) ?? throw Missing(name);

        private static ConstructorInfo RequireCtor(Type type, params Type[] parameters) =>
            type.GetConstructor(Instance, parameters)
            ?? throw Missing($"{type.FullName}({string.Join(", ", parameters.Select(t => t.Name))})");

        private static MethodInfo RequireMethod(Type type, string name, BindingFlags flags, params Type[] parameters) =>
            type.GetMethod(name, flags, parameters)
            ?? throw Missing($"{type.FullName}.{name}({string.Join(", ", parameters.Select(t => t.Name))})");

        private static FieldInfo RequireField(Type type, string name, Type? fieldType)
        {
            var field = type.GetField(name, Instance);
            if (field is null || (fieldType is not null && field.FieldType != fieldType))
                throw Missing($"{type.FullName}.{name}");
            return field;
        }

        private static NotSupportedException Missing(string member) => new(
            $"mlContext.Model.Save/Load of the library's transformers relies on the internal ML.NET member '{member}', " +
            $"which this Microsoft.ML.Core ({CoreVersion()}) does not have " +
            "(the bridge is built for Microsoft.ML 5.0.1). Use the transformer's own Save(path) and " +
            "Load(path) instead.");

        private static string CoreVersion()
        {
            var assembly = typeof(ModelSaveContext).Assembly;
            return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? assembly.GetName().Version?.ToString() ?? "unknown version";
        }
    }
}
