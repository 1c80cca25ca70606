using System.Security.Cryptography;

namespace Ppn.Genesis;

/// <summary>
/// The authority keys pinned in the node image (image-builder writes them; the node config reader passes
/// them here): the Ed25519 key that signs beacons and binding receipts, and the X25519 static key the
/// registrar and claim client prove in Noise IK. Several of each may be pinned for rotation.
/// </summary>
public sealed class AuthorityTrust
{
    public AuthorityTrust(IEnumerable<byte[]> signingKeys, IEnumerable<byte[]> noiseKeys)
    {
        SigningKeys = signingKeys.Select(k => k.Length == 32 ? k.ToArray() : throw new ArgumentException("an Ed25519 public key is 32 bytes")).ToList();
        NoiseKeys = noiseKeys.Select(k => k.Length == 32 ? k.ToArray() : throw new ArgumentException("an X25519 public key is 32 bytes")).ToList();
        if (SigningKeys.Count == 0 || NoiseKeys.Count == 0) throw new ArgumentException("at least one signing key and one Noise key must be pinned");
    }

    public IReadOnlyList<byte[]> SigningKeys { get; }
    public IReadOnlyList<byte[]> NoiseKeys { get; }

    public bool IsPinnedNoiseKey(ReadOnlySpan<byte> key)
    {
        foreach (var k in NoiseKeys)
        {
            if (CryptographicOperations.FixedTimeEquals(k, key)) return true;
        }
        return false;
    }

    /// <summary>True when any pinned signing key verifies <paramref name="signature"/> over <paramref name="message"/>.</summary>
    public bool VerifySignature(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != 64) return false;
        foreach (var k in SigningKeys)
        {
            if (Geralt.Ed25519.Verify(signature, message, k)) return true;
        }
        return false;
    }
}
