using System.Diagnostics.CodeAnalysis;

namespace Ppn.Genesis.Holding;

/// <summary>
/// The first line the holding listener sends, like an SSH banner: "PPN-GENESIS/1 &lt;base64 X25519 key&gt;\r\n".
/// A node without a usable identity says "PPN-GENESIS/1 ERROR &lt;reason-token&gt;\r\n" instead, and a node claimed in
/// this run says "PPN-GENESIS/1 ENROLLED &lt;base64 node key&gt; &lt;base64 authority Noise key&gt;\r\n" for
/// <see cref="EnrolledAnnouncement"/> (so a claimant whose ack was lost can tell).
/// </summary>
public static class GenesisBanner
{
    public const string Protocol = "PPN-GENESIS/1";
    public const int MaxLength = 128;

    public static string Format(string publicKeyBase64) => $"{Protocol} {publicKeyBase64}\r\n";

    public const string EnrolledWord = "ENROLLED";
    /// <summary>How long a node claimed in this run keeps answering on 9443 with the enrolled banner.</summary>
    public static readonly TimeSpan EnrolledAnnouncement = TimeSpan.FromMinutes(10);

    public static string FormatError(string reasonToken) => $"{Protocol} ERROR {reasonToken}\r\n";

    public static string FormatEnrolled(ReadOnlySpan<byte> nodeKey, ReadOnlySpan<byte> authorityNoiseKey) =>
        $"{Protocol} {EnrolledWord} {Convert.ToBase64String(nodeKey)} {Convert.ToBase64String(authorityNoiseKey)}\r\n";

    /// <summary>The enrolled banner: both keys 32 bytes of standard base64, CRLF or LF.</summary>
    public static bool TryParseEnrolled(string? line, [NotNullWhen(true)] out byte[]? nodeKey, [NotNullWhen(true)] out byte[]? authorityNoiseKey)
    {
        nodeKey = authorityNoiseKey = null;
        if (line is null || line.Length > MaxLength) return false;
        var parts = line.TrimEnd('\n').TrimEnd('\r').Split(' ');
        if (parts.Length != 4 || parts[0] != Protocol || parts[1] != EnrolledWord) return false;
        if (!TryKey(parts[2], out var node) || !TryKey(parts[3], out var authority)) return false;
        (nodeKey, authorityNoiseKey) = (node, authority);
        return true;
    }

    private static bool TryKey(string text, [NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        var bytes = new byte[32];
        if (text.Length != 44 || !Convert.TryFromBase64String(text, bytes, out int written) || written != 32) return false;
        key = bytes;
        return true;
    }

    /// <summary>Accepts CRLF or LF endings; the key must be 32 bytes of standard base64.</summary>
    public static bool TryParse(string? line, [NotNullWhen(true)] out byte[]? publicKey)
    {
        publicKey = null;
        if (line is null || line.Length > MaxLength)
        {
            return false;
        }
        line = line.TrimEnd('\n').TrimEnd('\r');
        if (!line.StartsWith(Protocol + " ", StringComparison.Ordinal))
        {
            return false;
        }
        var key = line[(Protocol.Length + 1)..];
        if (key.Length != 44)
        {
            return false;
        }
        var bytes = new byte[32];
        if (!Convert.TryFromBase64String(key, bytes, out int written) || written != 32)
        {
            return false;
        }
        publicKey = bytes;
        return true;
    }
}
