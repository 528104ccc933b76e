namespace Ml.Autoencoders.Networks.Recurrent;

/// <summary>The recurrent cell of a <see cref="RecurrentOptions"/> body.</summary>
public enum RecurrentCell
{
    /// <summary>Long short-term memory (Hochreiter &amp; Schmidhuber 1997): hidden and cell state.</summary>
    Lstm,

    /// <summary>Gated recurrent unit (Cho et al. 2014): one state, three quarters of an LSTM's weights.</summary>
    Gru,
}

/// <summary>
/// A recurrent (sequence) body (set <c>AutoencoderOptions.Body</c> to one): each row is a window of
/// <see cref="Steps"/> time steps of <see cref="Features"/> values, laid out step by step (step 0's features, then
/// step 1's, ...). An encoder of <see cref="Cell"/> layers reads the window; its last layer's final state (both
/// directions when <see cref="Bidirectional"/>) goes through the dense code (<c>HiddenLayerSizes</c>, then a code of
/// <c>LatentDimension</c> with <c>CodeActivation</c>, or a Gaussian head: a sequence VAE) and back to a state-sized
/// vector, which is repeated at every step as the input of a decoder of the same cell (the repeat-vector recipe); a
/// linear layer per step gives the features back, through the output activation. Corruptions and the sparsity penalty
/// work as for dense bodies; greedy pretraining and the contractive penalty are refused.
/// </summary>
public sealed class RecurrentOptions : BodyOptions
{
    /// <summary>Time steps per row (the window length). Required.</summary>
    public int Steps { get; set; }

    /// <summary>Values per time step (1 for a single series).</summary>
    public int Features { get; set; } = 1;

    /// <summary>LSTM (the default) or GRU.</summary>
    public RecurrentCell Cell { get; set; } = RecurrentCell.Lstm;

    /// <summary>Units of each recurrent layer (per direction), in the encoder and the decoder.</summary>
    public int HiddenSize { get; set; } = 64;

    /// <summary>Stacked recurrent layers in the encoder and in the decoder.</summary>
    public int Layers { get; set; } = 1;

    /// <summary>The encoder reads the window both ways; its state is both directions' final states (the decoder runs forward).</summary>
    public bool Bidirectional { get; set; }

    /// <summary>Values per row: steps x features.</summary>
    internal int Size => checked(Steps * Features);

    /// <summary>The final state the encoder hands the dense code: hidden size, times two when bidirectional.</summary>
    internal int StateSize => HiddenSize * (Bidirectional ? 2 : 1);

    /// <inheritdoc />
    public override RecurrentOptions Clone() => (RecurrentOptions)MemberwiseClone();

    /// <inheritdoc />
    public override void Validate()
    {
        const int maxWidth = 1 << 24, maxLayers = 64;
        if (Steps <= 0) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "A recurrent body needs the window length: Steps must be positive.");
        if (Features <= 0) throw new ArgumentOutOfRangeException(nameof(Features), Features, "Features (values per time step) must be positive.");
        if ((long)Steps * Features > maxWidth)
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, $"{Steps} steps x {Features} features = {(long)Steps * Features} values per row; at most {maxWidth}.");
        if (HiddenSize <= 0 || HiddenSize > maxWidth / 8)
            throw new ArgumentOutOfRangeException(nameof(HiddenSize), HiddenSize, $"HiddenSize must be in 1..{maxWidth / 8}.");
        if (Layers <= 0 || Layers > maxLayers)
            throw new ArgumentOutOfRangeException(nameof(Layers), Layers, $"Layers must be in 1..{maxLayers}.");
        if (!Enum.IsDefined(Cell)) throw new ArgumentOutOfRangeException(nameof(Cell), Cell, "Unknown recurrent cell.");
    }

    /// <inheritdoc />
    internal override int? RowSize => Size;
}
