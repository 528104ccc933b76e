using Microsoft.ML;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Embedding;

/// <summary>
/// t-SNE (van der Maaten and Hinton 2008) as an ML.NET estimator: <see cref="Fit"/> embeds the rows of a vector
/// column (raw pixels, PCA, latent codes) into 1, 2 or 3 dimensions; the fitted <see cref="TsneTransformer"/> appends
/// the coordinates. Create it with <c>mlContext.Transforms.ProjectToTsne(...)</c>.
/// </summary>
/// <remarks>
/// <para>Exact gradients up to <see cref="TsneOptions.ExactMaximumRows"/> rows; above, Barnes-Hut (or, on request,
/// FFT-accelerated interpolation in 2 dimensions), with input affinities over the 3 x perplexity nearest neighbours found by
/// exact batched search (<see cref="TsneOptions.Method"/>).</para>
/// <para>Transform of the training rows returns their fitted coordinates; new rows are placed against the fixed
/// training embedding (openTSNE's scheme, see <see cref="TsneTransformer"/>).</para>
/// <para>Fit keeps the rows in memory (rows x features floats) and, for the exact method, n x n doubles.</para>
/// </remarks>
public sealed class TsneEstimator : IEstimator<TsneTransformer>
{
    private readonly TsneOptions options;
    private readonly MlNetEnvironment? context;
    private readonly string seedSource;

    /// <summary>The estimator of a catalog: <paramref name="context"/> decides a null seed, receives the log and can cancel Fit.</summary>
    internal TsneEstimator(TsneOptions options, MlNetEnvironment? context)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(-1);
        this.options = options.Clone();
        this.context = context;
        (this.options.Seed, seedSource) = context?.ResolveSeed(options.Seed, "Tsne")
            ?? (options.Seed ?? 0, options.Seed is null ? "no MLContext: 0" : "set in the options");
    }

    private const string Embedding = "the t-SNE embedding";

    /// <summary>Reads the input column once and embeds its rows.</summary>
    /// <exception cref="AutoencoderSchemaException">The input column is missing or not a known-size float vector.</exception>
    /// <exception cref="AutoencoderDataException">A value is NaN or infinite (names the row), or there are too few rows for the perplexity.</exception>
    /// <exception cref="TsneDivergedException">The embedding or its KL divergence became NaN or infinite (names the iteration).</exception>
    public TsneTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var fit = FitContext.Start(context, "Tsne");
        fit.ThrowIfCanceled(Embedding);
        fit.Trace($"seed {options.Seed} ({seedSource}; used by the random initialisation only, {options.Initialization} chosen)");
        using var threads = Runtime.TorchThreads.Use(options.Threads);
        var (_, features) = VectorColumn.Check(input.Schema, options.InputColumnName, null);
        var cache = new RowBlocks(features);
        foreach (var (_, values) in new DataViewRows(input, options.InputColumnName, features, "t-SNE").Read(options.CancellationToken))
            cache.Add(values.Span);
        if (cache.Count > int.MaxValue / Math.Max(1, features))
            throw new AutoencoderDataException(options.InputColumnName, null, $"t-SNE holds every row in memory; {cache.Count} rows of {features} values are too many.");
        int n = (int)cache.Count;
        if (n == 0)
            throw new AutoencoderDataException(options.InputColumnName, null, $"Column '{options.InputColumnName}' has no rows: t-SNE needs rows to embed.");
        if (n < 2 || options.Perplexity >= n)
            throw new AutoencoderDataException(options.InputColumnName, null,
                $"t-SNE with perplexity {options.Perplexity} needs more than {Math.Max(1, (int)options.Perplexity)} rows; column '{options.InputColumnName}' has {n}. Lower Perplexity or give more rows.");
        var rows = cache.ToArray();
        var run = options.Clone();
        run.CheckStop = context is null ? null : () => fit.ThrowIfCanceled(Embedding);
        var (embedding, index, kl) = TsneEmbedder.Fit(rows, n, features, run);
        fit.Info(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{n} rows embedded in {options.Dimensions} dimensions ({options.Resolve(n)}, {options.Iterations} iterations): KL divergence {kl:G6}"));
        return new TsneTransformer(options, index, embedding, kl, options.Resolve(n));
    }

    /// <summary>Checks the input column before any work and adds the output column (a float vector).</summary>
    /// <exception cref="AutoencoderSchemaException">The input column is missing or not a float vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        VectorColumn.Check(inputSchema, options.InputColumnName);
        return SchemaShapeColumns.Append(inputSchema, [SchemaShapeColumns.Vector(options.OutputColumnName)]);
    }
}
