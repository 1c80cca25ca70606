using System.Buffers.Binary;
using Ppn.Genesis;

namespace Ppn.Mesh.Sync;

/// <summary>
/// The authority's word that a node key is no longer a mesh peer (docs/protocol/sync.md §Revocation):
/// <code>
///   0   4  magic "PPNR"
///   4   1  version = 1
///   5   3  reserved (0)
///   8   8  node ID (big-endian; the grant's)
///  16  32  node X25519 public key revoked
///  48   8  revoked at, Unix seconds (big-endian)
///  56  64  Ed25519 over "PPN-REVOKE-v1" || bytes 0..55, by a pinned authority signing key
/// </code>
/// </summary>
public sealed record Revocation(ulong NodeId, byte[] NodePublicKey, ulong RevokedAt, byte[] Signature)
{
    public const int Size = 120;
    public const int SignedSize = 56;
    public const byte CurrentVersion = 1;
    public static ReadOnlySpan<byte> Magic => "PPNR"u8;
    public static ReadOnlySpan<byte> Domain => "PPN-REVOKE-v1"u8;

    private void WriteBody(Span<byte> d)
    {
        d[..Size].Clear();
        Magic.CopyTo(d);
        d[4] = CurrentVersion;
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], NodeId);
        NodePublicKey.CopyTo(d.Slice(16, 32));
        BinaryPrimitives.WriteUInt64BigEndian(d[48..], RevokedAt);
    }

    public void WriteTo(Span<byte> d)
    {
        WriteBody(d);
        Signature.CopyTo(d.Slice(SignedSize, 64));
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>The authority's side: signs the record with its Ed25519 private key (libsodium's 64-byte layout).</summary>
    public static Revocation Sign(ulong nodeId, ReadOnlySpan<byte> nodePublicKey, ulong revokedAt, ReadOnlySpan<byte> ed25519PrivateKey)
    {
        var unsigned = new Revocation(nodeId, nodePublicKey.ToArray(), revokedAt, new byte[64]);
        Span<byte> message = stackalloc byte[Domain.Length + Size];
        Domain.CopyTo(message);
        unsigned.WriteBody(message[Domain.Length..]);
        var signature = new byte[64];
        Geralt.Ed25519.Sign(signature, message[..(Domain.Length + SignedSize)], ed25519PrivateKey);
        return unsigned with { Signature = signature };
    }

    /// <summary>Layout checks only; never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> d, out Revocation? revocation, out string? error)
    {
        revocation = null;
        error = null;
        if (d.Length != Size) { error = $"revocation is {d.Length} bytes, expected {Size}"; return false; }
        if (!d[..4].SequenceEqual(Magic) || d[4] != CurrentVersion) { error = "revocation has a bad magic or version"; return false; }
        if (d[5] != 0 || d[6] != 0 || d[7] != 0) { error = "revocation has reserved bits set"; return false; }
        revocation = new Revocation(BinaryPrimitives.ReadUInt64BigEndian(d[8..]), d.Slice(16, 32).ToArray(),
            BinaryPrimitives.ReadUInt64BigEndian(d[48..]), d.Slice(SignedSize, 64).ToArray());
        return true;
    }

    public bool IsSignedBy(AuthorityTrust trust)
    {
        Span<byte> message = stackalloc byte[Domain.Length + Size];
        Domain.CopyTo(message);
        WriteBody(message[Domain.Length..]);
        return trust.VerifySignature(message[..(Domain.Length + SignedSize)], Signature);
    }

    public bool Equals(Revocation? other) =>
        other is not null && NodeId == other.NodeId && NodePublicKey.AsSpan().SequenceEqual(other.NodePublicKey)
        && RevokedAt == other.RevokedAt && Signature.AsSpan().SequenceEqual(other.Signature);

    public override int GetHashCode() => HashCode.Combine(NodeId, RevokedAt);
}
