using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ml.Autoencoders.Persistence;

/// <summary>
/// The one container every file of the library is written in (model, checkpoint, anomaly detector, fine-tuned classifier,
/// k-NN model and transformer, t-SNE). Layout, little-endian:
/// <code>
///   0       8 bytes   magic: "MLAE" and four letters naming the kind of artifact (MODL, CKPT, ANOM, FTCL, KNNM, KNNT, TSNE, SWIN, STEP)
///   8       int32     format version of that kind
///   12      int32     header length H (1 .. the kind's maximum)
///   16      H bytes   header: UTF-8 JSON (what the artifact is: options, shapes, column names, counts); nothing executable
///   16+H    int32     section count S (0 .. 64)
///           S x int64 section lengths
///           ...       the sections' bytes, in order (raw little-endian arrays, or a nested container)
///   end     32 bytes  SHA-256 of everything before it
/// </code>
/// The checksum covers every byte that is read back; the reader checks length, magic, version and header length before
/// the checksum (so a file of another version says so) and the section table against the bytes present before anything
/// is handed on. Files of older format versions are told apart by their version: the model file and the checkpoint of
/// version 1 had no section table (the payload after the header is their one section); the downstream kinds' first
/// versions were hand-written fields after the magic (<see cref="ArtifactLayout.Fields"/>), read by their own code.
/// Nothing here knows ML.NET or TorchSharp.
/// </summary>
internal static class ArtifactContainer
{
    /// <summary>Magic (8) + version (4) + header length (4).</summary>
    public const int Prefix = 16;

    /// <summary>The SHA-256 at the end.</summary>
    public const int HashLength = 32;

    /// <summary>At most this many sections (an anomaly ensemble of 10 members has 12).</summary>
    public const int MaxSections = 64;

