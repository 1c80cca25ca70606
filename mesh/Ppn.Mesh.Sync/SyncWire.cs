using System.Buffers.Binary;
using System.Net;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync;

/// <summary>An endpoint the relay observed for a peer (its last handshake's source). Unsigned: a hint, never trusted.</summary>
public sealed record EndpointHint(WireGuardKey PublicKey, IPEndPoint Endpoint, uint AgeSeconds)
{
    public const int Size = 56;
    public const uint UnknownAge = uint.MaxValue;
}

public enum ReplyStatus : byte
{
    /// <summary>A peer set (newer than the request's serial) and the hints follow.</summary>
    Set = 0,
    /// <summary>Nothing newer within the hold time; hints follow (a set length of 0).</summary>
    NotModified = 1,
}

/// <summary>
/// The sync port's framing (docs/protocol/sync.md §Sync port), one request and one reply per TCP connection:
/// <code>
/// request  (16): "PPNQ" | version 1 | 3 reserved | since serial u64 BE
/// reply    (16): "PPNA" | version 1 | status | 2 reserved | set length u32 BE | hint count u16 BE | 2 reserved
///          then the set document (set length bytes), then hint count × 56-byte hints:
/// hint     (56): node public key 32 | endpoint address 16 (IPv6 or ::ffff:a.b.c.d) | port u16 BE | 2 reserved | age s u32 BE
/// </code>
/// </summary>
public static class SyncWire
{
    public const int RequestSize = 16;
    public const int ReplyHeaderSize = 16;
    public const byte CurrentVersion = 1;
    /// <summary>TCP, inside ppn0 on the relay's mesh address (10.8.0.1), and on the authority for relays. Not 8090: the node never sends there.</summary>
    public const int DefaultPort = Ppn.Formats.PpnPorts.Sync;
    public const int MaxHints = PeerSet.MaxGrants;
    public static ReadOnlySpan<byte> RequestMagic => "PPNQ"u8;
    public static ReadOnlySpan<byte> ReplyMagic => "PPNA"u8;

    public static void WriteRequest(Span<byte> d, ulong since)
    {
        d[..RequestSize].Clear();
        RequestMagic.CopyTo(d);
        d[4] = CurrentVersion;
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], since);
    }

    public static bool TryParseRequest(ReadOnlySpan<byte> d, out ulong since)
    {
        since = 0;
        if (d.Length != RequestSize || !d[..4].SequenceEqual(RequestMagic) || d[4] != CurrentVersion || d[5] != 0 || d[6] != 0 || d[7] != 0) return false;
        since = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);
        return true;
    }

    public static void WriteReplyHeader(Span<byte> d, ReplyStatus status, int setLength, int hintCount)
    {
        d[..ReplyHeaderSize].Clear();
        ReplyMagic.CopyTo(d);
        d[4] = CurrentVersion;
        d[5] = (byte)status;
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)setLength);
        BinaryPrimitives.WriteUInt16BigEndian(d[12..], (ushort)hintCount);
    }

    public static bool TryParseReplyHeader(ReadOnlySpan<byte> d, out ReplyStatus status, out int setLength, out int hintCount, out string? error)
    {
        status = default;
        setLength = 0;
        hintCount = 0;
        error = null;
        if (d.Length != ReplyHeaderSize || !d[..4].SequenceEqual(ReplyMagic) || d[4] != CurrentVersion) { error = "sync reply has a bad magic or version"; return false; }
        if (d[5] > 1 || d[6] != 0 || d[7] != 0 || d[14] != 0 || d[15] != 0) { error = "sync reply has an unknown status or reserved bits"; return false; }
        status = (ReplyStatus)d[5];
        uint length = BinaryPrimitives.ReadUInt32BigEndian(d[8..]);
        hintCount = BinaryPrimitives.ReadUInt16BigEndian(d[12..]);
        if (status == ReplyStatus.NotModified && length != 0) { error = "a not-modified sync reply carries a set"; return false; }
        if (status == ReplyStatus.Set && (length < PeerSet.HeaderSize + PeerSet.SignatureSize || length > PeerSet.MaxSize)) { error = $"sync reply announces a {length}-byte set, outside the bounds"; return false; }
        if (hintCount > MaxHints) { error = $"sync reply announces {hintCount} hints, more than {MaxHints}"; return false; }
        setLength = (int)length;
        return true;
    }

    public static void WriteHint(Span<byte> d, EndpointHint hint)
    {
        d[..EndpointHint.Size].Clear();
        hint.PublicKey.Bytes.CopyTo(d);
        var address = hint.Endpoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? hint.Endpoint.Address.MapToIPv6() : hint.Endpoint.Address;
        address.TryWriteBytes(d.Slice(32, 16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(d[48..], (ushort)hint.Endpoint.Port);
        BinaryPrimitives.WriteUInt32BigEndian(d[52..], hint.AgeSeconds);
    }

    /// <summary>A hint with a zero key, port 0 or an unspecified address is dropped (false), never an error.</summary>
    public static bool TryParseHint(ReadOnlySpan<byte> d, out EndpointHint? hint)
    {
        hint = null;
        if (d.Length != EndpointHint.Size) return false;
        var key = new WireGuardKey(d[..32]);
        int port = BinaryPrimitives.ReadUInt16BigEndian(d[48..]);
        var address = new IPAddress(d.Slice(32, 16));
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (key.IsZero || port == 0 || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return false;
        hint = new EndpointHint(key, new IPEndPoint(address, port), BinaryPrimitives.ReadUInt32BigEndian(d[52..]));
        return true;
    }
}
