using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync;

/// <summary>Why a relay refused the roster it kept (docs/protocol/sync.md §Relay roster); each is counted, the relay then starts with no spokes.</summary>
public enum RosterVerdict
{
    Accepted,
    /// <summary>Nothing kept (no chunk 0): not a refusal.</summary>
    None,
    /// <summary>Layout: a chunk's size, magic, version, reserved bytes, index or count; the body's counts, a zero key, a repeated key or address.</summary>
    Malformed,
    /// <summary>A chunk fails its own CRC, or a chunk the count announces is missing (a write cut in the middle).</summary>
    Torn,
    /// <summary>Every chunk is whole, but they disagree on serial, count, body length or body CRC (two writes mixed).</summary>
    Mixed,
    /// <summary>The chunks agree with each other, but the reassembled body does not match their body CRC.</summary>
    BadChecksum,
    /// <summary>The roster is for another hub than this relay (its own public key).</summary>
    WrongHub,
    /// <summary>The roster's serial is below the serial floor: a newer set was accepted and its roster never kept.</summary>
    Stale,
    /// <summary>More spokes or more bytes than a roster may hold.</summary>
    Oversize,
}

/// <summary>One spoke of the roster: what the relay needs to make it a peer (key, AllowedIPs address/32).</summary>
public sealed record RosterSpoke(WireGuardKey NodeKey, IPAddress Address);

/// <summary>
/// The relay's compact record of its last accepted peer set (docs/protocol/sync.md §Relay roster): serial, hub key and,
/// per granted spoke, node key + mesh address. Unsigned: it only lets a rebooted relay forward for the spokes it had
/// until the authority answers; it is never served (a spoke gets only signed sets). Kept in UEFI variables, which
/// cannot hold the signed set (up to 168 548 bytes): the body is split into at most <see cref="MaxChunks"/> chunk
/// values of at most <see cref="MaxChunkSize"/> bytes, every one carrying serial, index, count, body length and the
/// body's CRC-32, so a partial or mixed write is detected, never read as a shorter roster.
/// <code>
/// body (36 + 36·N): hub public key 32 | spoke count N u16 BE | 2 reserved | N × (node key 32 | IPv4 address 4), ascending by address
/// chunk i (32 + payload): "PPNL" | version 1 | index i | count C | 1 reserved | serial u64 BE | body length u32 BE
///                         | body CRC-32 u32 BE | chunk CRC-32 u32 BE (bytes 0..23 and the payload) | 4 reserved | payload
/// </code>
/// </summary>
public sealed class RelayRoster
{
    public const byte CurrentVersion = 1;
    public const int SpokeSize = 36;
    public const int BodyHeaderSize = 36;
    public const int ChunkHeaderSize = 32;
    /// <summary>
    /// A chunk value's bound: 4 KiB, half the 8 KiB that is the portable per-variable limit (EDK2's PcdMaxVariableSize
    /// can be 0x2000 with the variable header and the UCS-2 name included).
    /// </summary>
    public const int MaxChunkSize = 4096;
    public const int MaxChunkPayload = MaxChunkSize - ChunkHeaderSize;
    public const int MaxChunks = 4;
    public const int MaxSpokes = PeerSet.MaxGrants;
    public const int MaxBodySize = BodyHeaderSize + MaxSpokes * SpokeSize;
    public static ReadOnlySpan<byte> Magic => "PPNL"u8;

    public RelayRoster(ulong serial, ReadOnlySpan<byte> hubPublicKey, IEnumerable<RosterSpoke> spokes)
    {
        if (serial == 0) throw new ArgumentOutOfRangeException(nameof(serial), "a roster records an accepted set, whose serial is 1 or more");
        if (hubPublicKey.Length != 32) throw new ArgumentException("a hub public key is 32 bytes", nameof(hubPublicKey));
        Serial = serial;
        HubPublicKey = hubPublicKey.ToArray();
        Spokes = [.. spokes.OrderBy(s => BinaryPrimitives.ReadUInt32BigEndian(s.Address.GetAddressBytes()))];
        if (Spokes.Count > MaxSpokes) throw new ArgumentException($"a roster holds at most {MaxSpokes} spokes, not {Spokes.Count}", nameof(spokes));
        if (Spokes.Any(s => s.Address.AddressFamily != AddressFamily.InterNetwork)) throw new ArgumentException("a roster spoke's mesh address is IPv4", nameof(spokes));
    }

