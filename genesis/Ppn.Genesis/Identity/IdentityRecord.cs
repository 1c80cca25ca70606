using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Geralt;
using Ppn.Genesis.Entropy;

namespace Ppn.Genesis.Identity;

/// <summary>
/// The node identity as stored in UEFI variable PpnIdentity (docs/protocol/identity-record.md):
///   0  4  magic "PPNI"
///   4  2  version (LE) = 1
///   6  2  entropy source flags (LE)
///   8  32 X25519 private key (clamped)
///   40 32 X25519 public key
///   72 32 checksum = BLAKE2b-256("PPN-IDENTITY-RECORD-v1" || bytes 0..71)
/// Parsing never throws; it also checks that the public key is the private key's.
/// </summary>
public readonly struct IdentityRecord
{
    public const int Size = 104;
    public const ushort CurrentVersion = 1;
    public static ReadOnlySpan<byte> Magic => "PPNI"u8;
    private static ReadOnlySpan<byte> ChecksumDomain => "PPN-IDENTITY-RECORD-v1"u8;

    public IdentityRecord(ushort version, EntropySources sources, byte[] privateKey, byte[] publicKey)
    {
        Version = version;
        Sources = sources;
        PrivateKey = privateKey;
        PublicKey = publicKey;
    }

    public ushort Version { get; }
    public EntropySources Sources { get; }
    public byte[] PrivateKey { get; }
    public byte[] PublicKey { get; }

    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"an identity record needs {Size} bytes", nameof(destination));
        }
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)Sources);
        PrivateKey.CopyTo(destination[8..40]);
        PublicKey.CopyTo(destination[40..72]);
        Checksum(destination[..72], destination[72..Size]);
    }

    public static bool TryParse(ReadOnlySpan<byte> data, out IdentityRecord record, [NotNullWhen(false)] out string? error)
    {
        record = default;
        if (data.Length != Size)
        {
            error = $"identity record is {data.Length} bytes, expected {Size}";
            return false;
        }
        if (!data[..4].SequenceEqual(Magic))
        {
            error = "identity record has a bad magic (not PPNI)";
            return false;
        }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
        if (version != CurrentVersion)
        {
            error = $"identity record version {version} is not supported (this ppn reads version {CurrentVersion})";
            return false;
        }
        Span<byte> expected = stackalloc byte[32];
        Checksum(data[..72], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, data[72..Size]))
        {
            error = "identity record checksum mismatch: the stored bytes are damaged";
            return false;
        }
        Span<byte> derived = stackalloc byte[32];
        X25519.ComputePublicKey(derived, data[8..40]);
        if (!derived.SequenceEqual(data[40..72]))
        {
            error = "identity record's public key does not belong to its private key";
            return false;
        }
        record = new IdentityRecord(version, (EntropySources)BinaryPrimitives.ReadUInt16LittleEndian(data[6..]), data[8..40].ToArray(), data[40..72].ToArray());
        error = null;
        return true;
    }

    private static void Checksum(ReadOnlySpan<byte> body, Span<byte> output)
    {
        Span<byte> input = stackalloc byte[ChecksumDomain.Length + 72];
        ChecksumDomain.CopyTo(input);
        body.CopyTo(input[ChecksumDomain.Length..]);
        BLAKE2b.ComputeHash(output, input);
        CryptographicOperations.ZeroMemory(input);
    }
}
