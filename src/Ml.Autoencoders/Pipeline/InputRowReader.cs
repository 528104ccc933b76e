using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// Reads one input column's rows into dense float rows, chosen by the column's type: a known-size float vector is
/// copied and checked for NaN and infinity (<see cref="VectorColumn.CopyDense"/>); a vector of keys (a token sequence of
/// any length, from ML.NET's text transforms) becomes its key values 1..n, padded with 0 to the row width, after checks
/// that name the row: not empty, no missing key (0: a value outside the vocabulary), no longer than the width.
/// </summary>
internal abstract class InputRowReader
{
    /// <summary>A reader of <paramref name="column"/> on <paramref name="row"/> (a cursor or a row).</summary>
    public static InputRowReader Create(DataViewRow row, DataViewSchema.Column column, string consumer) =>
        column.Type is VectorDataViewType { ItemType: KeyDataViewType key }
            ? new Tokens(row.GetGetter<VBuffer<uint>>(column), column.Name, key.Count, consumer)
            : new Floats(row.GetGetter<VBuffer<float>>(column), column.Name, consumer);

    /// <summary>Reads the current row (position <paramref name="position"/>, for messages) into <paramref name="destination"/>.</summary>
    public abstract void Read(Span<float> destination, long position);

    private sealed class Floats(ValueGetter<VBuffer<float>> getter, string name, string consumer) : InputRowReader
    {
        private VBuffer<float> value;

        public override void Read(Span<float> destination, long position)
        {
            getter(ref value);
            VectorColumn.CopyDense(value, destination, name, position, consumer);
        }
    }

    private sealed class Tokens(ValueGetter<VBuffer<uint>> getter, string name, ulong keyCount, string consumer) : InputRowReader
    {
        private VBuffer<uint> value;

        public override void Read(Span<float> destination, long position)
        {
            getter(ref value);
            CopyTokens(value, destination, name, keyCount, position, consumer);
        }
    }

    /// <summary>The checks and the copy of one token row (see the class summary).</summary>
    public static void CopyTokens(in VBuffer<uint> source, Span<float> destination, string name, ulong keyCount, long position, string consumer)
    {
        int length = source.Length;
        if (length == 0)
            throw new AutoencoderDataException(name, position, $"Row {position} of column '{name}' is an empty token sequence; {consumer} needs at least one token per row (filter empty text out first, for example with FilterByCustomPredicate).");
        if (length > destination.Length)
            throw new AutoencoderDataException(name, position, $"Row {position} of column '{name}' has {length} tokens; the body reads at most {destination.Length} (MaxLength). Raise MaxLength or filter longer rows out.");
        destination.Clear();
        if (source.IsDense)
        {
            var values = source.GetValues();
            for (int i = 0; i < length; i++) destination[i] = values[i];
        }
        else
        {
            var values = source.GetValues();
            var indices = source.GetIndices();
            for (int i = 0; i < indices.Length; i++) destination[indices[i]] = values[i];
        }
        for (int i = 0; i < length; i++)
        {
            float key = destination[i];
            if (key == 0)
                throw new AutoencoderDataException(name, position, $"Row {position} of column '{name}' has a missing key at token {i} (key 0: a value outside the vocabulary of the key type, which MapValueToKey maps to missing); {consumer} reads keys 1..{keyCount}. Build the key type on data that holds every value, or drop such rows.");
            if (key > keyCount)
                throw new AutoencoderDataException(name, position, $"Row {position} of column '{name}' has key {key} at token {i}, outside its key type's 1..{keyCount}.");
        }
    }
}
