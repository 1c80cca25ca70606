using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ppn.Commands;

/// <summary>
/// libsodium's <c>crypto_generichash</c> (BLAKE2b) bound for the 8090 hot path: every well-formed datagram costs
/// one call, so it skips the GC transition (<see cref="SuppressGCTransitionAttribute"/>: the call is short,
/// never blocks and never calls back) and the argument checks a general wrapper makes, which the callers' fixed
/// sizes make unnecessary. Everything else uses Geralt over the same libsodium. make bench's verify figure is
/// the check (docs/performance.md).
/// </summary>
internal static unsafe partial class SodiumGenericHash
{
    public const int HashSize = 32;
    public const int KeySize = 32;

    static SodiumGenericHash()
    {
        // Picks the CPU's fastest BLAKE2b; idempotent (Geralt calls it too). Without it libsodium runs its portable code.
        if (sodium_init() < 0) throw new InvalidOperationException("libsodium could not be initialised (sodium_init failed)");
    }

    /// <summary>BLAKE2b-256 of <paramref name="message"/> keyed with the 32-byte <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Compute(Span<byte> hash, ReadOnlySpan<byte> message, ReadOnlySpan<byte> key)
    {
        if (hash.Length != HashSize || key.Length != KeySize) ThrowSizes();
        fixed (byte* h = hash)
        fixed (byte* m = message)
        fixed (byte* k = key)
        {
            crypto_generichash(h, HashSize, m, (ulong)message.Length, k, KeySize);
        }
    }

    private static void ThrowSizes() => throw new ArgumentException($"BLAKE2b-256 here takes a {HashSize}-byte output and a {KeySize}-byte key");

    [LibraryImport("libsodium")]
    private static partial int sodium_init();

    [LibraryImport("libsodium")]
    [SuppressGCTransition]
    private static partial int crypto_generichash(byte* output, nuint outputLength, byte* input, ulong inputLength, byte* key, nuint keyLength);
}
