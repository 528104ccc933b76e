using Ml.Autoencoders.Persistence;
namespace Ml.Autoencoders.Transforms;

/// <summary>
/// What the downstream transformers' files share beyond the <see cref="ArtifactContainer"/>: an autoencoder's model file
/// as a section, column names in a header, and the readers of their first format versions (hand-written fields after the
/// magic, <see cref="ArtifactLayout.Fields"/>), kept so that files written before the container still load.
/// </summary>
internal static class TransformerFile
{
    /// <summary>Column names longer than this (in UTF-8 bytes) are refused: names are short.</summary>
    public const int MaxNameBytes = 4096;

    /// <summary>
    /// Opens <paramref name="path"/> and loads it with <paramref name="load"/>; a format error is raised again with the
    /// path in front of its message, as <see cref="AutoencoderModelFile.Load(string, Runtime.ComputeDevice)"/> does.
    /// </summary>
    /// <exception cref="AutoencoderModelFormatException">The file is not a valid <paramref name="kind"/>; the message names <paramref name="path"/>.</exception>
    public static T LoadFile<T>(string path, ArtifactKind kind, Func<Stream, T> load)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            return load(stream);
        }
        catch (AutoencoderModelFormatException e)
        {
            throw new AutoencoderModelFormatException($"'{path}' is not a valid Ml.Autoencoders {kind.Name}: {e.Message}", e.InnerException);
        }
    }

    /// <summary>
    /// Reads <paramref name="bytes"/> as a <paramref name="kind"/> and hands it to the reader of its layout: a first-version
    /// file (<see cref="ArtifactLayout.Fields"/>) to <paramref name="readFields"/>, a container to <paramref name="readContainer"/>.
    /// </summary>
    /// <exception cref="AutoencoderModelFormatException">The bytes are not a valid <paramref name="kind"/>.</exception>
    public static T Load<T>(byte[] bytes, ArtifactKind kind, Func<BinaryReader, T> readFields, Func<Artifact, T> readContainer)
    {
        var artifact = ArtifactContainer.Read(bytes, kind);
        return artifact.Layout == ArtifactLayout.Fields ? ReadFields(artifact.Sections[0], kind.Name, readFields) : readContainer(artifact);
    }

    /// <summary>An autoencoder's own model file, as a section of another container.</summary>
    public static ReadOnlyMemory<byte> AutoencoderSection(AutoencoderTransformer autoencoder)
    {
        using var model = new MemoryStream();
        autoencoder.Save(model);
        return model.ToArray();
    }

    /// <summary>Loads the autoencoder model file held in <paramref name="section"/> onto <paramref name="device"/>.</summary>
    /// <exception cref="AutoencoderModelFormatException">The section is not a valid model file; the message names <paramref name="what"/>.</exception>
    public static AutoencoderTransformer LoadAutoencoder(ReadOnlyMemory<byte> section, Runtime.ComputeDevice device, string what)
    {
        try
        {
            return AutoencoderModelFile.Load(new MemoryStream(section.ToArray(), writable: false), device);
        }
        catch (AutoencoderModelFormatException e)
        {
            throw new AutoencoderModelFormatException($"the autoencoder inside the {what} is not valid: {e.Message}", e);
        }
    }

    /// <summary>A column name from a header: present, not empty, at most <see cref="MaxNameBytes"/> bytes.</summary>
    /// <exception cref="AutoencoderModelFormatException">It is missing, empty or too long; the message names <paramref name="field"/> and <paramref name="what"/>.</exception>
    public static string Name(string? name, string field, string what)
    {
        if (string.IsNullOrEmpty(name) || System.Text.Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
            throw new AutoencoderModelFormatException($"the {what} header's {field} is {(name is null ? "missing" : name.Length == 0 ? "empty" : "longer than " + MaxNameBytes + " bytes")}; a column name was expected.");
        return name;
    }

    /// <summary>Class names (<see cref="Pipeline.KeyValueNames"/>) as a section.</summary>
    public static ReadOnlyMemory<byte> NamesSection(Pipeline.KeyValueNames? names)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) Pipeline.KeyValueNames.Write(writer, names);
        return buffer.ToArray();
    }

    /// <summary>The class names held in <paramref name="section"/>, for <paramref name="classes"/> classes; nothing may follow them.</summary>
    /// <exception cref="AutoencoderModelFormatException">The section is damaged; the message names <paramref name="what"/>.</exception>
    public static Pipeline.KeyValueNames? ReadNames(ReadOnlyMemory<byte> section, int classes, string what)
    {
        // Each name takes at least its 4-byte length: a count the section cannot hold is refused before anything is allocated.
        if (classes < 0 || (section.Length > 4 && 4L * classes > section.Length - 4))
            throw new AutoencoderModelFormatException($"the class-name section of the {what} holds {section.Length} bytes, too few for {classes} class names.");
        return ReadFields(section, $"class-name section of the {what}", r => Pipeline.KeyValueNames.Read(r, classes));
    }

    /// <summary>
    /// Hands a reader over <paramref name="body"/> to <paramref name="read"/>, which must consume it exactly: truncation
    /// and extra bytes raise <see cref="AutoencoderModelFormatException"/> naming <paramref name="what"/>. The readers of
    /// the first, field-by-field versions of the downstream files go through here.
    /// </summary>
    public static T ReadFields<T>(ReadOnlyMemory<byte> body, string what, Func<BinaryReader, T> read)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(body.ToArray(), writable: false));
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

    /// <summary>
    /// Reads an autoencoder model file written length first inside a first-version downstream file: the claimed length
    /// must be exactly the bytes left (<paramref name="what"/> names it in the error; at most the bytes left when more
    /// follow it, <paramref name="last"/> false), then the autoencoder loads onto <paramref name="device"/>.
    /// </summary>
    public static AutoencoderTransformer ReadAutoencoder(BinaryReader reader, Runtime.ComputeDevice device, string what, bool last = true)
    {
        long length = reader.ReadInt64();
        long left = reader.BaseStream.Length - reader.BaseStream.Position;
        if (length < 0 || (last ? length != left : length > left))
            throw new AutoencoderModelFormatException($"The {what} claims a {length}-byte autoencoder; {left} bytes are left.");
        return AutoencoderModelFile.Load(new MemoryStream(reader.ReadBytes((int)length)), device);
    }

    /// <summary>Reads a column name written by <see cref="BinaryWriter.Write(string)"/>, refusing absurd lengths before allocating.</summary>
    public static string ReadName(BinaryReader reader)
    {
        // BinaryWriter prefixes the UTF-8 byte count as a 7-bit encoded int; names are short.
        int length = reader.Read7BitEncodedInt();
        if (length is < 0 or > MaxNameBytes) throw new AutoencoderModelFormatException($"Invalid column-name length {length} in the model file.");
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
