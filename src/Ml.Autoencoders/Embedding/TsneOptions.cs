using Ml.Autoencoders.Runtime;

namespace Ml.Autoencoders.Embedding;

/// <summary>How the t-SNE gradient's repulsive part is computed.</summary>
public enum TsneGradientMethod
{
    /// <summary>
    /// <see cref="Exact"/> up to <see cref="TsneOptions.ExactMaximumRows"/> rows, <see cref="BarnesHut"/> above
    /// (Barnes-Hut reached a lower KL divergence than FFT interpolation at about the same speed; figures in bench/README.md).
    /// </summary>
    Auto,

    /// <summary>All pairs, O(n²) per iteration, with input affinities over all rows (scikit-learn's <c>method='exact'</c>).</summary>
    Exact,

    /// <summary>Barnes-Hut space-partitioning tree (<see cref="TsneOptions.Theta"/>), input affinities over 3 x perplexity neighbours.</summary>
    BarnesHut,

    /// <summary>
    /// FFT-accelerated interpolation on a grid (FIt-SNE, Linderman et al. 2019), 2 output dimensions only; input
    /// affinities over 3 x perplexity neighbours.
    /// </summary>
    FftInterpolation,
}

/// <summary>Where the optimisation starts.</summary>
public enum TsneInitialization
{
    /// <summary>The first principal components of the input, scaled so the first has standard deviation 1e-4 (scikit-learn's default).</summary>
    Pca,

    /// <summary>Gaussian noise of standard deviation 1e-4 (seeded).</summary>
    Random,
}

/// <summary>Progress of a t-SNE optimisation, reported every <see cref="TsneOptions.ProgressInterval"/> iterations and at the end.</summary>
/// <param name="Iteration">Iterations done.</param>
/// <param name="Iterations">Iterations in total.</param>
/// <param name="KlDivergence">KL(P‖Q) of the current embedding (with exaggeration removed).</param>
/// <param name="Elapsed">Time since Fit started (affinities included).</param>
public readonly record struct TsneProgress(int Iteration, int Iterations, double KlDivergence, TimeSpan Elapsed);

/// <summary>Every knob of the t-SNE transform (<c>mlContext.Transforms.ProjectToTsne</c>).</summary>
public sealed class TsneOptions
{
    /// <summary>Default values, shared by the catalog overloads.</summary>
    public static class Defaults
    {
        /// <summary>Output dimensions: 2.</summary>
        public const int Dimensions = 2;
        /// <summary>Perplexity: 30.</summary>
        public const double Perplexity = 30;
        /// <summary>Early exaggeration: 12.</summary>
        public const double EarlyExaggeration = 12;
        /// <summary>Iterations with early exaggeration: 250.</summary>
        public const int EarlyExaggerationIterations = 250;
        /// <summary>Iterations in total: 1000 (scikit-learn's default).</summary>
        public const int Iterations = 1000;
        /// <summary>Barnes-Hut accuracy: 0.5.</summary>
        public const double Theta = 0.5;
        /// <summary>Largest row count for which <see cref="TsneGradientMethod.Auto"/> uses exact gradients: 1000.</summary>
        public const int ExactMaximumRows = 1000;
        /// <summary>Perplexity used to place new rows: 5 (as openTSNE).</summary>
        public const double TransformPerplexity = 5;
        /// <summary>Optimisation steps that place new rows: 100.</summary>
        public const int TransformIterations = 100;
        /// <summary>Output column: "Tsne".</summary>
        public const string OutputColumnName = DefaultColumnNames.Tsne;
        /// <summary>Input column: "Features".</summary>
        public const string InputColumnName = DefaultColumnNames.Features;
    }

    /// <summary>The input column: a known-size vector of <see cref="float"/>. Default "Features".</summary>
    public string InputColumnName { get; set; } = Defaults.InputColumnName;

    /// <summary>The appended column: a vector of <see cref="Dimensions"/> floats. Default "Tsne".</summary>
    public string OutputColumnName { get; set; } = Defaults.OutputColumnName;

    /// <summary>Output dimensions: 1, 2 or 3. Default 2.</summary>
    public int Dimensions { get; set; } = Defaults.Dimensions;

