using System.Diagnostics.CodeAnalysis;

namespace Ppn.Genesis.Holding;

/// <summary>
/// The first line the holding listener sends, like an SSH banner: "PPN-GENESIS/1 &lt;base64 X25519 key&gt;\r\n".
/// A node without a usable identity says "PPN-GENESIS/1 ERROR &lt;reason-token&gt;\r\n" instead.
/// </summary>
public static class GenesisBanner
{
    public const string Protocol = "PPN-GENESIS/1";
    public const int MaxLength = 128;

    public static string Format(string publicKeyBase64) => $"{Protocol} {publicKeyBase64}\r\n";

    public static string FormatError(string reasonToken) => $"{Protocol} ERROR {reasonToken}\r\n";

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
