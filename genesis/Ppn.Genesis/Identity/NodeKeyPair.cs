using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Geralt;

namespace Ppn.Genesis.Identity;

/// <summary>
/// The node's long-term X25519 keypair (its WireGuard key and Noise static key). The private key lives in
/// pinned memory and is zeroed on <see cref="Dispose"/>; <see cref="ToString"/> never shows it.
/// </summary>
public sealed class NodeKeyPair : IDisposable
{
    public const int KeySize = 32;
    private readonly byte[] _private = GC.AllocateArray<byte>(KeySize, pinned: true);
    private bool _disposed;

    private NodeKeyPair(ReadOnlySpan<byte> privateKey)
    {
        privateKey.CopyTo(_private);
        Clamp(_private);
        PublicKey = new byte[KeySize];
        X25519.ComputePublicKey(PublicKey, _private);
    }

    /// <summary>Clamped as RFC 7748 §5 (and `wg genkey`) do, so the stored key is canonical.</summary>
    public static NodeKeyPair FromSeed(ReadOnlySpan<byte> seed) => new(seed);

    public static NodeKeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey) => new(privateKey);

    public byte[] PublicKey { get; }

    /// <summary>WireGuard's text form: standard base64 of the 32 bytes (44 characters).</summary>
    public string PublicKeyBase64 => Convert.ToBase64String(PublicKey);

    public ReadOnlySpan<byte> PrivateKey
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _private;
        }
    }

    public static void Clamp(Span<byte> key)
    {
        key[0] &= 248;
        key[31] &= 127;
        key[31] |= 64;
    }

    public override string ToString() => $"X25519 {PublicKeyBase64} (private key withheld)";

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_private);
        _disposed = true;
    }
}
