using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// What the file fuzz tests share: byte-level damage (flips, overwrites, truncations, splices, insertions, deletions),
/// re-signing (a fresh SHA-256, so the parser behind the checksum really runs), settings from the environment, a tally
/// of outcomes per mutation kind, and a watchdog that names a case that hangs.
/// </summary>
internal static class FileFuzzing
{
    /// <summary>Kind 0: flip 1-4 random bytes; 1: truncate; 2: splice a random range of the file into another place.</summary>
    public static byte[] Damage(byte[] original, Random random, int kind)
    {
        var bytes = (byte[])original.Clone();
        switch (kind)
        {
            case 0:
                for (int i = random.Next(1, 5); i > 0; i--) bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                return bytes;
            case 1:
                return bytes[..random.Next(bytes.Length)];
            default:
                int from = random.Next(bytes.Length), length = random.Next(1, Math.Min(64, bytes.Length - from) + 1), to = random.Next(bytes.Length - length + 1);
                Array.Copy(original, from, bytes, to, length);
                return bytes;
        }
    }

    /// <summary>1-4 bytes XOR-ed with a non-zero value, at random places (at least one byte long).</summary>
    public static byte[] Flip(byte[] original, Random random) => Damage(original, random, 0);

    /// <summary>A run of 1-16 random bytes written over a random place.</summary>
    public static byte[] Overwrite(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        if (bytes.Length == 0) return bytes;
        int at = random.Next(bytes.Length), length = Math.Min(random.Next(1, 17), bytes.Length - at);
        random.NextBytes(bytes.AsSpan(at, length));
        return bytes;
    }

    /// <summary>The first 0..n-1 bytes.</summary>
    public static byte[] Truncate(byte[] original, Random random) => original[..random.Next(original.Length)];

    /// <summary>The start of <paramref name="first"/> up to a random point, then the rest of <paramref name="second"/> from a random point.</summary>
    public static byte[] Splice(byte[] first, byte[] second, Random random) =>
        [.. first.AsSpan(0, random.Next(first.Length + 1)), .. second.AsSpan(random.Next(second.Length + 1))];

    /// <summary>1-64 random bytes inserted at a random place.</summary>
    public static byte[] Insert(byte[] original, Random random)
    {
        int at = random.Next(original.Length + 1);
        var extra = new byte[random.Next(1, 65)];
        random.NextBytes(extra);
        return [.. original.AsSpan(0, at), .. extra, .. original.AsSpan(at)];
    }

    /// <summary>A random range of 1-64 bytes removed.</summary>
    public static byte[] Delete(byte[] original, Random random)
    {
        if (original.Length == 0) return original;
        int at = random.Next(original.Length), length = Math.Min(random.Next(1, 65), original.Length - at);
        return [.. original.AsSpan(0, at), .. original.AsSpan(at + length)];
    }

    /// <summary><paramref name="length"/> random bytes.</summary>
    public static byte[] Garbage(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary><paramref name="body"/> followed by its SHA-256: how every Ml.Autoencoders file ends.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> body) => [.. body, .. SHA256.HashData(body)];

    /// <summary>The body of a signed file: everything before its last 32 bytes.</summary>
    public static byte[] Body(byte[] signed) => signed[..^32];

    /// <summary>The JSON header of an autoencoder model file (layout: magic, version, header length, header, weights, SHA-256).</summary>
    public static JsonObject Header(byte[] modelFile) =>
        JsonNode.Parse(modelFile.AsSpan(16, BinaryPrimitives.ReadInt32LittleEndian(modelFile.AsSpan(12))))!.AsObject();

    /// <summary>
    /// The model file with its header replaced by <paramref name="json"/> (the weights kept) and re-signed, so the
    /// parser behind the checksum reads it.
    /// </summary>
    public static byte[] WithHeader(byte[] modelFile, string json)
    {
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(modelFile.AsSpan(12));
        var header = Encoding.UTF8.GetBytes(json);
        var prefix = modelFile[..16];
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(12), header.Length);
        return Sign([.. prefix, .. header, .. modelFile.AsSpan(16 + headerLength, modelFile.Length - 32 - 16 - headerLength)]);
    }

    /// <summary>The model file with its header edited by <paramref name="edit"/> and re-signed.</summary>
    public static byte[] EditHeader(byte[] modelFile, Action<JsonObject> edit)
    {
        var header = Header(modelFile);
        edit(header);
        return WithHeader(modelFile, header.ToJsonString());
    }

    /// <summary>A tensor table (JSON) listing <paramref name="tensors"/>.</summary>
    public static JsonArray Table(IEnumerable<(string Name, long[] Shape)> tensors) =>
        new(tensors.Select(t => (JsonNode)new JsonObject { ["Name"] = t.Name, ["Shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()) }).ToArray());

    /// <summary>An integer from the environment variable <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public static int EnvironmentInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) ? value : fallback;

    /// <summary>
    /// Runs <paramref name="body"/> for cases 0..<paramref name="count"/>-1 on a worker thread while this thread watches:
    /// a case still running after <paramref name="perCase"/> fails the test with <paramref name="describe"/>'s text for
    /// it (a hang is reported, not waited for). An exception from a case is rethrown here.
    /// </summary>
    public static void RunWatched(int count, Action<int> body, Func<int, string> describe, TimeSpan perCase)
    {
        int current = -1;
        long started = Stopwatch.GetTimestamp();
        ExceptionDispatchInfo? failure = null;
        var worker = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < count; i++)
                {
                    Volatile.Write(ref started, Stopwatch.GetTimestamp());
                    Volatile.Write(ref current, i);
                    body(i);
                }
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { IsBackground = true, Name = "fuzz worker" };
        worker.Start();
        while (!worker.Join(50))
        {
            var running = Stopwatch.GetElapsedTime(Volatile.Read(ref started));
            if (running > perCase)
                Assert.Fail($"Case {Volatile.Read(ref current)} has run for {running.TotalSeconds:F1} s (limit {perCase.TotalSeconds} s): {describe(Volatile.Read(ref current))}");
        }
        failure?.Throw();
    }
}

/// <summary>How many cases of each mutation kind ended in each outcome.</summary>
internal sealed class FuzzTally
{
    private readonly SortedDictionary<string, SortedDictionary<string, int>> counts = new(StringComparer.Ordinal);
    private readonly object gate = new();

    public void Add(string kind, string outcome)
    {
        lock (gate)
        {
            if (!counts.TryGetValue(kind, out var outcomes)) counts[kind] = outcomes = new(StringComparer.Ordinal);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
    }

    public int Total => counts.Values.Sum(o => o.Values.Sum());

    /// <summary>Cases that ended in <paramref name="outcome"/>, over all kinds.</summary>
    public int Count(string outcome) => counts.Values.Sum(o => o.GetValueOrDefault(outcome));

    /// <summary>Cases of <paramref name="kind"/> (all outcomes).</summary>
    public int CountOfKind(string kind) => counts.TryGetValue(kind, out var o) ? o.Values.Sum() : 0;

    /// <summary>One line per kind: "kind: n (outcome a, outcome b, ...)", then the totals per outcome.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (kind, outcomes) in counts)
            text.AppendLine($"  {kind,-40} {outcomes.Values.Sum(),7}: {string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}"))}");
        var totals = counts.Values.SelectMany(o => o).GroupBy(o => o.Key).Select(g => $"{g.Key} {g.Sum(o => o.Value)}");
        text.Append($"  {"total",-40} {Total,7}: {string.Join(", ", totals)}");
        return text.ToString();
    }
}