    /// <summary>The JSON settings of the downstream kinds' headers: enums by name, NaN and infinities by name, unknown members ignored.</summary>
    public static readonly JsonSerializerOptions HeaderJson = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Writes the container to <paramref name="stream"/>: the prefix and <paramref name="header"/>, the section table,
    /// <paramref name="sections"/>, then the SHA-256 of all of it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The header is empty or longer than the kind allows, or there are too many sections; nothing is written.</exception>
    public static void Write(Stream stream, ArtifactKind kind, ReadOnlySpan<byte> header, IReadOnlyList<ReadOnlyMemory<byte>> sections)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(sections);
        // What is written must load back: the reader's limits are checked before a byte is written.
        if (header.Length == 0 || header.Length > kind.MaxHeaderBytes)
            throw new InvalidOperationException($"The {kind.Name} cannot be saved: its header is {header.Length} bytes; a {kind.Name} holds 1 to {kind.MaxHeaderBytes}.");
        if (sections.Count > MaxSections)
            throw new InvalidOperationException($"The {kind.Name} cannot be saved: it has {sections.Count} sections; a file holds at most {MaxSections}.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Ml.Autoencoders files are written little-endian.");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Put(ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(bytes);
            stream.Write(bytes);
        }
        Span<byte> number = stackalloc byte[8];
        Put(kind.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(number, kind.Version);
        Put(number[..4]);
        BinaryPrimitives.WriteInt32LittleEndian(number, header.Length);
        Put(number[..4]);
        Put(header);
        BinaryPrimitives.WriteInt32LittleEndian(number, sections.Count);
        Put(number[..4]);
        foreach (var section in sections)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, section.Length);
            Put(number);
        }
        foreach (var section in sections) Put(section.Span);
        stream.Write(hash.GetHashAndReset());
        stream.Flush();
    }

    /// <summary>Writes the container to <paramref name="path"/> through <see cref="AtomicFile.Write"/> (a temporary file renamed over it).</summary>
    /// <exception cref="InvalidOperationException">See <see cref="Write(Stream, ArtifactKind, ReadOnlySpan{byte}, IReadOnlyList{ReadOnlyMemory{byte}})"/>; the file is left as it was.</exception>
    /// <exception cref="IOException">The file cannot be written (the message names <paramref name="path"/>); a file already there is left as it was.</exception>
    public static void Save(string path, ArtifactKind kind, byte[] header, IReadOnlyList<ReadOnlyMemory<byte>> sections) =>
        AtomicFile.Write(path, stream => Write(stream, kind, header, sections));

    /// <summary>
    /// Reads the rest of <paramref name="stream"/> (at most 2 GiB; a non-seekable stream grows with what is really there,
    /// never with what a header claims).
    /// </summary>
    /// <exception cref="AutoencoderModelFormatException">The stream holds more than an array can.</exception>
    public static byte[] ReadAll(Stream stream, string what)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining > Array.MaxLength) throw new AutoencoderModelFormatException($"the {what} is {remaining} bytes; at most {Array.MaxLength} are supported.");
            var buffer = new byte[Math.Max(0, remaining)];
            stream.ReadExactly(buffer);
            return buffer;
        }
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// Checks <paramref name="bytes"/> as a <paramref name="kind"/> file of any version the kind reads: length, magic,
    /// version, header length, checksum, then (for the sectioned layout) the section table against the bytes present.
    /// </summary>
    /// <exception cref="AutoencoderModelFormatException">Any of these is wrong; the message names the kind, the field and what was expected.</exception>
    public static Artifact Read(byte[] bytes, ArtifactKind kind)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(kind);
        string what = kind.Name;
        if (bytes.Length < kind.Magic.Length + 4 + HashLength)
            throw new AutoencoderModelFormatException($"it is {bytes.Length} bytes long, shorter than any {what} ({kind.Magic.Length + 4 + HashLength} bytes at least).");
        if (!bytes.AsSpan(0, kind.Magic.Length).SequenceEqual(kind.Magic))
            throw new AutoencoderModelFormatException($"it does not start with the {what} magic bytes '{System.Text.Encoding.ASCII.GetString(kind.Magic)}'.");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var layout = kind.LayoutOf(version)
            ?? throw new AutoencoderModelFormatException($"{what} format version {version} is not supported (this library reads version{(kind.Older.Count > 0 ? "s" : "")} {kind.ReadableVersions}).");
        int bodyEnd = bytes.Length - HashLength;
        if (layout == ArtifactLayout.Fields)
        {
            CheckHash(bytes, bodyEnd);
            return new Artifact(version, layout, ReadOnlyMemory<byte>.Empty, [bytes.AsMemory(kind.Magic.Length, bodyEnd - kind.Magic.Length)]);
        }
        if (bytes.Length < Prefix + HashLength)
            throw new AutoencoderModelFormatException($"it is {bytes.Length} bytes long, shorter than any {what} ({Prefix + HashLength} bytes at least).");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (headerLength <= 0 || headerLength > kind.MaxHeaderBytes || headerLength > bodyEnd - Prefix)
            throw new AutoencoderModelFormatException($"the header length {headerLength} does not fit the {bytes.Length} bytes present (a {what} header has 1 to {kind.MaxHeaderBytes} bytes).");
        CheckHash(bytes, bodyEnd);
        var header = bytes.AsMemory(Prefix, headerLength);
        int at = Prefix + headerLength;
        if (layout == ArtifactLayout.HeaderAndPayload)
            return new Artifact(version, layout, header, [bytes.AsMemory(at, bodyEnd - at)]);

        if (bodyEnd - at < 4)
            throw new AutoencoderModelFormatException($"the {what} ends after its header; its section table is missing.");
        int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
        at += 4;
        if (count < 0 || count > MaxSections || 8L * count > bodyEnd - at)
            throw new AutoencoderModelFormatException($"the {what} claims {count} sections; at most {MaxSections} fit, and the table must fit the {bodyEnd - at} bytes left.");
        var lengths = new long[count];
        for (int i = 0; i < count; i++, at += 8) lengths[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at));
        var sections = new ReadOnlyMemory<byte>[count];
        long left = bodyEnd - at;
        for (int i = 0; i < count; i++)
        {
            if (lengths[i] < 0 || lengths[i] > left)
                throw new AutoencoderModelFormatException($"section {i} of the {what} claims {lengths[i]} bytes; {left} are left.");
            sections[i] = bytes.AsMemory(at, (int)lengths[i]);
            at += (int)lengths[i];
            left -= lengths[i];
        }
        if (left != 0)
            throw new AutoencoderModelFormatException($"the {what}'s sections end {left} bytes before its checksum.");
        return new Artifact(version, layout, header, sections);
    }

    private static void CheckHash(byte[] bytes, int bodyEnd)
    {
        if (!SHA256.HashData(bytes.AsSpan(0, bodyEnd)).AsSpan().SequenceEqual(bytes.AsSpan(bodyEnd)))
            throw new AutoencoderModelFormatException("its checksum does not match: the file is damaged or truncated.");
    }

    /// <summary>The header as <typeparamref name="T"/> (<paramref name="json"/>, else <see cref="HeaderJson"/>); what JSON cannot bind raises the format exception naming the kind.</summary>
    public static T ReadHeader<T>(Artifact artifact, ArtifactKind kind, JsonSerializerOptions? json = null) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(artifact.Header.Span, json ?? HeaderJson)
                ?? throw new AutoencoderModelFormatException($"the {kind.Name} header is empty (JSON null).");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException or OverflowException or FormatException)
        {
            throw new AutoencoderModelFormatException($"the {kind.Name} header is not valid JSON for a {kind.Name}: {e.Message}", e);
        }
    }

    /// <summary>The header written as JSON with <see cref="HeaderJson"/>.</summary>
    public static byte[] WriteHeader<T>(T header) => JsonSerializer.SerializeToUtf8Bytes(header, HeaderJson);

    /// <summary>Exactly <paramref name="count"/> little-endian values of <typeparamref name="T"/> from <paramref name="section"/>, which must hold no more and no less.</summary>
    /// <exception cref="AutoencoderModelFormatException">The section's length is not <paramref name="count"/> values; the message names <paramref name="what"/>.</exception>
    public static T[] Values<T>(ReadOnlyMemory<byte> section, long count, string what) where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (count < 0 || (Int128)count * size != section.Length)
            throw new AutoencoderModelFormatException($"{what} should hold {count} values of {size} bytes; it holds {section.Length} bytes.");
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(section.Span).ToArray();
    }

    /// <summary>The bytes of <paramref name="values"/>, for a section.</summary>
    public static ReadOnlyMemory<byte> Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}

