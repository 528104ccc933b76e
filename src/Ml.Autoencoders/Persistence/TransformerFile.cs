namespace Ml.Autoencoders.Persistence;

/// <summary>Small helpers shared by the transformers' own file formats.</summary>
internal static class TransformerFile
{
    /// <summary>Saves to a file atomically: the stream writer fills a temporary file beside it, which is then renamed over the target.</summary>
    public static void Save(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path), temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write)) write(stream);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
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
