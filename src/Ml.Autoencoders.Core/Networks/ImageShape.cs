namespace Ml.Autoencoders.Networks;

/// <summary>
/// Shape of one image row: channels, height and width. The input vector of a convolutional autoencoder holds
/// <see cref="Channels"/> x <see cref="Height"/> x <see cref="Width"/> values in the <see cref="PixelOrder"/> the
/// options declare.
/// </summary>
/// <param name="Channels">Colour channels: 1 for grey, 3 for RGB (4 with alpha).</param>
/// <param name="Height">Rows of pixels.</param>
/// <param name="Width">Columns of pixels.</param>
public sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values per row: channels x height x width.</summary>
    public int Size => checked(Channels * Height * Width);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when a dimension is not positive or the size overflows.</summary>
    public void Validate(string name)
    {
        if (Channels <= 0 || Height <= 0 || Width <= 0)
            throw new ArgumentOutOfRangeException(name, this, $"Image shape {this} has a dimension <= 0; channels, height and width must be positive.");
        if ((long)Channels * Height * Width > int.MaxValue)
            throw new ArgumentOutOfRangeException(name, this, $"Image shape {this} holds more than {int.MaxValue} values per row.");
    }

    /// <summary>"channels x height x width", e.g. "1x28x28".</summary>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// How the values of one image are laid out in its vector. <c>ExtractPixels</c> writes
/// <see cref="Planar"/> by default (<c>interleavePixelColors: false</c>) and <see cref="Interleaved"/> with
/// <c>interleavePixelColors: true</c>. For one channel both orders are the same.
/// </summary>
public enum PixelOrder
{
    /// <summary>Channel-major (CHW): every value of channel 0 row by row, then channel 1, ...; what convolutions read.</summary>
    Planar,

    /// <summary>Pixel-major (HWC): the channels of pixel (0,0), then of pixel (0,1), ...</summary>
    Interleaved,
}