/// <summary>How a format version lays its bytes out between the magic and the checksum.</summary>
internal enum ArtifactLayout
{
    /// <summary>The current container: header, section table, sections.</summary>
    Sectioned,

    /// <summary>Version 1 of the model file and the checkpoint: header, then one payload (no section table).</summary>
    HeaderAndPayload,

    /// <summary>First versions of the downstream kinds: hand-written fields after the magic, starting with their version; the one section is everything after the magic.</summary>
    Fields,
}

/// <summary>
/// A kind of artifact: its <paramref name="Name"/> in messages, its 8 magic bytes, the <paramref name="Version"/> written
/// (always <see cref="ArtifactLayout.Sectioned"/>), the <paramref name="Older"/> versions still read and their layouts, and
/// the largest header it accepts.
/// </summary>
internal sealed record ArtifactKind(string Name, byte[] Magic, int Version, IReadOnlyDictionary<int, ArtifactLayout> Older, int MaxHeaderBytes = 1 << 20)
{
    /// <summary>The layout of <paramref name="version"/>, or null when this library does not read it.</summary>
    public ArtifactLayout? LayoutOf(int version) =>
        version == Version ? ArtifactLayout.Sectioned : Older.TryGetValue(version, out var layout) ? layout : null;

    /// <summary>"1, 2 and 3": the versions read, for messages.</summary>
    public string ReadableVersions
    {
        get
        {
            var all = Older.Keys.Append(Version).Order().Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            return all.Length == 1 ? all[0] : string.Join(", ", all[..^1]) + " and " + all[^1];
        }
    }
}

/// <summary>A checked container: its version and layout, the header (empty for <see cref="ArtifactLayout.Fields"/>) and its sections.</summary>
internal sealed record Artifact(int Version, ArtifactLayout Layout, ReadOnlyMemory<byte> Header, IReadOnlyList<ReadOnlyMemory<byte>> Sections)
{
    /// <summary>The sections, which must be exactly <paramref name="count"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">Another number of sections; the message names <paramref name="what"/>.</exception>
    public IReadOnlyList<ReadOnlyMemory<byte>> Expect(int count, string what) => Sections.Count == count
        ? Sections
        : throw new AutoencoderModelFormatException($"the {what} holds {Sections.Count} sections; version {Version} has {count}.");
}