    /// <summary>Effective number of neighbours of each row in the input space. Default 30; must be below the row count.</summary>
    public double Perplexity { get; set; } = Defaults.Perplexity;

    /// <summary>Factor on the attractive forces during the first <see cref="EarlyExaggerationIterations"/> iterations. Default 12.</summary>
    public double EarlyExaggeration { get; set; } = Defaults.EarlyExaggeration;

    /// <summary>Iterations with early exaggeration (momentum 0.5; afterwards 0.8). Default 250.</summary>
    public int EarlyExaggerationIterations { get; set; } = Defaults.EarlyExaggerationIterations;

    /// <summary>Iterations in total, early exaggeration included. Default 1000. All are run (no early stop).</summary>
    public int Iterations { get; set; } = Defaults.Iterations;

    /// <summary>
    /// Step size; null = max(n / <see cref="EarlyExaggeration"/>, 200), the rule of Belkina et al. (2019) that openTSNE
    /// and FIt-SNE use. Defined for the gradient without its factor 4 (as bhtsne, FIt-SNE and openTSNE define it);
    /// scikit-learn's learning_rate is 4 times smaller for the same steps.
    /// </summary>
    public double? LearningRate { get; set; }

    /// <summary>Where the optimisation starts. Default <see cref="TsneInitialization.Pca"/>.</summary>
    public TsneInitialization Initialization { get; set; } = TsneInitialization.Pca;

    /// <summary>
    /// Seed of the random initialisation (the PCA one, the default, is deterministic). Null (the default) lets the
    /// <c>MLContext</c> decide, as ML.NET's trainers do: the context's seed (<c>new MLContext(seed: n)</c>), or for a context
    /// created without one a seed drawn from its random generator. The fitted transformer's <c>Options.Seed</c> records the seed used.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Threads for <c>Fit</c>: the embedding's parallel loops use at most this many, and TorchSharp's count (the FFT
    /// repulsion) is set for the call and restored after it; 0 (the default) leaves both at their defaults. At most
    /// <see cref="Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore"/> per core of this machine.
    /// </summary>
    public int Threads { get; set; }

    /// <summary>How the repulsive forces are computed. Default <see cref="TsneGradientMethod.Auto"/>.</summary>
    public TsneGradientMethod Method { get; set; } = TsneGradientMethod.Auto;

    /// <summary>Largest row count that <see cref="TsneGradientMethod.Auto"/> treats exactly. Default 1000.</summary>
    public int ExactMaximumRows { get; set; } = Defaults.ExactMaximumRows;

    /// <summary>Barnes-Hut accuracy (0 = exact; larger = faster, coarser). Default 0.5.</summary>
    public double Theta { get; set; } = Defaults.Theta;

    /// <summary>Perplexity of new rows' affinities to the training rows when Transform places them. Default 5.</summary>
    public double TransformPerplexity { get; set; } = Defaults.TransformPerplexity;

    /// <summary>Optimisation steps that place each batch of new rows against the fixed training embedding. Default 100.</summary>
    public int TransformIterations { get; set; } = Defaults.TransformIterations;

    /// <summary>Rows per batch when Transform places new rows. Default 1024.</summary>
    public int TransformBatchSize { get; set; } = 1024;

    /// <summary>Where the neighbour search runs. Default: CUDA when available, else the CPU. The optimisation runs on the CPU.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Auto;

    /// <summary>Receives progress every <see cref="ProgressInterval"/> iterations; null for none.</summary>
    public IProgress<TsneProgress>? Progress { get; set; }

    /// <summary>Iterations between progress reports. Default 50.</summary>
    public int ProgressInterval { get; set; } = 50;

    /// <summary>Stops Fit between iterations (throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Checked with <see cref="CancellationToken"/> at every iteration: the MLContext's cancellation (set by the estimator of a catalog).</summary>
    internal Action? CheckStop { get; set; }

    internal TsneOptions Clone() => (TsneOptions)MemberwiseClone();

