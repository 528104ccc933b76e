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

    /// <summary>The images a body that reads images expects (shape and pixel order); null for one that reads flat rows.</summary>
    internal virtual (ImageShape Shape, PixelOrder Order)? Image => null;

    /// <summary>The activation of the code, given the dense code's (a body whose code is its own output has its own).</summary>
    internal virtual Activation CodeActivation(Activation denseCodeActivation) => denseCodeActivation;
}
