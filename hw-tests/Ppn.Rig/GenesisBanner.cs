namespace Ppn.Rig;

/// <summary>
/// The one line a self-genesised node sends on every connection to its holding port (TCP 9443):
/// <c>PPN-GENESIS/1 &lt;44-char base64 X25519 public key&gt;\r\n</c> (a bare \n is accepted too).
/// </summary>
public static class GenesisBanner
{
    public const string Prefix = "PPN-GENESIS/1 ";
    public const int HoldingPort = 9443;
    public const int PublicKeyBase64Length = 44;
    public const int PublicKeyLength = 32;

    /// <summary>Longest line a well-formed banner can be, with its CRLF; a reader may stop after this.</summary>
    public const int MaxLineLength = 14 + PublicKeyBase64Length + 2;

    /// <summary>
    /// True when <paramref name="line"/> is exactly one banner (optionally ending in \r\n or \n) whose key is
    /// canonical base64 of 32 bytes. Never throws; anything else (extra spaces, other versions, junk) is false.
    /// </summary>
    public static bool TryParse(string? line, out string publicKeyBase64)
    {
        publicKeyBase64 = "";
        if (line is null)
        {
            return false;
        }
        var text = line.AsSpan();
        if (text.EndsWith("\r\n"))
        {
            text = text[..^2];
        }
        else if (text.EndsWith("\n"))
        {
            text = text[..^1];
        }
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var key = text[Prefix.Length..];
        if (key.Length != PublicKeyBase64Length)
        {
            return false;
        }
        Span<byte> decoded = stackalloc byte[PublicKeyLength + 3];
        if (!Convert.TryFromBase64Chars(key, decoded, out int written) || written != PublicKeyLength)
        {
            return false;
        }
        // Canonical form only: re-encoding must give the same text (rejects non-zero padding bits).
        Span<char> again = stackalloc char[PublicKeyBase64Length];
        if (!Convert.TryToBase64Chars(decoded[..written], again, out int chars) || !again[..chars].SequenceEqual(key))
        {
            return false;
        }
        publicKeyBase64 = key.ToString();
        return true;
    }
}
