namespace Ml.Autoencoders.Persistence;

/// <summary>A model file or stream is damaged, truncated, of an unknown version or not a model file at all.</summary>
public sealed class AutoencoderModelFormatException : IOException
{
    internal AutoencoderModelFormatException(string message, Exception? inner = null) : base(message, inner) { }
}
