namespace Ml.Autoencoders.Networks;

/// <summary>
/// The options of a network body other than the default dense stack: set <c>AutoencoderOptions.Body</c> to one
/// (<see cref="Convolutional.ConvolutionalOptions"/> today; null keeps the dense body). Each body lives in one folder
/// with its options, its network and its <see cref="BodyKind"/>, listed once in <see cref="Bodies.BodyKinds"/>.
/// </summary>
public abstract class BodyOptions
{
    /// <summary>Bodies are the library's (a body also needs a network, a kind and a file format).</summary>
    private protected BodyOptions()
    {
    }

    /// <summary>A deep copy.</summary>
    public abstract BodyOptions Clone();

    /// <summary>Checks every value of the body itself; throws <see cref="ArgumentException"/> naming the option.</summary>
    public abstract void Validate();

    /// <summary>Values per row the body reads (checked against the input column before training); null: any.</summary>
    internal virtual int? RowSize => null;

    /// <summary>
    /// Token slots per row of a body that reads variable-length token (key) sequences: rows arrive as key values 1..n
    /// padded with 0 to this length; null for a body that reads float rows.
    /// </summary>
    internal virtual int? TokenSlots => null;

    /// <summary>The vocabulary (key count) a token body was built for; 0 until Fit takes it from the input column's key type.</summary>
    internal virtual int TokenVocabulary => 0;

    /// <summary>A copy of a token body's options for a vocabulary of <paramref name="keyCount"/> keys (throws when they name another).</summary>
    internal virtual BodyOptions WithTokenVocabulary(int keyCount) => throw new NotSupportedException("This body does not read tokens.");

    /// <summary>The images a body that reads images expects (shape and pixel order); null for one that reads flat rows.</summary>
    internal virtual (ImageShape Shape, PixelOrder Order)? Image => null;

    /// <summary>The activation of the code, given the dense code's (a body whose code is its own output has its own).</summary>
    internal virtual Activation CodeActivation(Activation denseCodeActivation) => denseCodeActivation;
}
