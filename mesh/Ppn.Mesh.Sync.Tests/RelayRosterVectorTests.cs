using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>
/// docs/protocol/vectors/relay-roster.json: generated here (PPN_WRITE_VECTORS=1), checked always; a second test reads
/// the file alone and reproduces every verdict (sync.md §Relay roster).
/// </summary>
public class RelayRosterVectorTests
{
    private static readonly string Path = System.IO.Path.Combine(SyncVectorTests.Root, "docs", "protocol", "vectors", "relay-roster.json");
    private static readonly byte[] Hub = Enumerable.Range(0xa0, 32).Select(i => (byte)i).ToArray(); // mesh-sync.json's hub

    private static RelayRoster Roster(ulong serial, int spokes) => new(serial, Hub,
        Enumerable.Range(2, spokes).Select(i => new RosterSpoke(new WireGuardKey(Enumerable.Range(0, 32).Select(j => (byte)(j == 0 ? i : 0x40 + j)).ToArray()), new IPAddress([10, 8, 0, (byte)i]))));

    private static byte[] Reseal(byte[] chunk)
    {
        var crc = new System.IO.Hashing.Crc32();
        crc.Append(chunk.AsSpan(0, 24));
        crc.Append(chunk.AsSpan(RelayRoster.ChunkHeaderSize));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(24), crc.GetCurrentHashAsUInt32());
        return chunk;
    }

    private static IEnumerable<(string Name, byte[]?[] Chunks, byte[] Relay, ulong Floor, RosterVerdict Verdict)> Cases()
    {
        var three = Roster(7, 3).ToChunks().ToArray();
        var full = Roster(7, 253).ToChunks().ToArray();
        var older = Roster(6, 253).ToChunks().ToArray();
        yield return ("three-spokes-one-chunk", three, Hub, 7, RosterVerdict.Accepted);
        yield return ("253-spokes-three-chunks", full, Hub, 7, RosterVerdict.Accepted);
        yield return ("empty-roster", Roster(1, 0).ToChunks().ToArray(), Hub, 0, RosterVerdict.Accepted);
        yield return ("nothing-kept", [], Hub, 7, RosterVerdict.None);
        yield return ("last-chunk-missing", [full[0], full[1]], Hub, 7, RosterVerdict.Torn);
        var flipped = full[1].ToArray(); flipped[100] ^= 1;
        yield return ("chunk-crc-wrong", [full[0], flipped, full[2]], Hub, 7, RosterVerdict.Torn);
        yield return ("chunks-of-two-serials", [full[0], older[1], full[2]], Hub, 6, RosterVerdict.Mixed);
        var resealed = full[2].ToArray(); resealed[RelayRoster.ChunkHeaderSize] ^= 1;
        yield return ("resealed-chunk-body-crc-wrong", [full[0], full[1], Reseal(resealed)], Hub, 7, RosterVerdict.BadChecksum);
        yield return ("another-hub", three, new byte[32], 7, RosterVerdict.WrongHub);
        yield return ("below-the-serial-floor", three, Hub, 8, RosterVerdict.Stale);
        var count = three[0].ToArray(); count[6] = 5;
        yield return ("five-chunks", [Reseal(count)], Hub, 7, RosterVerdict.Malformed);
        var version = three[0].ToArray(); version[4] = 2;
        yield return ("version-2", [Reseal(version)], Hub, 7, RosterVerdict.Malformed);
        yield return ("chunk-over-4-KiB", [new byte[RelayRoster.MaxChunkSize + 1]], Hub, 7, RosterVerdict.Oversize);
    }

    internal static string Generate()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("description", "Relay roster (docs/protocol/sync.md §Relay roster): the chunk values of UEFI variables PpnRelayRoster0..3 (null: the variable does not exist) with the verdict a relay whose own public key is relayPublicKey and whose serial floor is serialFloor must reach; spokes of accepted rosters as key (hex) and address.");
            w.WriteStartArray("rosters");
            foreach (var (name, chunks, relay, floor, verdict) in Cases())
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("relayPublicKey", Convert.ToHexStringLower(relay));
                w.WriteNumber("serialFloor", floor);
                w.WriteString("verdict", verdict.ToString());
                w.WriteStartArray("chunks");
                foreach (var c in chunks) { if (c is null) w.WriteNullValue(); else w.WriteStringValue(Convert.ToHexStringLower(c)); }
                w.WriteEndArray();
                var got = RelayRoster.TryRead(i => i < chunks.Length ? chunks[i] : null, relay, floor, out var roster, out var detail);
                if (got != verdict) throw new InvalidOperationException($"{name}: the generator's case is {got} ({detail}), not {verdict}");
                if (verdict == RosterVerdict.Accepted)
                {
                    w.WriteNumber("serial", roster!.Serial);
                    w.WriteStartArray("spokes");
                    foreach (var s in roster.Spokes.Take(3))
                    {
                        w.WriteStartObject();
                        w.WriteString("nodeKey", s.NodeKey.ToHex());
                        w.WriteString("address", s.Address.ToString());
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteNumber("spokeCount", roster.Spokes.Count);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    [Fact]
    public void The_vector_file_is_what_the_generator_produces()
    {
        var generated = Generate();
        if (Environment.GetEnvironmentVariable("PPN_WRITE_VECTORS") == "1") File.WriteAllText(Path, generated);
        Assert.Equal(generated, File.ReadAllText(Path));
    }

    [Fact]
    public void Every_roster_vector_gets_its_verdict_from_the_file_alone()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path));
        int n = 0;
        foreach (var v in doc.RootElement.GetProperty("rosters").EnumerateArray())
        {
            var chunks = v.GetProperty("chunks").EnumerateArray().Select(c => c.ValueKind == JsonValueKind.Null ? null : Convert.FromHexString(c.GetString()!)).ToArray();
            var verdict = RelayRoster.TryRead(i => i < chunks.Length ? chunks[i] : null, Convert.FromHexString(v.GetProperty("relayPublicKey").GetString()!),
                v.GetProperty("serialFloor").GetUInt64(), out var roster, out var detail);
            var name = v.GetProperty("name").GetString();
            Assert.True(verdict.ToString() == v.GetProperty("verdict").GetString(), $"{name}: {verdict} ({detail})");
            if (verdict == RosterVerdict.Accepted)
            {
                Assert.Equal(v.GetProperty("serial").GetUInt64(), roster!.Serial);
                Assert.Equal(v.GetProperty("spokeCount").GetInt32(), roster.Spokes.Count);
                foreach (var (s, i) in v.GetProperty("spokes").EnumerateArray().Select((s, i) => (s, i)))
                {
                    Assert.Equal(s.GetProperty("nodeKey").GetString(), roster.Spokes[i].NodeKey.ToHex());
                    Assert.Equal(s.GetProperty("address").GetString(), roster.Spokes[i].Address.ToString());
                }
            }
            else
            {
                Assert.Null(roster);
            }
            n++;
        }
        Assert.Equal(13, n);
    }
}
