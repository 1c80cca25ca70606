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
    /// <summary>The longest banner line, with its line end; a reader may stop after this many bytes.</summary>
    public const int MaxLength = 128;

    public static string Format(string publicKeyBase64) => $"{Protocol} {publicKeyBase64}\r\n";

    public const string EnrolledWord = "ENROLLED";
    /// <summary>How long a node claimed in this run keeps answering on 9443 with the enrolled banner.</summary>
    public static readonly TimeSpan EnrolledAnnouncement = TimeSpan.FromMinutes(10);

    public static string FormatError(string reasonToken) => $"{Protocol} ERROR {reasonToken}\r\n";

    public static string FormatEnrolled(ReadOnlySpan<byte> nodeKey, ReadOnlySpan<byte> authorityNoiseKey) =>
        $"{Protocol} {EnrolledWord} {Convert.ToBase64String(nodeKey)} {Convert.ToBase64String(authorityNoiseKey)}\r\n";

    /// <summary>The enrolled banner: both keys canonical standard base64 of 32 bytes, one CRLF or LF (or none).</summary>
    public static bool TryParseEnrolled(string? line, [NotNullWhen(true)] out byte[]? nodeKey, [NotNullWhen(true)] out byte[]? authorityNoiseKey)
    {
        nodeKey = authorityNoiseKey = null;
        if (!TryStripLineEnd(line, out var text)) return false;
        var parts = text.Split(' ');
        if (parts.Length != 4 || parts[0] != Protocol || parts[1] != EnrolledWord) return false;
        if (!TryKey(parts[2], out var node) || !TryKey(parts[3], out var authority)) return false;
        (nodeKey, authorityNoiseKey) = (node, authority);
        return true;
    }

    /// <summary>
    /// The holding banner: exactly <c>PPN-GENESIS/1 &lt;key&gt;</c> with one CRLF or LF (or none) and the key canonical
    /// standard base64 of 32 bytes (44 characters, zero padding bits). Never throws; anything else is false (an ERROR
    /// or ENROLLED banner, other versions, extra spaces, trailing bytes).
    /// </summary>
    public static bool TryParse(string? line, [NotNullWhen(true)] out byte[]? publicKey)
    {
        publicKey = null;
        if (!TryStripLineEnd(line, out var text) || !text.StartsWith(Protocol + " ", StringComparison.Ordinal))
        {
            return false;
        }
        return TryKey(text[(Protocol.Length + 1)..], out publicKey);
    }

    private static bool TryStripLineEnd(string? line, [NotNullWhen(true)] out string? text)
    {
        text = null;
        if (line is null || line.Length > MaxLength) return false;
        text = line.EndsWith("\r\n", StringComparison.Ordinal) ? line[..^2] : line.EndsWith('\n') ? line[..^1] : line;
        return true;
    }

    // Canonical only: re-encoding must give the same text, so one key has one banner (non-zero padding bits refused).
    private static bool TryKey(string text, [NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        var bytes = new byte[35];
        if (text.Length != 44 || !Convert.TryFromBase64String(text, bytes, out int written) || written != 32) return false;
        if (Convert.ToBase64String(bytes, 0, 32) != text) return false;
        key = bytes[..32];
        return true;
    }
}
