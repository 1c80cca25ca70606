using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Geralt;

namespace Ppn.Mesh.WireGuard;

/// <summary>A WireGuard public (or preshared) key: 32 bytes, shown as base64 like `wg`.</summary>
public readonly struct WireGuardKey : IEquatable<WireGuardKey>
{
    public const int Length = 32;
    private readonly byte[]? _bytes;

    public WireGuardKey(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"a WireGuard key is {Length} bytes, not {bytes.Length}", nameof(bytes));
        }
        _bytes = bytes.ToArray();
    }

    public ReadOnlySpan<byte> Bytes => _bytes ?? new byte[Length];

    public static bool TryParseBase64(string? text, out WireGuardKey key)
    {
        key = default;
        Span<byte> bytes = stackalloc byte[Length + 2];
        if (text is null || text.Length != 44 || !Convert.TryFromBase64String(text, bytes, out int written) || written != Length)
        {
            return false;
        }
        key = new WireGuardKey(bytes[..Length]);
        return true;
    }

    public static WireGuardKey ParseBase64(string text) =>
        TryParseBase64(text, out var key) ? key : throw new FormatException("not a WireGuard key (44 characters of base64 for 32 bytes)");

    public static bool TryParseHex(ReadOnlySpan<char> text, out WireGuardKey key)
    {
        key = default;
        if (text.Length != Length * 2)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[Length];
        if (Convert.FromHexString(text, bytes, out _, out int written) != System.Buffers.OperationStatus.Done || written != Length)
        {
            return false;
        }
        key = new WireGuardKey(bytes);
        return true;
    }

    public string ToBase64() => Convert.ToBase64String(Bytes);
    public string ToHex() => Convert.ToHexStringLower(Bytes);
    public bool IsZero => Bytes.IndexOfAnyExcept((byte)0) < 0;
    public override string ToString() => ToBase64();
    public bool Equals(WireGuardKey other) => Bytes.SequenceEqual(other.Bytes);
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is WireGuardKey k && Equals(k);
    public override int GetHashCode() => BitConverter.ToInt32(Bytes);
    public static bool operator ==(WireGuardKey a, WireGuardKey b) => a.Equals(b);
    public static bool operator !=(WireGuardKey a, WireGuardKey b) => !a.Equals(b);
}

/// <summary>
/// A WireGuard private key in a pinned buffer that is zeroed on <see cref="Dispose"/>. It never prints itself
/// (ToString is a placeholder); the only way to text is <see cref="RevealBase64"/>, named so a reader sees it.
/// </summary>
public sealed class WireGuardPrivateKey : IDisposable
{
    private readonly byte[] _key = GC.AllocateArray<byte>(WireGuardKey.Length, pinned: true);
    private bool _disposed;

    public WireGuardPrivateKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != WireGuardKey.Length)
        {
            throw new ArgumentException($"a WireGuard private key is {WireGuardKey.Length} bytes", nameof(key));
        }
        key.CopyTo(_key);
    }

    /// <summary>A fresh key from the OS CSPRNG, clamped as Curve25519 (RFC 7748 §5) and `wg genkey` do.</summary>
    public static WireGuardPrivateKey Generate()
    {
        Span<byte> key = stackalloc byte[WireGuardKey.Length];
        Ppn.Linux.KernelRandom.Fill(key);
        key[0] &= 248;
        key[31] &= 127;
        key[31] |= 64;
        var result = new WireGuardPrivateKey(key);
        CryptographicOperations.ZeroMemory(key);
        return result;
    }

    public static bool TryParseBase64(ReadOnlySpan<char> text, [NotNullWhen(true)] out WireGuardPrivateKey? key)
    {
        key = null;
        Span<byte> bytes = stackalloc byte[WireGuardKey.Length + 2];
        try
        {
            if (text.Length != 44 || !Convert.TryFromBase64Chars(text, bytes, out int written) || written != WireGuardKey.Length)
            {
                return false;
            }
            key = new WireGuardPrivateKey(bytes[..WireGuardKey.Length]);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public static bool TryParseHex(ReadOnlySpan<char> text, [NotNullWhen(true)] out WireGuardPrivateKey? key)
    {
        key = null;
        if (text.Length != WireGuardKey.Length * 2)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[WireGuardKey.Length];
        try
        {
            if (Convert.FromHexString(text, bytes, out _, out int written) != System.Buffers.OperationStatus.Done || written != WireGuardKey.Length)
            {
                return false;
            }
            key = new WireGuardPrivateKey(bytes);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    internal ReadOnlySpan<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    public bool IsZero => Bytes.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>X25519 public key of this private key (what `wg pubkey` prints).</summary>
    public WireGuardKey PublicKey()
    {
        Span<byte> pub = stackalloc byte[X25519.PublicKeySize];
        X25519.ComputePublicKey(pub, Bytes);
        return new WireGuardKey(pub);
    }

    /// <summary>The key as base64, for `showconf --show-private-key` only.</summary>
    public string RevealBase64() => Convert.ToBase64String(Bytes);

    /// <summary>Writes the key as lowercase hex (UAPI) into <paramref name="destination"/> (64 bytes).</summary>
    internal void WriteHex(Span<byte> destination)
    {
        const string digits = "0123456789abcdef";
        var key = Bytes;
        for (int i = 0; i < key.Length; i++)
        {
            destination[2 * i] = (byte)digits[key[i] >> 4];
            destination[2 * i + 1] = (byte)digits[key[i] & 0xF];
        }
    }

    public WireGuardPrivateKey Clone() => new(Bytes);

    public bool SameAs(WireGuardPrivateKey other) => CryptographicOperations.FixedTimeEquals(Bytes, other.Bytes);

    public override string ToString() => "(private key hidden)";

    public void Dispose()
    {
        if (!_disposed)
        {
            CryptographicOperations.ZeroMemory(_key);
            _disposed = true;
        }
    }
}
