namespace Ml.Autoencoders.Persistence;

/// <summary>
/// Every file the library writes goes through here: a temporary file beside the target is filled and then renamed over
/// it (after the content is flushed to disk), so a reader never sees half a file and a failed write leaves the previous
/// file as it was. A file-system error
/// names the path the caller gave (never the temporary file) with the reason, and the temporary file is removed.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> with what <paramref name="write"/> puts in the stream it is given.</summary>
    /// <exception cref="IOException">The file cannot be written (a subclass where the cause has one, e.g.
    /// <see cref="DirectoryNotFoundException"/>); the message names <paramref name="path"/>, the inner exception is the original.</exception>
    /// <exception cref="UnauthorizedAccessException">Access to <paramref name="path"/> or its directory is denied.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path), temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true); // on disk before the rename, so the name never points at a half-written file
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is (IOException and not AutoencoderModelFormatException) or UnauthorizedAccessException)
        {
            throw Named(e, path, $"Cannot write '{path}': {e.Message.Replace(temp, full, StringComparison.Ordinal)}");
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>The same kind of exception as <paramref name="e"/>, with <paramref name="message"/> and <paramref name="e"/> inside.</summary>
    private static Exception Named(Exception e, string path, string message) => e switch
    {
        DirectoryNotFoundException => new DirectoryNotFoundException(message, e),
        FileNotFoundException => new FileNotFoundException(message, path, e),
        PathTooLongException => new PathTooLongException(message, e),
        UnauthorizedAccessException => new UnauthorizedAccessException(message, e),
        _ => new IOException(message, e),
    };

    private static void TryDelete(string temp)
    {
        try
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the write's own outcome (or its error) is what the caller needs to see.
        }
    }
}
