namespace Ml.Autoencoders.Persistence;

/// <summary>Small helpers shared by the transformers' own file formats.</summary>
internal static class TransformerFile
{
    /// <summary>
    /// Saves to a file atomically: the stream writer fills a temporary file beside it, which is then renamed over the
    /// target (<see cref="AtomicFile.Write"/>: errors name <paramref name="path"/>).
    /// </summary>
    public static void Save(string path, Action<Stream> write) => AtomicFile.Write(path, write);

    /// <summary>
    /// Writes <paramref name="magic"/>, then what <paramref name="write"/> writes, then a SHA-256 of all of it, to
    /// <paramref name="stream"/>: the checked container of the k-NN and t-SNE files.
    /// </summary>
    public static void WriteChecked(Stream stream, ReadOnlySpan<byte> magic, Action<BinaryWriter> write)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(magic);
            write(w);
        }
        body.Position = 0;
        var hash = System.Security.Cryptography.SHA256.HashData(body);
        body.Position = 0;
        body.CopyTo(stream);
        stream.Write(hash);
    }

    /// <summary>
    /// Reads the rest of <paramref name="stream"/> (growing with what is really there, never with what a header claims),
    /// checks the magic and the SHA-256 written by <see cref="WriteChecked"/>, and hands a reader over the payload to
    /// <paramref name="read"/>. Truncation and damage raise <see cref="AutoencoderModelFormatException"/> naming <paramref name="what"/>.
    /// </summary>
    public static T ReadChecked<T>(Stream stream, ReadOnlySpan<byte> magic, string what, Func<BinaryReader, T> read)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        byte[] data = bytes.GetBuffer();
        int length = (int)bytes.Length;
        if (length < magic.Length + 32 || !data.AsSpan(0, magic.Length).SequenceEqual(magic))
            throw new AutoencoderModelFormatException($"Not a {what} (the magic bytes {System.Text.Encoding.ASCII.GetString(magic)} are missing).");
        if (!System.Security.Cryptography.SHA256.HashData(data.AsSpan(0, length - 32)).AsSpan().SequenceEqual(data.AsSpan(length - 32, 32)))
            throw new AutoencoderModelFormatException($"The {what} is damaged or truncated (checksum mismatch).");
        try
        {
            using var reader = new BinaryReader(new MemoryStream(data, magic.Length, length - 32 - magic.Length, writable: false));
            var result = read(reader);
            if (reader.BaseStream.Position != reader.BaseStream.Length)
                throw new AutoencoderModelFormatException($"The {what} has unexpected bytes after its content.");
            return result;
        }
        catch (EndOfStreamException e)
        {
            throw new AutoencoderModelFormatException($"The {what} is truncated.", e);
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> values of <typeparamref name="T"/> written as raw bytes.</summary>
    public static T[] ReadArray<T>(BinaryReader reader, long count, string what) where T : unmanaged
    {
        var values = new T[count];
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.Read(bytes) != bytes.Length) throw new AutoencoderModelFormatException($"The {what} is truncated.");
        return values;
    }

    /// <summary>Reads a column name written by <see cref="BinaryWriter.Write(string)"/>, refusing absurd lengths before allocating.</summary>
    public static string ReadName(BinaryReader reader)
    {
        // BinaryWriter prefixes the UTF-8 byte count as a 7-bit encoded int; names are short.
        int length = reader.Read7BitEncodedInt();
        if (length is < 0 or > 4096) throw new AutoencoderModelFormatException($"Invalid column-name length {length} in the model file.");
        var bytes = reader.ReadBytes(length);
        if (bytes.Length != length) throw new AutoencoderModelFormatException("The model file is truncated in a column name.");
        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(bytes);
        }
        catch (ArgumentException e)
        {
            throw new AutoencoderModelFormatException("A column name in the model file is not valid UTF-8.", e);
        }
    }
}
