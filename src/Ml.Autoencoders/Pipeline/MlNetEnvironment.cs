using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// What a stage takes from the <see cref="MLContext"/> whose catalog created it, as ML.NET's own trainers do: the
/// context's seed (<c>new MLContext(seed: n)</c>), its log (<see cref="MLContext.Log"/>, through a channel of the
/// context's environment) and its cancellation (<c>CancelExecution</c>, which ML.NET's trainers observe between steps).
/// </summary>
/// <remarks>
/// ML.NET 5.0.1 offers no public way from a catalog to its context: the catalogs hold their environment behind the
/// internal <c>Microsoft.ML.Data.IInternalCatalog.Environment</c> (ML.NET's own packages call the internal
/// <c>CatalogUtils.GetEnvironment</c>), the seed is the internal <c>IHostEnvironmentInternal.Seed</c> and cancellation
/// the internal <c>ICancelable.IsCanceled</c>. This file reaches those three members by reflection, checked once at the
/// first catalog call: when one is missing (another Microsoft.ML version than the pinned one) the catalog call throws a
/// <see cref="NotSupportedException"/> that names it. The log itself goes through public API only
/// (<see cref="IChannelProvider.Start"/>, <see cref="IChannel"/>). With <see cref="MlNetModelBridge"/> the only file
/// that touches ML.NET internals.
/// </remarks>
internal sealed class MlNetEnvironment
{
    private static readonly Lazy<Internals> Api = new(Internals.Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Internals api;

    private MlNetEnvironment(IHostEnvironment environment, Internals api)
    {
        Environment = environment;
        this.api = api;
        Seed = api.Seed(environment);
    }

    /// <summary>The environment of the context (what <c>CatalogUtils.GetEnvironment</c> returns inside ML.NET).</summary>
    public IHostEnvironment Environment { get; }

    /// <summary>The seed the context was created with; null for <c>new MLContext()</c> (then ML.NET is not deterministic).</summary>
    public int? Seed { get; }

    /// <summary>The environment behind an ML.NET catalog (<c>mlContext.Transforms</c>, <c>mlContext.AnomalyDetection.Trainers</c>, ...).</summary>
    /// <exception cref="NotSupportedException">This Microsoft.ML version lacks a member this needs (named), or the catalog holds no environment.</exception>
    public static MlNetEnvironment Of(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var api = Api.Value;
        return new MlNetEnvironment(api.EnvironmentOf(catalog), api);
    }

    /// <summary>True once <c>CancelExecution</c> was called on the context (it stays cancelled, as in ML.NET).</summary>
    public bool IsCanceled => api.IsCanceled(Environment);

    /// <summary>Throws what ML.NET's <c>CheckAlive</c> throws (<see cref="OperationCanceledException"/>) when the context was cancelled.</summary>
    /// <param name="what">What stops, for the message ("the autoencoder's training").</param>
    public void ThrowIfCanceled(string what)
    {
        if (IsCanceled)
            throw new OperationCanceledException($"The MLContext was cancelled (CancelExecution): {what} stopped. A cancelled MLContext stays cancelled; " +
                "create the stage again from a new MLContext to train.");
    }

    /// <summary>
    /// The seed a stage trains with: <paramref name="explicitSeed"/> when given; else the context's seed; else (a context
    /// created without one) a seed drawn from the context's random generator, as ML.NET's trainers draw theirs
    /// (<c>options.Seed ?? Host.Rand.Next()</c>): different on every run, and recorded where the stage records its seed.
    /// </summary>
    /// <param name="explicitSeed">The options' seed.</param>
    /// <param name="component">The stage's name, registered with the environment when a seed is drawn.</param>
    public (int Seed, string Source) ResolveSeed(int? explicitSeed, string component)
    {
        if (explicitSeed is { } given) return (given, "set in the options");
        if (Seed is { } context) return (context, "the MLContext's seed");
        // Registering a host draws its generator from the context's: only done here, so a seeded context's other
        // components (whose hosts draw from the same generator) see exactly the draws they saw before.
        return (Environment.Register(component).Rand.Next(), "drawn from the MLContext's random generator: the MLContext has no seed");
    }

    /// <summary>The reflection into ML.NET's internals, looked up once.</summary>
    private sealed class Internals
    {
        private readonly Type catalogInterface;
        private readonly PropertyInfo catalogEnvironment;
        private readonly Type environmentInterface;
        private readonly PropertyInfo environmentSeed;
        private readonly Type cancelableInterface;
        private readonly PropertyInfo isCanceled;

        private Internals(Type catalogInterface, PropertyInfo catalogEnvironment, Type environmentInterface, PropertyInfo environmentSeed,
            Type cancelableInterface, PropertyInfo isCanceled)
        {
            this.catalogInterface = catalogInterface;
            this.catalogEnvironment = catalogEnvironment;
            this.environmentInterface = environmentInterface;
            this.environmentSeed = environmentSeed;
            this.cancelableInterface = cancelableInterface;
            this.isCanceled = isCanceled;
        }

        public static Internals Probe()
        {
            var data = typeof(TransformsCatalog).Assembly;
            var core = typeof(IHostEnvironment).Assembly;
            var catalog = Type(data, "Microsoft.ML.Data.IInternalCatalog");
            var environment = Type(core, "Microsoft.ML.Runtime.IHostEnvironmentInternal");
            var cancelable = Type(core, "Microsoft.ML.Runtime.ICancelable");
            return new Internals(
                catalog, Property(catalog, "Environment", typeof(IHostEnvironment)),
                environment, Property(environment, "Seed", typeof(int?)),
                cancelable, Property(cancelable, "IsCanceled", typeof(bool)));
        }

        public IHostEnvironment EnvironmentOf(object catalog)
        {
            if (!catalogInterface.IsInstanceOfType(catalog))
                throw new NotSupportedException($"{catalog.GetType().FullName} is not an ML.NET catalog that holds its MLContext's environment ({catalogInterface.FullName}).");
            return catalogEnvironment.GetValue(catalog) as IHostEnvironment
                ?? throw new NotSupportedException($"The catalog {catalog.GetType().FullName} holds no environment.");
        }

        public int? Seed(IHostEnvironment environment) =>
            environmentInterface.IsInstanceOfType(environment) ? (int?)environmentSeed.GetValue(environment)
            : throw new NotSupportedException($"The MLContext's environment ({environment.GetType().FullName}) does not say its seed ({environmentInterface.FullName}).");

        // An environment that cannot be cancelled never is (ML.NET's CheckAlive reads it the same way).
        public bool IsCanceled(IHostEnvironment environment) => cancelableInterface.IsInstanceOfType(environment) && (bool)isCanceled.GetValue(environment)!;

        private static Type Type(Assembly assembly, string name) => assembly.GetType(name, throwOnError: false)
            ?? throw Missing($"type {name} in {assembly.GetName().Name}");

        private static PropertyInfo Property(Type type, string name, Type expected)
        {
            var property = type.GetProperty(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance);
            if (property is null || property.PropertyType != expected || property.GetMethod is null)
                throw Missing($"property {type.FullName}.{name} of type {expected.Name}");
            return property;
        }

        private static NotSupportedException Missing(string what) => new(
            $"This Microsoft.ML ({typeof(MLContext).Assembly.GetName().Version}) lacks the internal {what}, which Ml.Autoencoders reads to take the " +
            $"MLContext's seed, log and cancellation (it was built against Microsoft.ML 5.0.1, which has it). Use the Microsoft.ML version this " +
            "package references.");
    }
}
