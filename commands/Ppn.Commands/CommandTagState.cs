using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Ppn.Commands;

/// <summary>
/// The command tag (docs/protocol/commands.md §Tag: the first 8 bytes of BLAKE2b-256 keyed with the 32-byte command
/// key, over the 8 header bytes) computed from a per-key state, for the 8090 verify path.
///
/// Keyed BLAKE2b (RFC 7693 §3.3) pads the key to a whole 128-byte block and compresses it first; the message
/// follows in a block of its own. That first compression depends on the key alone, so <see cref="Precompute"/>
/// does it once per key and keeps the 8-word chaining value, and <see cref="Tag"/> does only the final compression:
/// one block whose single non-zero word is the header (counter 136, final flag set). libsodium's
/// <c>crypto_generichash</c> (and so Geralt) exposes no such state and does both compressions, its parameter block and its
/// buffering on every call: 4 to 5 times the cost (docs/performance.md). Everything else that makes or checks a tag
/// (the sealer, the decoder, the fuzz harness's oracle) calls libsodium, and the tests compare the two on random
/// keys and headers and on the protocol vectors, so this code is checked against the reference on every run.
///
/// The chaining value is as secret as the key (it forges tags): <see cref="CommandKeyring"/> keeps it in its
/// pinned buffer and zeroes it with the keys. The working words of <see cref="Tag"/> live in registers and stack
/// spills and are not zeroed: run back through the rounds with the (public) header they give the chaining value, so
/// that residue is as secret as the key. libsodium's compression functions leave theirs too (and with the old path
/// the key block's words, the raw key); nothing a C# method can do reaches its own spills.
/// </summary>
internal static class CommandTagState
{
    /// <summary>Chaining-value words per key.</summary>
    public const int Words = 8;

    private const ulong Iv0 = 0x6a09e667f3bcc908, Iv1 = 0xbb67ae8584caa73b, Iv2 = 0x3c6ef372fe94f82b, Iv3 = 0xa54ff53a5f1d36f1;
    private const ulong Iv4 = 0x510e527fade682d1, Iv5 = 0x9b05688c2b3e6c1f, Iv6 = 0x1f83d9abfb41bd6b, Iv7 = 0x5be0cd19137e2179;

    // RFC 7693 §2.7, rows 0-9; rounds 10 and 11 reuse rows 0 and 1.
    private static ReadOnlySpan<byte> Sigma =>
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
        11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
        7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
        9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
        2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
        12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
        13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
        6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
        10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
    ];

    /// <summary>
    /// The chaining value after the key block: h = IV with h[0] ^= 0x01012020 (digest 32 bytes, key 32 bytes,
    /// fanout and depth 1), then one compression of the zero-padded key with counter 128, not final.
    /// </summary>
    public static void Precompute(Span<ulong> state, ReadOnlySpan<byte> key)
    {
        if (state.Length != Words) throw new ArgumentException($"a tag state is {Words} words", nameof(state));
        if (key.Length != CommandKeyring.KeySize) throw new ArgumentException("command keys are 32 bytes", nameof(key));
        Span<ulong> m = stackalloc ulong[16];
        m.Clear();
        for (int i = 0; i < 4; i++) m[i] = BinaryPrimitives.ReadUInt64LittleEndian(key[(i * 8)..]);
        Span<ulong> v = stackalloc ulong[16];
        ReadOnlySpan<ulong> iv = [Iv0, Iv1, Iv2, Iv3, Iv4, Iv5, Iv6, Iv7];
        iv.CopyTo(state);
        state[0] ^= 0x01010000UL ^ ((ulong)CommandKeyring.KeySize << 8) ^ CommandKeyring.HashSize;
        state.CopyTo(v);
        iv.CopyTo(v[8..]);
        v[12] ^= 128; // bytes compressed so far: the key block
        var sigma = Sigma;
        for (int round = 0; round < 12; round++)
        {
            var s = sigma.Slice(round % 10 * 16, 16);
            Mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
            Mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
            Mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
            Mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
            Mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
            Mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
            Mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
            Mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for (int i = 0; i < Words; i++) state[i] ^= v[i] ^ v[i + 8];
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(m));
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(v));
    }

    /// <summary>
    /// The tag of the header <paramref name="m0"/> (bytes 0-7 read little-endian, as BLAKE2b reads words) under the key
    /// whose <paramref name="state"/> this is, as the 8 tag bytes read little-endian: the final compression of
    /// the block (header, 0, ..., 0) with counter 128 + 8 and the final flag, of which only h[0] is kept.
    /// Not inlined into its caller: its 96 inlined G steps are what the method budget is for.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong Tag(ReadOnlySpan<ulong> state, ulong m0)
    {
        var h = state[..Words];
        ulong v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
        ulong v8 = Iv0, v9 = Iv1, v10 = Iv2, v11 = Iv3, v12 = Iv4 ^ 136, v13 = Iv5, v14 = ~Iv6, v15 = Iv7;
        // Word 0 (the header) is the only non-zero message word, so each round's G steps take it or 0 where RFC 7693's
        // sigma row puts word 0 or another word. Written out: under OptimizationPreference=Size a loop over the rounds
        // or a round helper keeps the words in memory (2 to 3 times slower, docs/performance.md).
        // round 0: sigma row 0, word 0 at position 0
        G(ref v0, ref v4, ref v8, ref v12, m0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 1: sigma row 1, word 0 at position 10
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, m0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 2: sigma row 2, word 0 at position 3
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, m0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 3: sigma row 3, word 0 at position 13
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, m0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 4: sigma row 4, word 0 at position 1
        G(ref v0, ref v4, ref v8, ref v12, 0, m0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 5: sigma row 5, word 0 at position 4
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, m0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 6: sigma row 6, word 0 at position 8
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, m0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 7: sigma row 7, word 0 at position 9
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, m0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 8: sigma row 8, word 0 at position 6
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, m0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 9: sigma row 9, word 0 at position 15
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, m0);
        // round 10: sigma row 0, word 0 at position 0
        G(ref v0, ref v4, ref v8, ref v12, m0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, 0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        // round 11: sigma row 1, word 0 at position 10
        G(ref v0, ref v4, ref v8, ref v12, 0, 0);
        G(ref v1, ref v5, ref v9, ref v13, 0, 0);
        G(ref v2, ref v6, ref v10, ref v14, 0, 0);
        G(ref v3, ref v7, ref v11, ref v15, 0, 0);
        G(ref v0, ref v5, ref v10, ref v15, 0, 0);
        G(ref v1, ref v6, ref v11, ref v12, m0, 0);
        G(ref v2, ref v7, ref v8, ref v13, 0, 0);
        G(ref v3, ref v4, ref v9, ref v14, 0, 0);
        return h[0] ^ v0 ^ v8;
    }

    /// <summary>RFC 7693 §3.1 G, rotations 32, 24, 16, 63.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref ulong a, ref ulong b, ref ulong c, ref ulong d, ulong x, ulong y)
    {
        a += b + x;
        d = BitOperations.RotateRight(d ^ a, 32);
        c += d;
        b = BitOperations.RotateRight(b ^ c, 24);
        a += b + y;
        d = BitOperations.RotateRight(d ^ a, 16);
        c += d;
        b = BitOperations.RotateRight(b ^ c, 63);
    }

    private static void Mix(Span<ulong> v, int a, int b, int c, int d, ulong x, ulong y) =>
        G(ref v[a], ref v[b], ref v[c], ref v[d], x, y);
}
