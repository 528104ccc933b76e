using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ml.Autoencoders.Persistence;

// JSON converters that bound every collection while a file's header is read, so a small header cannot make the reader
// build millions of objects before a count is checked.

/// <summary>A JSON array read into <typeparamref name="T"/>[], refused (JsonException) as soon as it holds more than <paramref name="max"/> elements.</summary>
internal sealed class BoundedArray<T>(int max) : JsonConverter<T[]>
{
    public override T[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        BoundedList<T>.ReadItems(ref reader, options, max).ToArray();

    public override void Write(Utf8JsonWriter writer, T[] value, JsonSerializerOptions options) => BoundedList<T>.WriteItems(writer, value, options);
}

/// <summary>A JSON array read into a <see cref="List{T}"/>, refused (JsonException) as soon as it holds more than <paramref name="max"/> elements.</summary>
internal sealed class BoundedList<T>(int max) : JsonConverter<List<T>>
{
    public override List<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadItems(ref reader, options, max);

    public override void Write(Utf8JsonWriter writer, List<T> value, JsonSerializerOptions options) => WriteItems(writer, value, options);

    internal static List<T> ReadItems(ref Utf8JsonReader reader, JsonSerializerOptions options, int max)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException($"expected an array of {typeof(T).Name}, found {reader.TokenType}.");
        var items = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (items.Count == max) throw new JsonException($"an array of {typeof(T).Name} holds more than {max} entries.");
            items.Add(JsonSerializer.Deserialize<T>(ref reader, options)!);
        }
        return items;
    }

    internal static void WriteItems(Utf8JsonWriter writer, IEnumerable<T> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var item in value) JsonSerializer.Serialize(writer, item, options);
        writer.WriteEndArray();
    }
}

/// <summary>Loss terms by name, refused (JsonException) beyond <paramref name="max"/> entries.</summary>
internal sealed class BoundedTerms(int max) : JsonConverter<Dictionary<string, double>>
{
    public override Dictionary<string, double> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"expected an object of loss terms, found {reader.TokenType}.");
        var terms = new Dictionary<string, double>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            reader.Read();
            if (terms.Count == max) throw new JsonException($"more than {max} loss terms.");
            terms[name] = JsonSerializer.Deserialize<double>(ref reader, options);
        }
        return terms;
    }

    public override void Write(Utf8JsonWriter writer, Dictionary<string, double> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (name, term) in value)
        {
            writer.WritePropertyName(name);
            JsonSerializer.Serialize(writer, term, options);
        }
        writer.WriteEndObject();
    }
}
