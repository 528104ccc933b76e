using System.Buffers.Binary;
using Ml.Autoencoders.Persistence;

namespace Ml.Autoencoders.Tests;

/// <summary>The one container every file is written in: round trip, section table checks, versions, and what Write refuses.</summary>
[TestClass]
public sealed class ArtifactContainerTests
{
    private static readonly ArtifactKind Kind = new("test artifact", "MLAETEST"u8.ToArray(), 3,
        new Dictionary<int, ArtifactLayout> { [1] = ArtifactLayout.Fields, [2] = ArtifactLayout.HeaderAndPayload }, MaxHeaderBytes: 64);

    private static byte[] Written(byte[] header, params byte[][] sections)
    {
        using var buffer = new MemoryStream();
        ArtifactContainer.Write(buffer, Kind, header, sections.Select(s => (ReadOnlyMemory<byte>)s).ToArray());
        return buffer.ToArray();
    }

    /// <summary>Header and sections (empty ones too) come back exactly, with the version written.</summary>
    [TestMethod]
    public void HeaderAndSectionsComeBackExactly()
    {
        var bytes = Written("{\"A\":1}"u8.ToArray(), [1, 2, 3], [], [4]);
        var artifact = ArtifactContainer.Read(bytes, Kind);
        Assert.AreEqual(3, artifact.Version);
        Assert.AreEqual(ArtifactLayout.Sectioned, artifact.Layout);
        CollectionAssert.AreEqual("{\"A\":1}"u8.ToArray(), artifact.Header.ToArray());
        Assert.AreEqual(3, artifact.Sections.Count);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, artifact.Sections[0].ToArray());
        Assert.AreEqual(0, artifact.Sections[1].Length);
        CollectionAssert.AreEqual(new byte[] { 4 }, artifact.Sections[2].ToArray());
        var wrongCount = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => artifact.Expect(2, Kind.Name));
        StringAssert.Contains(wrongCount.Message, "holds 3 sections; version 3 has 2");
    }

    /// <summary>A section table that does not add up to the bytes present, or claims too many sections, is refused naming the section.</summary>
    [TestMethod]
    public void SectionTablesThatDoNotFitAreRefused()
    {
        var bytes = Written("{}"u8.ToArray(), [1, 2, 3], [4]);
        int table = ArtifactContainer.Prefix + 2;
        byte[] Resigned(Action<byte[]> edit)
        {
            var body = FileFuzzing.Body(bytes);
            edit(body);
            return FileFuzzing.Sign(body);
        }
        var tooLong = Resigned(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(table + 4), 4));
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(tooLong, Kind)).Message, "section 1 of the test artifact claims 1 bytes; 0 are left");
        var shorter = Resigned(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(table + 4), 2));
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(shorter, Kind)).Message, "end 1 bytes before its checksum");
        var negative = Resigned(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(table + 4), long.MinValue));
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(negative, Kind)).Message, $"claims {long.MinValue} bytes");
        var many = Resigned(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(table), int.MaxValue));
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(many, Kind)).Message, $"claims {int.MaxValue} sections");
        var unsigned = (byte[])bytes.Clone();
        unsigned[table + 12] ^= 1;
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(unsigned, Kind)).Message, "checksum");
    }

    /// <summary>Each version is read in its own layout; an unknown version, another kind's magic and a short file are refused saying so.</summary>
    [TestMethod]
    public void OlderVersionsAreReadInTheirLayoutAndUnknownOnesRefused()
    {
        var bytes = Written("{}"u8.ToArray(), [1, 2, 3]);
        byte[] WithVersion(int version)
        {
            var body = FileFuzzing.Body(bytes);
            BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), version);
            return FileFuzzing.Sign(body);
        }
        var fields = ArtifactContainer.Read(WithVersion(1), Kind);
        Assert.AreEqual(ArtifactLayout.Fields, fields.Layout);
        CollectionAssert.AreEqual(FileFuzzing.Body(WithVersion(1))[8..], fields.Sections.Single().ToArray(), "everything after the magic, version first");
        var payload = ArtifactContainer.Read(WithVersion(2), Kind);
        Assert.AreEqual(ArtifactLayout.HeaderAndPayload, payload.Layout);
        CollectionAssert.AreEqual("{}"u8.ToArray(), payload.Header.ToArray());
        Assert.AreEqual(4 + 8 + 3, payload.Sections.Single().Length, "the payload is everything after the header");
        var unknown = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(WithVersion(4), Kind));
        StringAssert.Contains(unknown.Message, "test artifact format version 4 is not supported (this library reads versions 1, 2 and 3)");
        var other = (byte[])bytes.Clone();
        other[7] = (byte)'X';
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(other, Kind)).Message, "magic bytes 'MLAETEST'");
        StringAssert.Contains(Assert.ThrowsExactly<AutoencoderModelFormatException>(() => ArtifactContainer.Read(bytes[..20], Kind)).Message, "shorter than any test artifact");
    }

    /// <summary>Write refuses what Read would refuse (an empty or oversized header, too many sections) before writing a byte.</summary>
    [TestMethod]
    public void WriteRefusesWhatCouldNotBeReadBack()
    {
        using var buffer = new MemoryStream();
        Assert.ThrowsExactly<InvalidOperationException>(() => ArtifactContainer.Write(buffer, Kind, [], []));
        Assert.ThrowsExactly<InvalidOperationException>(() => ArtifactContainer.Write(buffer, Kind, new byte[65], []));
        var many = Enumerable.Repeat(ReadOnlyMemory<byte>.Empty, ArtifactContainer.MaxSections + 1).ToArray();
        StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => ArtifactContainer.Write(buffer, Kind, "{}"u8.ToArray(), many)).Message, "65 sections");
        Assert.AreEqual(0, buffer.Length, "nothing was written");
    }
}
