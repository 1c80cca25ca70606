using System.Security.Cryptography;
using Geralt;

namespace Ppn.Genesis.Noise;

/// <summary>
/// Noise SymmetricState (spec §5.2) with HASH = BLAKE2b (HASHLEN 64, BLOCKLEN 128). HMAC and HKDF are the
/// spec's own constructions (§4.3): HMAC per RFC 2104 over BLAKE2b, not BLAKE2b's keyed mode.
/// </summary>
public sealed class NoiseSymmetricState : IDisposable
{
    public const int HashLen = 64;
    private const int BlockLen = 128;
    private readonly byte[] _ck = GC.AllocateArray<byte>(HashLen, pinned: true);
    private readonly byte[] _h = new byte[HashLen];

    public NoiseSymmetricState(ReadOnlySpan<byte> protocolName)
    {
        if (protocolName.Length <= HashLen)
        {
            protocolName.CopyTo(_h);
        }
        else
        {
            BLAKE2b.ComputeHash(_h, protocolName);
        }
        _h.CopyTo(_ck, 0);
    }

    public NoiseCipherState Cipher { get; } = new();

    public ReadOnlySpan<byte> HandshakeHash => _h;

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> k = stackalloc byte[HashLen];
        Hkdf2(_ck, inputKeyMaterial, _ck, k);
        // HASHLEN 64: the cipher key is the first 32 bytes of temp_k (spec §5.2).
        Cipher.InitializeKey(k[..NoiseCipherState.KeySize]);
        CryptographicOperations.ZeroMemory(k);
    }

    public void MixHash(ReadOnlySpan<byte> data)
    {
        using var hash = new IncrementalBLAKE2b(HashLen);
        hash.Update(_h);
        hash.Update(data);
        hash.Finalize(_h);
    }

    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        int n = Cipher.EncryptWithAd(_h, plaintext, output);
        MixHash(output[..n]);
        return n;
    }

    public bool TryDecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> output, out int written)
    {
        if (!Cipher.TryDecryptWithAd(_h, ciphertext, output, out written)) return false;
        MixHash(ciphertext);
        return true;
    }

    /// <summary>The two transport CipherStates: (initiator→responder, responder→initiator).</summary>
    public (NoiseCipherState First, NoiseCipherState Second) Split()
    {
        Span<byte> k1 = stackalloc byte[HashLen];
        Span<byte> k2 = stackalloc byte[HashLen];
        Hkdf2(_ck, ReadOnlySpan<byte>.Empty, k1, k2);
        var c1 = new NoiseCipherState();
        var c2 = new NoiseCipherState();
        c1.InitializeKey(k1[..NoiseCipherState.KeySize]);
        c2.InitializeKey(k2[..NoiseCipherState.KeySize]);
        CryptographicOperations.ZeroMemory(k1);
        CryptographicOperations.ZeroMemory(k2);
        return (c1, c2);
    }

    /// <summary>HKDF(chaining_key, input_key_material, 2) of spec §4.3. Outputs may alias the chaining key.</summary>
    public static void Hkdf2(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2)
    {
        Span<byte> tempKey = stackalloc byte[HashLen];
        Span<byte> o1 = stackalloc byte[HashLen];
        Span<byte> input = stackalloc byte[HashLen + 1];
        Hmac(chainingKey, inputKeyMaterial, tempKey);
        Hmac(tempKey, [0x01], o1);
        o1.CopyTo(input);
        input[HashLen] = 0x02;
        Hmac(tempKey, input, output2);
        o1.CopyTo(output1);
        CryptographicOperations.ZeroMemory(tempKey);
        CryptographicOperations.ZeroMemory(o1);
        CryptographicOperations.ZeroMemory(input);
    }

    /// <summary>HMAC-BLAKE2b (RFC 2104, block 128 bytes); keys are at most HASHLEN here, never hashed down.</summary>
    public static void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> output)
    {
        if (key.Length > BlockLen) throw new ArgumentException("HMAC key longer than the block", nameof(key));
        Span<byte> pad = stackalloc byte[BlockLen];
        Span<byte> inner = stackalloc byte[HashLen];
        pad.Clear();
        key.CopyTo(pad);
        for (int i = 0; i < BlockLen; i++) pad[i] ^= 0x36;
        using (var h = new IncrementalBLAKE2b(HashLen))
        {
            h.Update(pad);
            h.Update(data);
            h.Finalize(inner);
        }
        for (int i = 0; i < BlockLen; i++) pad[i] ^= 0x36 ^ 0x5c;
        using (var h = new IncrementalBLAKE2b(HashLen))
        {
            h.Update(pad);
            h.Update(inner);
            h.Finalize(output[..HashLen]);
        }
        CryptographicOperations.ZeroMemory(pad);
        CryptographicOperations.ZeroMemory(inner);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ck);
        Cipher.Dispose();
    }
}
