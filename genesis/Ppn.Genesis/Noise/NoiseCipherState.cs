using System.Buffers.Binary;
using System.Security.Cryptography;
using Geralt;

namespace Ppn.Genesis.Noise;

/// <summary>
/// Noise CipherState (Noise spec §5.1) for ChaChaPoly: ChaCha20-Poly1305 IETF, the 96-bit nonce being 32 zero
/// bits then the 64-bit counter little-endian (spec §12.3). The key lives in a pinned buffer, zeroed on Dispose.
/// </summary>
public sealed class NoiseCipherState : IDisposable
{
    public const int KeySize = 32;
    public const int TagSize = 16;
    private readonly byte[] _key = GC.AllocateArray<byte>(KeySize, pinned: true);
    private bool _hasKey;
    private ulong _nonce;

    public bool HasKey => _hasKey;

    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        key[..KeySize].CopyTo(_key);
        _hasKey = true;
        _nonce = 0;
    }

    /// <summary>Writes ciphertext||tag (plaintext.Length + 16 bytes) to <paramref name="output"/>, or the plaintext when there is no key yet.</summary>
    public int EncryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        if (!_hasKey)
        {
            plaintext.CopyTo(output);
            return plaintext.Length;
        }
        // 2^64-1 is reserved (spec §5.1); a genesis session never gets near it, but never wrap either.
        if (_nonce == ulong.MaxValue) throw new CryptographicException("Noise nonce exhausted");
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, _nonce);
        Geralt.ChaCha20Poly1305.Encrypt(output[..(plaintext.Length + TagSize)], plaintext, nonce, _key, ad);
        _nonce++;
        return plaintext.Length + TagSize;
    }

    /// <summary>False (and the nonce unchanged) when authentication fails; never throws on hostile bytes.</summary>
    public bool TryDecryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> output, out int written)
    {
        written = 0;
        if (!_hasKey)
        {
            if (output.Length < ciphertext.Length) return false;
            ciphertext.CopyTo(output);
            written = ciphertext.Length;
            return true;
        }
        if (ciphertext.Length < TagSize || output.Length < ciphertext.Length - TagSize || _nonce == ulong.MaxValue) return false;
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, _nonce);
        try
        {
            Geralt.ChaCha20Poly1305.Decrypt(output[..(ciphertext.Length - TagSize)], ciphertext, nonce, _key, ad);
        }
        catch (CryptographicException)
        {
            CryptographicOperations.ZeroMemory(output[..(ciphertext.Length - TagSize)]);
            return false;
        }
        _nonce++;
        written = ciphertext.Length - TagSize;
        return true;
    }

    private static void WriteNonce(Span<byte> nonce, ulong n)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], n);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        _hasKey = false;
    }
}
