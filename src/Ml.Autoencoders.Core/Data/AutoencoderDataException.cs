namespace Ml.Autoencoders.Data;

/// <summary>A value in the data cannot be used: a NaN or infinity, a vector of the wrong size, no rows at all.</summary>
public sealed class AutoencoderDataException : InvalidOperationException
{
    internal AutoencoderDataException(string columnName, long? row, string message)
        : base(message)
    {
        ColumnName = columnName;
        Row = row;
    }

    /// <summary>The column that holds the bad value.</summary>
    public string ColumnName { get; }

    /// <summary>Zero-based row position in the data view, when one row is at fault.</summary>
    public long? Row { get; }
}

/// <summary>A column is missing or has the wrong type or size.</summary>
public sealed class AutoencoderSchemaException : ArgumentException
{
    internal AutoencoderSchemaException(string columnName, string message, string? paramName = null)
        : base(message, paramName)
    {
        ColumnName = columnName;
    }

    /// <summary>The column at fault.</summary>
    public string ColumnName { get; }
}