    public ulong Serial { get; }
    public byte[] HubPublicKey { get; }
    public IReadOnlyList<RosterSpoke> Spokes { get; }

    /// <summary>The roster of a verified set: every grant (a verified set grants no revoked key).</summary>
    public static RelayRoster From(PeerSet set) =>
        new(set.Serial, set.HubPublicKey, set.Grants.Where(g => !set.IsRevoked(g.NodePublicKey)).Select(g => new RosterSpoke(new WireGuardKey(g.NodePublicKey), g.Address)));

    /// <summary>Same serial, hub and spokes: nothing to write.</summary>
    public bool SameAs(RelayRoster? other) =>
        other is not null && other.Serial == Serial && other.HubPublicKey.AsSpan().SequenceEqual(HubPublicKey)
        && other.Spokes.Count == Spokes.Count && other.Spokes.Zip(Spokes).All(p => p.First.NodeKey == p.Second.NodeKey && p.First.Address.Equals(p.Second.Address));

    public int BodySize => BodyHeaderSize + Spokes.Count * SpokeSize;

    public byte[] EncodeBody()
    {
        var body = new byte[BodySize];
        HubPublicKey.CopyTo(body, 0);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(32), (ushort)Spokes.Count);
        int at = BodyHeaderSize;
        foreach (var spoke in Spokes)
        {
            spoke.NodeKey.Bytes.CopyTo(body.AsSpan(at));
            spoke.Address.TryWriteBytes(body.AsSpan(at + 32, 4), out _);
            at += SpokeSize;
        }
        return body;
    }

    /// <summary>The chunk values, index 0 first (1..<see cref="MaxChunks"/> of them).</summary>
    public IReadOnlyList<byte[]> ToChunks()
    {
        var body = EncodeBody();
        int count = Math.Max(1, (body.Length + MaxChunkPayload - 1) / MaxChunkPayload);
        if (count > MaxChunks) throw new InvalidOperationException($"a {body.Length}-byte roster needs {count} chunks, more than {MaxChunks}");
        uint bodyCrc = System.IO.Hashing.Crc32.HashToUInt32(body);
        var chunks = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            var payload = body.AsSpan(i * MaxChunkPayload, Math.Min(MaxChunkPayload, body.Length - i * MaxChunkPayload));
            var chunk = chunks[i] = new byte[ChunkHeaderSize + payload.Length];
            Magic.CopyTo(chunk);
            chunk[4] = CurrentVersion;
            chunk[5] = (byte)i;
            chunk[6] = (byte)count;
            BinaryPrimitives.WriteUInt64BigEndian(chunk.AsSpan(8), Serial);
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(16), (uint)body.Length);
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(20), bodyCrc);
            payload.CopyTo(chunk.AsSpan(ChunkHeaderSize));
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(24), ChunkCrc(chunk));
        }
        return chunks;
    }

    private static uint ChunkCrc(ReadOnlySpan<byte> chunk)
    {
        var crc = new System.IO.Hashing.Crc32();
        crc.Append(chunk[..24]);
        crc.Append(chunk[ChunkHeaderSize..]);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>One chunk's header, parsed; the payload is the rest of the value.</summary>
    public readonly struct Chunk
    {
        public int Index { get; init; }
        public int Count { get; init; }
        public ulong Serial { get; init; }
        public int BodyLength { get; init; }
        public uint BodyCrc { get; init; }

        /// <summary>Layout and the chunk's own CRC; never throws on hostile input.</summary>
        public static RosterVerdict TryParse(ReadOnlySpan<byte> d, out Chunk chunk, out string detail)
        {
            chunk = default;
            if (d.Length > MaxChunkSize) { detail = $"{d.Length} bytes, more than a chunk's {MaxChunkSize}"; return RosterVerdict.Oversize; }
            if (d.Length <= ChunkHeaderSize) { detail = $"{d.Length} bytes, no room for a {ChunkHeaderSize}-byte header and a payload"; return RosterVerdict.Malformed; }
            if (!d[..4].SequenceEqual(Magic) || d[4] != CurrentVersion) { detail = "bad magic or version"; return RosterVerdict.Malformed; }
            if (BinaryPrimitives.ReadUInt32BigEndian(d[24..]) != ChunkCrc(d)) { detail = "its CRC does not match (a torn write)"; return RosterVerdict.Torn; }
            if (d[7] != 0 || BinaryPrimitives.ReadUInt32BigEndian(d[28..]) != 0) { detail = "reserved bytes set"; return RosterVerdict.Malformed; }
            int count = d[6];
            if (count is 0 or > MaxChunks || d[5] >= count) { detail = $"index {d[5]} of {count} chunks (1..{MaxChunks})"; return RosterVerdict.Malformed; }
            uint length = BinaryPrimitives.ReadUInt32BigEndian(d[16..]);
            if (length > MaxBodySize) { detail = $"announces a {length}-byte roster, more than {MaxBodySize}"; return RosterVerdict.Oversize; }
            ulong serial = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);
            if (serial == 0) { detail = "serial 0"; return RosterVerdict.Malformed; }
            chunk = new Chunk { Index = d[5], Count = count, Serial = serial, BodyLength = (int)length, BodyCrc = BinaryPrimitives.ReadUInt32BigEndian(d[20..]) };
            detail = "";
            return RosterVerdict.Accepted;
        }
    }

    /// <summary>
    /// Reassembles and checks a kept roster (sync.md §Relay roster, in this order): chunk 0's layout and CRC, every
    /// announced chunk present and whole, all agreeing, payload sizes, the body CRC, the body's layout, the hub, the
    /// floor. <paramref name="readChunk"/> returns chunk i's value or null. Never throws on hostile input.
    /// </summary>
    public static RosterVerdict TryRead(Func<int, byte[]?> readChunk, ReadOnlySpan<byte> relayPublicKey, ulong serialFloor, out RelayRoster? roster, out string detail)
    {
        roster = null;
        var first = readChunk(0);
        if (first is null) { detail = "no roster kept"; return RosterVerdict.None; }
        var verdict = Chunk.TryParse(first, out var head, out var why);
        if (verdict != RosterVerdict.Accepted) { detail = $"chunk 0: {why}"; return verdict; }
        if (head.Index != 0) { detail = $"chunk 0 says it is chunk {head.Index}"; return RosterVerdict.Malformed; }
        int expected = (head.BodyLength + MaxChunkPayload - 1) / MaxChunkPayload;
        if (head.BodyLength < BodyHeaderSize || head.Count != expected) { detail = $"chunk 0: a {head.BodyLength}-byte body in {head.Count} chunk(s)"; return RosterVerdict.Malformed; }
        var body = new byte[head.BodyLength];
        for (int i = 0; i < head.Count; i++)
        {
            var value = i == 0 ? first : readChunk(i);
            if (value is null) { detail = $"chunk {i} of {head.Count} is missing (a write cut in the middle)"; return RosterVerdict.Torn; }
            Chunk chunk = head;
            if (i > 0)
            {
                verdict = Chunk.TryParse(value, out chunk, out why);
                if (verdict != RosterVerdict.Accepted) { detail = $"chunk {i}: {why}"; return verdict; }
                if (chunk.Serial != head.Serial || chunk.Count != head.Count || chunk.BodyLength != head.BodyLength || chunk.BodyCrc != head.BodyCrc)
                {
                    detail = $"chunk {i} is of serial {chunk.Serial} ({chunk.Count} chunks), chunk 0 of serial {head.Serial} ({head.Count} chunks): two writes mixed";
                    return RosterVerdict.Mixed;
                }
                if (chunk.Index != i) { detail = $"chunk {i} says it is chunk {chunk.Index}"; return RosterVerdict.Malformed; }
            }
            int payload = value.Length - ChunkHeaderSize;
            int want = Math.Min(MaxChunkPayload, head.BodyLength - i * MaxChunkPayload);
            if (payload != want) { detail = $"chunk {i} carries {payload} bytes, the body length says {want}"; return RosterVerdict.Malformed; }
            value.AsSpan(ChunkHeaderSize).CopyTo(body.AsSpan(i * MaxChunkPayload));
        }
        if (System.IO.Hashing.Crc32.HashToUInt32(body) != head.BodyCrc) { detail = "the reassembled roster does not match its CRC"; return RosterVerdict.BadChecksum; }
        verdict = TryParseBody(body, head.Serial, out roster, out detail);
        if (verdict != RosterVerdict.Accepted) return verdict;
        if (!roster!.HubPublicKey.AsSpan().SequenceEqual(relayPublicKey)) { roster = null; detail = "the roster is for another hub than this relay's key"; return RosterVerdict.WrongHub; }
        if (roster.Serial < serialFloor) { detail = $"serial {roster.Serial} is below the floor {serialFloor} (a newer set was accepted, its roster not kept)"; roster = null; return RosterVerdict.Stale; }
        detail = $"serial {roster.Serial}: {roster.Spokes.Count} spoke(s)";
        return RosterVerdict.Accepted;
    }

    private static RosterVerdict TryParseBody(ReadOnlySpan<byte> body, ulong serial, out RelayRoster? roster, out string detail)
    {
        roster = null;
        int n = BinaryPrimitives.ReadUInt16BigEndian(body[32..]);
        if (n > MaxSpokes) { detail = $"{n} spokes, more than {MaxSpokes}"; return RosterVerdict.Oversize; }
        if (BinaryPrimitives.ReadUInt16BigEndian(body[34..]) != 0) { detail = "reserved bytes set in the body"; return RosterVerdict.Malformed; }
        if (body.Length != BodyHeaderSize + n * SpokeSize) { detail = $"the body is {body.Length} bytes, {n} spokes make {BodyHeaderSize + n * SpokeSize}"; return RosterVerdict.Malformed; }
        var spokes = new List<RosterSpoke>(n);
        var keys = new HashSet<WireGuardKey>();
        var addresses = new HashSet<uint>();
        uint previous = 0;
        for (int i = 0; i < n; i++)
        {
            var entry = body.Slice(BodyHeaderSize + i * SpokeSize, SpokeSize);
            var key = new WireGuardKey(entry[..32]);
            uint address = BinaryPrimitives.ReadUInt32BigEndian(entry[32..]);
            if (key.IsZero || address == 0) { detail = $"spoke {i} has a zero key or address"; return RosterVerdict.Malformed; }
            if (i > 0 && address <= previous) { detail = $"spoke {i} is out of address order or repeats an address"; return RosterVerdict.Malformed; }
            if (!keys.Add(key) || !addresses.Add(address)) { detail = $"spoke {i} repeats a node key"; return RosterVerdict.Malformed; }
            previous = address;
            spokes.Add(new RosterSpoke(key, new IPAddress(entry[32..])));
        }
        roster = new RelayRoster(serial, body[..32], spokes);
        detail = "";
        return RosterVerdict.Accepted;
    }
}