    internal void Validate(int rows)
    {
        Runtime.TorchThreads.Check(Threads, nameof(Threads), Transforms.AutoencoderOptions.Defaults.MaxThreadsPerCore);
        // Every number first: a NaN or infinite option would either poison the optimisation or be saved into a file
        // that Load then refuses.
        Finite(nameof(Perplexity), Perplexity);
        Finite(nameof(EarlyExaggeration), EarlyExaggeration);
        if (LearningRate is { } rate) Finite(nameof(LearningRate), rate);
        Finite(nameof(Theta), Theta);
        Finite(nameof(TransformPerplexity), TransformPerplexity);
        if (string.IsNullOrEmpty(InputColumnName)) throw new ArgumentException("InputColumnName must name a column.", nameof(InputColumnName));
        if (string.IsNullOrEmpty(OutputColumnName)) throw new ArgumentException("OutputColumnName must name a column.", nameof(OutputColumnName));
        if (Dimensions is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(Dimensions), Dimensions, "t-SNE embeds into 1, 2 or 3 dimensions.");
        if (!(Perplexity > 0)) throw new ArgumentOutOfRangeException(nameof(Perplexity), Perplexity, "Perplexity must be positive.");
        if (rows >= 0 && Perplexity >= rows)
            throw new ArgumentOutOfRangeException(nameof(Perplexity), Perplexity, $"Perplexity must be below the number of rows ({rows}).");
        if (!(EarlyExaggeration >= 1)) throw new ArgumentOutOfRangeException(nameof(EarlyExaggeration), EarlyExaggeration, "EarlyExaggeration must be at least 1.");
        if (Iterations < 1) throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "Iterations must be at least 1.");
        if (EarlyExaggerationIterations < 0 || EarlyExaggerationIterations > Iterations)
            throw new ArgumentOutOfRangeException(nameof(EarlyExaggerationIterations), EarlyExaggerationIterations, $"EarlyExaggerationIterations must be between 0 and Iterations ({Iterations}); lower it when running fewer iterations.");
        if (LearningRate is { } lr && !(lr > 0 && double.IsFinite(lr))) throw new ArgumentOutOfRangeException(nameof(LearningRate), lr, "LearningRate must be positive and finite.");
        if (!(Theta >= 0 && double.IsFinite(Theta))) throw new ArgumentOutOfRangeException(nameof(Theta), Theta, "Theta must be 0 or more.");
        if (Method == TsneGradientMethod.FftInterpolation && Dimensions != 2)
            throw new ArgumentOutOfRangeException(nameof(Method), Method, "FFT interpolation embeds into 2 dimensions only; use BarnesHut or Auto for 1 or 3.");
        if (!Enum.IsDefined(Method)) throw new ArgumentOutOfRangeException(nameof(Method), Method, "Unknown gradient method.");
        if (!Enum.IsDefined(Initialization)) throw new ArgumentOutOfRangeException(nameof(Initialization), Initialization, "Unknown initialisation.");
        if (!(TransformPerplexity > 0)) throw new ArgumentOutOfRangeException(nameof(TransformPerplexity), TransformPerplexity, "TransformPerplexity must be positive.");
        if (TransformIterations < 0) throw new ArgumentOutOfRangeException(nameof(TransformIterations), TransformIterations, "TransformIterations must be 0 or more.");
        if (TransformBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(TransformBatchSize), TransformBatchSize, "TransformBatchSize must be at least 1.");
        if (ProgressInterval < 1) throw new ArgumentOutOfRangeException(nameof(ProgressInterval), ProgressInterval, "ProgressInterval must be at least 1.");
        if (ExactMaximumRows < 0) throw new ArgumentOutOfRangeException(nameof(ExactMaximumRows), ExactMaximumRows, "ExactMaximumRows must be 0 or more.");
    }

    private static void Finite(string name, double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number; got {value}.");
    }

    /// <summary>The method used for <paramref name="rows"/> rows.</summary>
    internal TsneGradientMethod Resolve(int rows) => Method != TsneGradientMethod.Auto ? Method
        : rows <= ExactMaximumRows ? TsneGradientMethod.Exact
        : TsneGradientMethod.BarnesHut;
}
