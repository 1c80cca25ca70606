using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace Ppn.Genesis.Enrolment;

public enum GrantStatus : byte
{
    Granted = 0,
    /// <summary>The registry refuses this node (revoked, or the /24 is full): the node self-geneses.</summary>
    Refused = 1,
}

/// <summary>
/// Why a grant is a refusal (docs/protocol/genesis.md §Grant, byte 6). 0 in every granted grant; an old registrar's
/// refusal carries 0 (unspecified); a code this node does not know is still a refusal, shown by its number.
/// </summary>
public enum RefusalReason : byte
{
    Unspecified = 0,
    /// <summary>10.8.0.0/24 has no free node address (.2–.254 are all bound).</summary>
    AddressPoolFull = 1,
    /// <summary>No node id within the 14 bits a command can address is free.</summary>
    NodeIdsExhausted = 2,
    /// <summary>The authority revoked this node's key.</summary>
    Revoked = 3,
}

public static class RefusalReasons
{
    /// <summary>The console's words for a refusal reason.</summary>
    public static string Describe(this RefusalReason reason) => reason switch
    {
        RefusalReason.Unspecified => "no reason given",
        RefusalReason.AddressPoolFull => "the address pool is full (no free address in 10.8.0.0/24)",
        RefusalReason.NodeIdsExhausted => "no free node id (command targets are 14 bits)",
        RefusalReason.Revoked => "this node's key is revoked",
        _ => $"reason code {(byte)reason}",
    };

    /// <summary>The token in vectors and JSON ("address-pool-full").</summary>
    public static string Token(this RefusalReason reason) => reason switch
    {
        RefusalReason.Unspecified => "unspecified",
        RefusalReason.AddressPoolFull => "address-pool-full",
        RefusalReason.NodeIdsExhausted => "node-ids-exhausted",
        RefusalReason.Revoked => "revoked",
        _ => $"code-{(byte)reason}",
    };
}

