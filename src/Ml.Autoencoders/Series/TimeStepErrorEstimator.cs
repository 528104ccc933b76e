using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Pipeline;

namespace Ml.Autoencoders.Series;

/// <summary>
/// The estimator of the per-time-step error transform (<c>mlContext.Transforms.TimeStepErrors</c>). It learns nothing:
/// <see cref="Fit"/> checks the columns and returns the <see cref="TimeStepErrorTransformer"/>, so that a pipeline
/// (sliding windows, autoencoder, per-step errors) fits in one call and maps a series to its per-step scores.
/// </summary>
public sealed class TimeStepErrorEstimator : IEstimator<TimeStepErrorTransformer>
{
    private readonly TimeStepErrorOptions options;

    /// <summary>An estimator with <paramref name="options"/> (copied and checked now).</summary>
    /// <exception cref="ArgumentException">A column name is missing, or two output columns share a name.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window size is below 1 or the series length is negative.</exception>
    public TimeStepErrorEstimator(TimeStepErrorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options.Clone();
        this.options.Validate();
    }

    /// <summary>A copy of the options.</summary>
    public TimeStepErrorOptions Options => options.Clone();

    /// <summary>Checks the columns of <paramref name="input"/> and returns the transformer.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">An input column is missing or has the wrong type, or the window size is neither given nor in the window column's dimensions.</exception>
    public TimeStepErrorTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = new TimeStepErrorTransformer(options);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <summary>The output's three columns (time step Int64, error Single, window count Int32); the input's columns do not pass through.</summary>
    /// <exception cref="Data.AutoencoderSchemaException">An input column is missing or is not a vector of Single.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var names = options.SquaredErrorsColumnName is { } squared ? new[] { squared } : new[] { options.FeatureColumnName, options.ReconstructionColumnName };
        foreach (string name in names) VectorColumn.Check(inputSchema, name);
        var start = inputSchema.Where(c => c.Name == options.WindowStartColumnName).ToList();
        if (start.Count == 0)
            throw new Data.AutoencoderSchemaException(options.WindowStartColumnName, $"Column '{options.WindowStartColumnName}' was not found. Available columns: {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}.", "windowStartColumnName");
        if (start[^1].Kind != SchemaShape.Column.VectorKind.Scalar || (start[^1].ItemType != NumberDataViewType.Int64 && start[^1].ItemType != NumberDataViewType.Int32))
            throw new Data.AutoencoderSchemaException(options.WindowStartColumnName, $"Window-start column '{options.WindowStartColumnName}' must be Int64 or Int32 (the window's first time step); it is {start[^1].ItemType}.", "windowStartColumnName");
        return new SchemaShape([
            SchemaShapeColumns.Int64(options.TimeStepColumnName),
            SchemaShapeColumns.Scalar(options.ErrorColumnName),
            SchemaShapeColumns.Int32(options.WindowCountColumnName),
        ]);
    }
}
