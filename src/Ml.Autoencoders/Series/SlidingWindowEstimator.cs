using Microsoft.ML;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Series;

/// <summary>
/// The estimator of the sliding-window transform (<c>mlContext.Transforms.SlidingWindows</c>). It learns nothing:
/// <see cref="Fit"/> checks the series' columns and returns the <see cref="SlidingWindowTransformer"/>, so that the
/// windows can start a pipeline (windows, normaliser, autoencoder, per-step errors) fitted in one call.
/// </summary>
public sealed class SlidingWindowEstimator : IEstimator<SlidingWindowTransformer>
{
    private readonly SlidingWindowOptions options;

    /// <summary>An estimator with <paramref name="options"/> (copied and checked now).</summary>
    /// <exception cref="ArgumentException">A column name is missing or repeated, or the window column and the window-start column share a name.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window size or the stride is below 1.</exception>
    public SlidingWindowEstimator(SlidingWindowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options.Clone();
        this.options.Validate();
    }

    /// <summary>A copy of the options.</summary>
    public SlidingWindowOptions Options => options.Clone();

    /// <summary>Checks the series' columns in <paramref name="input"/> and returns the transformer.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">A series column is missing or is not Single (scalar or known-size vector).</exception>
    public SlidingWindowTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        SeriesColumns.Check(input.Schema, options);
        return new SlidingWindowTransformer(options);
    }

    /// <summary>The output's two columns: the window (a vector of Single) and its first step (Int64); the input's columns do not pass through.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">A series column is missing or is not Single (scalar or known-size vector).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SeriesColumns.Check(inputSchema, options);
        return new SchemaShape([SchemaShapeColumns.Vector(options.OutputColumnName), SchemaShapeColumns.Int64(options.WindowStartColumnName)]);
    }
}
