using Ml.Autoencoders.Networks.Recurrent;

namespace Ml.Autoencoders.Networks.Tokens;

/// <summary>
/// A token-sequence body (set <c>AutoencoderOptions.Body</c> to one): the input column is a vector of keys of any length
/// (ML.NET's <c>TokenizeIntoCharactersAsKeys</c>, or <c>TokenizeIntoWords</c> + <c>MapValueToKey</c>), each row one
/// sequence of 1 to <see cref="MaxLength"/> tokens. The tokens are embedded (<see cref="EmbeddingSize"/>), read by a
/// <see cref="Cell"/> encoder whose state after each row's last real token (padding never reaches it) goes through the
/// dense code (<c>HiddenLayerSizes</c>, a code of <c>LatentDimension</c>, or a Gaussian head); a decoder of the same cell
/// starts from the code's state-sized reconstruction and reads it again at every step next to the previous token:
/// teacher-forced in training (the true previous token), greedy at Transform (its own previous choice), until it emits
/// the end of the sequence. Training minimises the cross-entropy of each real token and of the end mark, padding masked
/// out. The reconstruction column is a variable-length key column of the input's key type (with its key values, so
/// <c>MapKeyToValue</c> turns it back into text); the error column is each row's mean token cross-entropy (nats per
/// token, end mark included, teacher-forced). Corruption, greedy pretraining and the contractive penalty are refused.
/// </summary>
public sealed class TokenSequenceOptions : BodyOptions
{
    /// <summary>The longest sequence (tokens per row) the body reads; a longer row is an error naming it. Required.</summary>
    public int MaxLength { get; set; }

    /// <summary>
    /// Keys of the input column's key type. Leave 0: <c>Fit</c> takes it from the column's type (and a saved model records it);
    /// when set, the column's key type must have exactly this many keys.
    /// </summary>
    public int VocabularySize { get; set; }

    /// <summary>Width of each token's learned embedding (shared by the encoder and the decoder).</summary>
    public int EmbeddingSize { get; set; } = 32;

    /// <summary>GRU (the default) or LSTM (the library's own, see <c>RecurrentOptions</c>).</summary>
    public RecurrentCell Cell { get; set; } = RecurrentCell.Gru;

    /// <summary>Units of each recurrent layer, in the encoder and the decoder.</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Stacked recurrent layers in the encoder and in the decoder.</summary>
    public int Layers { get; set; } = 1;

    /// <inheritdoc />
    public override TokenSequenceOptions Clone() => (TokenSequenceOptions)MemberwiseClone();

    /// <inheritdoc />
    public override void Validate()
    {
        const int maxWidth = 1 << 24, maxLayers = 64, maxLength = 1 << 16;
        if (MaxLength <= 0 || MaxLength > maxLength)
            throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, $"A token-sequence body needs the longest sequence it reads: MaxLength must be in 1..{maxLength}.");
        if (VocabularySize < 0 || VocabularySize > maxWidth)
            throw new ArgumentOutOfRangeException(nameof(VocabularySize), VocabularySize, $"VocabularySize must be 0 (taken from the key column at Fit) or in 1..{maxWidth}.");
        if (EmbeddingSize <= 0 || EmbeddingSize > maxWidth / 8)
            throw new ArgumentOutOfRangeException(nameof(EmbeddingSize), EmbeddingSize, $"EmbeddingSize must be in 1..{maxWidth / 8}.");
        if (HiddenSize <= 0 || HiddenSize > maxWidth / 8)
            throw new ArgumentOutOfRangeException(nameof(HiddenSize), HiddenSize, $"HiddenSize must be in 1..{maxWidth / 8}.");
        if (Layers <= 0 || Layers > maxLayers)
            throw new ArgumentOutOfRangeException(nameof(Layers), Layers, $"Layers must be in 1..{maxLayers}.");
        if (!Enum.IsDefined(Cell)) throw new ArgumentOutOfRangeException(nameof(Cell), Cell, "Unknown recurrent cell.");
    }

    /// <inheritdoc />
    internal override int? RowSize => MaxLength;

    /// <inheritdoc />
    internal override int? TokenSlots => MaxLength;

    /// <inheritdoc />
    internal override int TokenVocabulary => VocabularySize;

    /// <inheritdoc />
    internal override BodyOptions WithTokenVocabulary(int keyCount)
    {
        if (VocabularySize != 0 && VocabularySize != keyCount)
            throw new ArgumentException($"The input column's key type has {keyCount} keys; {nameof(VocabularySize)} is {VocabularySize}. Leave it 0 to take the column's.", nameof(VocabularySize));
        var copy = Clone();
        copy.VocabularySize = keyCount;
        return copy;
    }
}
