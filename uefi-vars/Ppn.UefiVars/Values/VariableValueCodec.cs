using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Ppn.UefiVars.Values;

/// <summary>How <see cref="VariableValueCodec.Format"/> shows a value.</summary>
public enum ValueFormat
{
    /// <summary>hexdump -C style: offset, 16 bytes in hex, printable ASCII.</summary>
    Hexdump,
    /// <summary>Lower-case hex without separators.</summary>
    Hex,
    Base64,
    /// <summary>UTF-8 text; fails on invalid UTF-8.</summary>
    Text,
    /// <summary>UCS-2/UTF-16LE text as firmware stores strings; one trailing NUL is dropped.</summary>
    Ucs2,
}

/// <summary>
/// Values as people type them for <c>ppn uefi set</c>, and values shown by <c>ppn uefi get</c>.
/// Input forms (the prefix picks the encoding):
/// <list type="bullet">
/// <item>"hex:0a0b" or plain hex "0a0b" / "0x0a0b"; spaces, ':' and '-' between byte pairs are allowed</item>
/// <item>"base64:CgsM"</item>
/// <item>"text:hello" or "utf8:hello" — UTF-8 bytes, no terminator</item>
/// <item>"ucs2:Boot entry" — UTF-16LE code units, BMP only (UCS-2); "ucs2z:" adds the NUL terminator
///   firmware strings carry; "utf16:" also allows surrogate pairs</item>
/// <item>"file:/path" or "@/path" — the file's bytes</item>
/// </list>
/// </summary>
public static class VariableValueCodec
{
    /// <summary>
    /// The largest value a file: or @ value may hold. No firmware stores a bigger variable: EDK2's
    /// PcdMaxVariableSize is 0x8400 for OVMF's 4M build (header and name included) and 64 KiB is the most any
    /// platform we know sets. Without the cap, file:/dev/zero read until the process died.
    /// </summary>
    public const int MaxFileValueBytes = 64 * 1024;

    public static byte[] Parse(string text, Func<string, byte[]>? readFile = null) =>
        TryParse(text, out var value, out var error, readFile) ? value : throw new FormatException(error);

    /// <summary>Never throws (file read errors become <paramref name="error"/>).</summary>
    public static bool TryParse(
        string? text, [NotNullWhen(true)] out byte[]? value, [NotNullWhen(false)] out string? error,
        Func<string, byte[]>? readFile = null)
    {
        value = null;
        if (text is null)
        {
            error = "no value given; write hex:…, base64:…, text:…, ucs2:… or file:PATH";
            return false;
        }
        if (text.StartsWith('@')) return TryReadFile(text[1..], readFile, out value, out error);
        int colon = text.IndexOf(':');
        var prefix = colon > 0 ? text[..colon].ToLowerInvariant() : "";
        var body = colon > 0 ? text[(colon + 1)..] : text;
        switch (prefix)
        {
            case "hex":
                return TryParseHex(body, out value, out error);
            case "base64":
                return TryParseBase64(body, out value, out error);
            case "text" or "utf8":
                value = Encoding.UTF8.GetBytes(body);
                error = null;
                return true;
            case "ucs2" or "ucs2z" or "utf16":
                return TryEncodeUtf16(body, strictUcs2: prefix != "utf16", terminate: prefix == "ucs2z", out value, out error);
            case "file":
                return TryReadFile(body, readFile, out value, out error);
            default:
                if (TryParseHex(text, out value, out _))
                {
                    error = null;
                    return true;
                }
                error = $"'{Abbreviate(text)}' is not hex; prefix the value with hex:, base64:, text:, ucs2:, ucs2z:, utf16: or file:";
                return false;
        }
    }

    /// <summary>Hex with optional "0x" and optional ' ', ':' or '-' between byte pairs.</summary>
    public static bool TryParseHex(string? text, [NotNullWhen(true)] out byte[]? value, [NotNullWhen(false)] out string? error)
    {
        value = null;
        var span = (text ?? "").AsSpan().Trim();
        if (span.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) span = span[2..];
        var digits = new StringBuilder(span.Length);
        for (int i = 0; i < span.Length; i++)
        {
            char c = span[i];
            if (char.IsAsciiHexDigit(c))
            {
                digits.Append(c);
            }
            else if (c is ' ' or ':' or '-' && digits.Length % 2 == 0 && digits.Length > 0)
            {
                continue;
            }
            else
            {
                error = $"'{c}' at position {i} is not a hex digit (bytes are two hex digits; separators ' ', ':' or '-' only between bytes)";
                return false;
            }
        }
        if (digits.Length == 0)
        {
            error = "the hex value is empty";
            return false;
        }
        if (digits.Length % 2 != 0)
        {
            error = $"the hex value has {digits.Length} digits; each byte needs two";
            return false;
        }
        value = Convert.FromHexString(digits.ToString());
        error = null;
        return true;
    }

    private static bool TryParseBase64(string body, [NotNullWhen(true)] out byte[]? value, [NotNullWhen(false)] out string? error)
    {
        var trimmed = body.Trim();
        var buffer = new byte[(trimmed.Length * 3 / 4) + 3];
        if (trimmed.Length > 0 && Convert.TryFromBase64String(trimmed, buffer, out int written))
        {
            value = buffer[..written];
            error = null;
            return true;
        }
        value = null;
        error = trimmed.Length == 0 ? "the base64 value is empty" : "the value after base64: is not valid base64 (RFC 4648, with padding)";
        return false;
    }