/// <summary>
/// What the authority gives a node, in a join reply and a claim alike (docs/protocol/genesis.md §Grant):
/// <code>
///   0   4  magic "PPNG"
///   4   1  version = 1
///   5   1  status (0 granted, 1 refused)
///   6   1  refusal reason (0 in a grant; <see cref="RefusalReason"/> in a refusal)
///   7   1  reserved (0)
///   8   8  node ID (big-endian)
///  16   4  assigned IPv4 address, in 10.8.0.0/24 (.2 to .254)
///  20   1  prefix length = 24
///  21   1  reserved (0)
///  22   2  hub WireGuard port (big-endian)
///  24  16  hub endpoint address (IPv6, or IPv4-mapped ::ffff:a.b.c.d)
///  40  32  hub WireGuard public key (the hub itself is 10.8.0.1)
///  72   4  command-key epoch (big-endian)
///  76  32  node X25519 public key this binding is for
/// 108   8  issued at, Unix seconds (big-endian)
/// 116  64  registry binding receipt: Ed25519 over "PPN-BINDING-v1" || bytes 0..115
/// </code>
/// </summary>
public sealed record EnrolmentGrant(
    GrantStatus Status,
    ulong NodeId,
    IPAddress Address,
    IPEndPoint HubEndpoint,
    byte[] HubPublicKey,
    uint CommandKeyEpoch,
    byte[] NodePublicKey,
    ulong IssuedAt,
    byte[] Receipt)
{
    /// <summary>Byte 6: why a refusal refuses (covered by the receipt like every byte before 116). 0 in a grant.</summary>
    public RefusalReason Reason { get; init; }

    public const int Size = 180;
    public const int SignedSize = 116;
    public const byte CurrentVersion = 1;
    public const byte PrefixLength = 24;

    /// <summary>
    /// The largest node ID a grant may carry: command packets address a node in 14 bits (TargetSelector.MaxId,
    /// docs/protocol/commands.md), and a node refuses command service for an ID it cannot be addressed by.
    /// </summary>
    public const ulong MaxNodeId = 0x3FFF;

    /// <summary>
    /// Command-key epochs are 4 bits on the wire (docs/protocol/commands.md §Layout): a grant carries 0..15 in its 4-byte
    /// field and anything larger is refused, never taken mod 16 (epochs 1 and 17 would name the same key).
    /// </summary>
    public const uint MaxCommandKeyEpoch = 15;
    public static readonly IPAddress HubAddress = IPAddress.Parse("10.8.0.1");
    public static ReadOnlySpan<byte> Magic => "PPNG"u8;
    public static ReadOnlySpan<byte> ReceiptDomain => "PPN-BINDING-v1"u8;

    public void WriteBody(Span<byte> d)
    {
        d[..Size].Clear();
        Magic.CopyTo(d);
        d[4] = CurrentVersion;
        d[5] = (byte)Status;
        d[6] = (byte)Reason;
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], NodeId);
        Address.TryWriteBytes(d.Slice(16, 4), out _);
        d[20] = PrefixLength;
        BinaryPrimitives.WriteUInt16BigEndian(d[22..], (ushort)HubEndpoint.Port);
        var hub = HubEndpoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? HubEndpoint.Address.MapToIPv6() : HubEndpoint.Address;
        hub.TryWriteBytes(d.Slice(24, 16), out _);
        HubPublicKey.CopyTo(d.Slice(40, 32));
        BinaryPrimitives.WriteUInt32BigEndian(d[72..], CommandKeyEpoch);
        NodePublicKey.CopyTo(d.Slice(76, 32));
        BinaryPrimitives.WriteUInt64BigEndian(d[108..], IssuedAt);
    }

    public void WriteTo(Span<byte> d)
    {
        WriteBody(d);
        Receipt.CopyTo(d.Slice(SignedSize, 64));
    }

    /// <summary>Signs the binding (the authority's side) and returns the grant with its receipt.</summary>
    public EnrolmentGrant SignedWith(ReadOnlySpan<byte> ed25519PrivateKey)
    {
        Span<byte> body = stackalloc byte[Size];
        WriteBody(body);
        Span<byte> message = stackalloc byte[ReceiptDomain.Length + SignedSize];
        ReceiptDomain.CopyTo(message);
        body[..SignedSize].CopyTo(message[ReceiptDomain.Length..]);
        var receipt = new byte[64];
        Geralt.Ed25519.Sign(receipt, message, ed25519PrivateKey);
        return this with { Receipt = receipt };
    }

    /// <summary>Layout and value checks, no signature; never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> d, out EnrolmentGrant? grant, out string? error)
    {
        grant = null;
        error = null;
        if (d.Length != Size) { error = $"grant is {d.Length} bytes, expected {Size}"; return false; }
        if (!d[..4].SequenceEqual(Magic) || d[4] != CurrentVersion) { error = "grant has a bad magic or version"; return false; }
        if (d[5] > 1 || d[7] != 0 || d[21] != 0) { error = "grant has unknown status or reserved bits"; return false; }
        if (d[5] == (byte)GrantStatus.Granted && d[6] != 0) { error = $"a granted grant carries refusal reason {d[6]}"; return false; }
        // Prefix length is 24 in every grant, a refusal too: only the canonical encoding parses (found by make fuzz).
        if (d[20] != PrefixLength) { error = $"grant prefix length is {d[20]}, not {PrefixLength}"; return false; }
        var address = new IPAddress(d.Slice(16, 4));
        var a = d.Slice(16, 4);
        var status = (GrantStatus)d[5];
        if (status == GrantStatus.Granted && (a[0] != 10 || a[1] != 8 || a[2] != 0 || a[3] < 2 || a[3] == 255))
        {
            error = $"granted address {address}/{d[20]} is not a node address in 10.8.0.0/24";
            return false;
        }
        ulong nodeId = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);
        if (status == GrantStatus.Granted && nodeId > MaxNodeId)
        {
            error = $"granted node ID {nodeId} is above {MaxNodeId}, the largest a command packet can address";
            return false;
        }
        uint epoch = BinaryPrimitives.ReadUInt32BigEndian(d[72..]);
        if (epoch > MaxCommandKeyEpoch)
        {
            error = $"grant command-key epoch {epoch} is outside 0..{MaxCommandKeyEpoch} (commands carry a 4-bit epoch)";
            return false;
        }
        var hub = new IPAddress(d.Slice(24, 16));
        if (hub.IsIPv4MappedToIPv6) hub = hub.MapToIPv4();
        grant = new EnrolmentGrant(status, nodeId, address,
            new IPEndPoint(hub, BinaryPrimitives.ReadUInt16BigEndian(d[22..])), d.Slice(40, 32).ToArray(),
            epoch, d.Slice(76, 32).ToArray(), BinaryPrimitives.ReadUInt64BigEndian(d[108..]),
            d.Slice(SignedSize, 64).ToArray()) { Reason = (RefusalReason)d[6] };
        return true;
    }

    /// <summary>
    /// Everything the node uses from a grant is the same (node id, address, hub endpoint and key, command-key epoch,
    /// node key, status); a re-signed grant with another issued-at or receipt is the same binding.
    /// </summary>
    public bool SameBindingAs(EnrolmentGrant other) =>
        Status == other.Status && Reason == other.Reason && NodeId == other.NodeId && Address.Equals(other.Address) && HubEndpoint.Equals(other.HubEndpoint)
        && HubPublicKey.AsSpan().SequenceEqual(other.HubPublicKey) && CommandKeyEpoch == other.CommandKeyEpoch
        && NodePublicKey.AsSpan().SequenceEqual(other.NodePublicKey);

    /// <summary>Value equality over every field, byte arrays by content (a record compares arrays by reference).</summary>
    public bool Equals(EnrolmentGrant? other) =>
        other is not null && SameBindingAs(other) && IssuedAt == other.IssuedAt && Receipt.AsSpan().SequenceEqual(other.Receipt);

    public override int GetHashCode() => HashCode.Combine(NodeId, Address, HubEndpoint, CommandKeyEpoch, IssuedAt);

    /// <summary>The receipt verifies under a pinned authority key and binds exactly <paramref name="nodePublicKey"/>.</summary>
    public bool IsBoundTo(ReadOnlySpan<byte> nodePublicKey, AuthorityTrust trust)
    {
        if (!CryptographicOperations.FixedTimeEquals(NodePublicKey, nodePublicKey)) return false;
        Span<byte> body = stackalloc byte[Size];
        WriteBody(body);
        Span<byte> message = stackalloc byte[ReceiptDomain.Length + SignedSize];
        ReceiptDomain.CopyTo(message);
        body[..SignedSize].CopyTo(message[ReceiptDomain.Length..]);
        return trust.VerifySignature(message, Receipt);
    }
}
