using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Tests;

/// <summary>A row of text (a word, or words separated by spaces).</summary>
public sealed class TextRow
{
    /// <summary>The text.</summary>
    public string Text { get; set; } = "";
}

/// <summary>A row of tokens as keys (what a token-sequence body reads), for prediction engines.</summary>
public sealed class TokenRow
{
    /// <summary>The token keys (1-based; 0 is a missing key).</summary>
    [KeyType(5)]
    public uint[] Tokens { get; set; } = Array.Empty<uint>();
}

/// <summary>Tiny synthetic vocabularies and word lists for the token-sequence body's tests.</summary>
internal static class TokenWords
{
    /// <summary><paramref name="count"/> distinct words of 2..<paramref name="maxLength"/> letters of <paramref name="alphabet"/>, drawn with <paramref name="seed"/>.</summary>
    public static string[] Words(int count, int maxLength, int seed, string alphabet = "abcde")
    {
        var random = new Random(seed);
        var words = new HashSet<string>();
        while (words.Count < count)
            words.Add(new string(Enumerable.Range(0, random.Next(2, maxLength + 1)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray()));
        return words.ToArray();
    }

    /// <summary>Words as a data view of text rows.</summary>
    public static IDataView View(MLContext ml, IEnumerable<string> words) => ml.Data.LoadFromEnumerable(words.Select(w => new TextRow { Text = w }).ToArray());

    /// <summary>
    /// Text to character keys the way a user would: TokenizeIntoCharactersAsKeys (whose key type is every UTF-16 code
    /// unit), back to characters and to compact keys of the characters seen (MapValueToKey), in column "Tokens".
    /// </summary>
    public static IEstimator<ITransformer> Characters(MLContext ml) =>
        ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Chars", "Text", useMarkerCharacters: false)
            .Append(ml.Transforms.Conversion.MapKeyToValue("Chars"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Chars", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue));

    /// <summary>The keys of a token column of <paramref name="view"/>, row by row.</summary>
    public static List<uint[]> Keys(IDataView view, string column)
    {
        var result = new List<uint[]>();
        using var cursor = view.GetRowCursor(new[] { view.Schema[column] });
        var getter = cursor.GetGetter<VBuffer<uint>>(view.Schema[column]);
        VBuffer<uint> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value.DenseValues().ToArray());
        }
        return result;
    }

    /// <summary>A text column of <paramref name="view"/> joined per row (a vector of characters becomes a word).</summary>
    public static List<string> Text(IDataView view, string column)
    {
        var result = new List<string>();
        using var cursor = view.GetRowCursor(new[] { view.Schema[column] });
        var getter = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view.Schema[column]);
        VBuffer<ReadOnlyMemory<char>> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(string.Concat(value.DenseValues().Select(v => v.ToString())));
        }
        return result;
    }
}
