using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ml.Autoencoders.Persistence;

/// <summary>
/// The layout the model file and the training checkpoint share: 8 magic bytes, a format version (int32), the header
/// length (int32), the header (UTF-8 JSON), the payload (raw tensors), then a SHA-256 of everything before it.
/// </summary>
internal static class SignedContainer
{
    public const int Prefix = 16, HashLength = 32;

    /// <summary>Writes the container to <paramref name="stream"/>: <paramref name="payload"/> writes the tensors through the function it is given.</summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> magic, int version, byte[] header, Action<Action<ReadOnlySpan<byte>>> payload, Action<Stream>? afterHeader = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Put(ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(bytes);
            stream.Write(bytes);
        }
        Span<byte> int32 = stackalloc byte[4];
        Put(magic);
        BinaryPrimitives.WriteInt32LittleEndian(int32, version);
        Put(int32);
        BinaryPrimitives.WriteInt32LittleEndian(int32, header.Length);
        Put(int32);
        Put(header);
        afterHeader?.Invoke(stream);
        payload(Put);
        stream.Write(hash.GetHashAndReset());
    }

    /// <summary>
    /// Checks length, magic, version, header length and checksum of <paramref name="bytes"/> (<paramref name="what"/>
    /// names the kind of file in messages) and returns the header's length; the payload runs from
    /// <see cref="Prefix"/> + header length to the bytes' length less <see cref="HashLength"/>.
    /// </summary>
    public static int Check(byte[] bytes, ReadOnlySpan<byte> magic, int version, int maxHeaderBytes, string what)
    {
        if (bytes.Length < Prefix + HashLength)
            throw new AutoencoderModelFormatException($"it is {bytes.Length} bytes long, shorter than any {what} ({Prefix + HashLength} bytes at least).");
        if (!bytes.AsSpan(0, magic.Length).SequenceEqual(magic))
            throw new AutoencoderModelFormatException($"it does not start with the {what} magic bytes '{System.Text.Encoding.ASCII.GetString(magic)}'.");
        int found = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (found != version)
            throw new AutoencoderModelFormatException($"{what} format version {found} is not supported (this library reads version {version}).");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (headerLength <= 0 || headerLength > maxHeaderBytes || headerLength > bytes.Length - Prefix - HashLength)
            throw new AutoencoderModelFormatException($"the header length {headerLength} does not fit the {bytes.Length} bytes present.");
        int bodyEnd = bytes.Length - HashLength;
        if (!SHA256.HashData(bytes.AsSpan(0, bodyEnd)).AsSpan().SequenceEqual(bytes.AsSpan(bodyEnd)))
            throw new AutoencoderModelFormatException("its checksum does not match: the file is damaged or truncated.");
        return headerLength;
    }
}