    private static bool TryEncodeUtf16(string body, bool strictUcs2, bool terminate,
        [NotNullWhen(true)] out byte[]? value, [NotNullWhen(false)] out string? error)
    {
        value = null;
        for (int i = 0; i < body.Length; i++)
        {
            if (char.IsSurrogate(body[i]))
            {
                bool paired = char.IsHighSurrogate(body[i]) && i + 1 < body.Length && char.IsLowSurrogate(body[i + 1]);
                if (strictUcs2 || !paired)
                {
                    error = strictUcs2
                        ? $"character at position {i} is outside the Basic Multilingual Plane; UCS-2 cannot hold it (use utf16:)"
                        : $"unpaired surrogate at position {i}";
                    return false;
                }
                i++;
            }
        }
        var bytes = new byte[(body.Length + (terminate ? 1 : 0)) * 2];
        Encoding.Unicode.GetBytes(body, bytes);
        value = bytes;
        error = null;
        return true;
    }

    private static bool TryReadFile(string path, Func<string, byte[]>? readFile,
        [NotNullWhen(true)] out byte[]? value, [NotNullWhen(false)] out string? error)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(path))
        {
            error = "no file name after file: (or @)";
            return false;
        }
        try
        {
            if (readFile is not null)
            {
                value = readFile(path);
            }
            else if (!TryReadBounded(path, out value, out error))
            {
                return false;
            }
            if (value.Length > MaxFileValueBytes)
            {
                value = null;
                error = $"value file {path} is larger than {MaxFileValueBytes} bytes, the most a UEFI variable can hold";
                return false;
            }
            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = $"cannot read value file {Ppn.Linux.FileErrors.Describe(e, path)}";
            return false;
        }
    }

    /// <summary>A regular file of at most <see cref="MaxFileValueBytes"/>; a device, FIFO or directory is refused unread.</summary>
    private static bool TryReadBounded(string path, [NotNullWhen(true)] out byte[]? value, [NotNullWhen(false)] out string? error)
    {
        value = null;
        var node = Ppn.Linux.FileNode.Stat(path);
        if (node.Kind == Ppn.Linux.FileNodeKind.Missing)
        {
            error = $"cannot read value file {path}: no such file";
            return false;
        }
        if (node.Kind != Ppn.Linux.FileNodeKind.Regular)
        {
            error = $"value file {path} is {Ppn.Linux.FileNode.Describe(node.Kind)}, not a regular file";
            return false;
        }
        using var file = File.OpenRead(path);
        var buffer = new byte[MaxFileValueBytes + 1];
        int n = file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (n > MaxFileValueBytes)
        {
            error = $"value file {path} is larger than {MaxFileValueBytes} bytes, the most a UEFI variable can hold";
            return false;
        }
        value = buffer[..n];
        error = null;
        return true;
    }

    public static string Format(ReadOnlySpan<byte> value, ValueFormat format) => format switch
    {
        ValueFormat.Hexdump => Hexdump(value),
        ValueFormat.Hex => Convert.ToHexStringLower(value),
        ValueFormat.Base64 => Convert.ToBase64String(value),
        ValueFormat.Text => DecodeUtf8(value),
        ValueFormat.Ucs2 => DecodeUcs2(value),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown value format"),
    };

    /// <summary>"hexdump"/"dump", "hex", "base64", "text"/"utf8", "ucs2"/"utf16"; false for anything else.</summary>
    public static bool TryParseFormat(string? text, out ValueFormat format)
    {
        ValueFormat? parsed = (text?.Trim().ToLowerInvariant()) switch
        {
            "hexdump" or "dump" => ValueFormat.Hexdump,
            "hex" => ValueFormat.Hex,
            "base64" => ValueFormat.Base64,
            "text" or "utf8" => ValueFormat.Text,
            "ucs2" or "utf16" => ValueFormat.Ucs2,
            _ => null,
        };
        format = parsed ?? ValueFormat.Hexdump;
        return parsed is not null;
    }

    /// <summary>
    /// hexdump -C layout: "00000000  0a 0b ... 0f  10 ...  |..........|", a final line with the length.
    /// An empty value gives just "00000000".
    /// </summary>
    public static string Hexdump(ReadOnlySpan<byte> value)
    {
        var text = new StringBuilder();
        for (int offset = 0; offset < value.Length; offset += 16)
        {
            var line = value.Slice(offset, Math.Min(16, value.Length - offset));
            text.Append($"{offset:x8}  ");
            for (int i = 0; i < 16; i++)
            {
                text.Append(i < line.Length ? $"{line[i]:x2} " : "   ");
                if (i == 7) text.Append(' ');
            }
            text.Append(" |");
            foreach (var b in line) text.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            text.Append("|\n");
        }
        text.Append($"{value.Length:x8}\n");
        return text.ToString();
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> value)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(value);
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException("the value is not valid UTF-8 text; show it as hex or hexdump");
        }
    }

    private static string DecodeUcs2(ReadOnlySpan<byte> value)
    {
        if (value.Length % 2 != 0)
        {
            throw new FormatException($"the value has {value.Length} bytes, an odd number, so it is not UCS-2 text; show it as hex or hexdump");
        }
        if (value.Length >= 2 && value[^1] == 0 && value[^2] == 0) value = value[..^2];
        try
        {
            return new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true).GetString(value);
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException("the value is not valid UTF-16LE text (unpaired surrogate); show it as hex or hexdump");
        }
    }

    private static string Abbreviate(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