/// <summary>Where a relay keeps its roster's chunk values (the appliance: UEFI variables PpnRelayRoster0..3).</summary>
public interface IRelayRosterStore
{
    /// <summary>Chunk <paramref name="index"/>'s value, or null when it is not kept.</summary>
    byte[]? Read(int index);
    /// <summary>Durable and read back equal when it returns; throws (IOException) otherwise.</summary>
    void Write(int index, ReadOnlySpan<byte> value);
    /// <summary>Removes chunk <paramref name="index"/>; nothing when it is not kept.</summary>
    void Delete(int index);
}

/// <summary>Reads and writes a roster through an <see cref="IRelayRosterStore"/> with the rules of sync.md §Relay roster.</summary>
public static class RelayRosterKeeping
{
    public static RosterVerdict Load(IRelayRosterStore store, ReadOnlySpan<byte> relayPublicKey, ulong serialFloor, out RelayRoster? roster, out string detail) =>
        RelayRoster.TryRead(store.Read, relayPublicKey, serialFloor, out roster, out detail);

    /// <summary>Every chunk, index 0 first, each read back; then the chunks a larger roster left above the count are removed.</summary>
    public static void Save(IRelayRosterStore store, RelayRoster roster)
    {
        var chunks = roster.ToChunks();
        for (int i = 0; i < chunks.Count; i++) store.Write(i, chunks[i]);
        for (int i = chunks.Count; i < RelayRoster.MaxChunks; i++) store.Delete(i);
    }

    /// <summary>Every chunk removed (genesis reset erases it with the serial floor).</summary>
    public static void Erase(IRelayRosterStore store)
    {
        for (int i = 0; i < RelayRoster.MaxChunks; i++) store.Delete(i);
    }
}
