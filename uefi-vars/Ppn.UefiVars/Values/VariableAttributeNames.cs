using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Ppn.UefiVars.Values;

public enum AttributeNameStyle
{
    /// <summary>"NV,BS,RT".</summary>
    Short,
    /// <summary>"non-volatile,bootservice-access,runtime-access".</summary>
    Long,
}

/// <summary>
/// Attributes as people write them: names ("NV,BS,RT", "non-volatile,bootservice-access,runtime-access",
/// separated by ',', '|', '+' or spaces, any case), hex ("0x7"), or "none". Formatting is the inverse.
/// </summary>
public static class VariableAttributeNames
{
    private static readonly (VariableAttributes Bit, string Short, string Long, string[] Aliases)[] Names =
    [
        (VariableAttributes.NonVolatile, "NV", "non-volatile", ["nonvolatile"]),
        (VariableAttributes.BootServiceAccess, "BS", "bootservice-access", ["boot-service-access", "bootservice", "boot-service"]),
        (VariableAttributes.RuntimeAccess, "RT", "runtime-access", ["runtime"]),
        (VariableAttributes.HardwareErrorRecord, "HR", "hardware-error-record", ["hw-error-record"]),
        (VariableAttributes.AuthenticatedWriteAccess, "AW", "authenticated-write-access", []),
        (VariableAttributes.TimeBasedAuthenticatedWriteAccess, "AT", "time-based-authenticated-write-access", []),
        (VariableAttributes.AppendWrite, "AP", "append-write", ["append"]),
    ];

    /// <summary>Every bit with a name (0x7f).</summary>
    public const VariableAttributes KnownBits = (VariableAttributes)0x7f;

    /// <summary>"NV,BS,RT"; unknown bits as a trailing hex term ("NV,0x100"); 0 as "none".</summary>
    public static string Format(VariableAttributes attributes, AttributeNameStyle style = AttributeNameStyle.Short)
    {
        if (attributes == VariableAttributes.None) return "none";
        var parts = new List<string>();
        foreach (var (bit, shortName, longName, _) in Names)
        {
            if ((attributes & bit) != 0) parts.Add(style == AttributeNameStyle.Short ? shortName : longName);
        }
        var unknown = (uint)(attributes & ~KnownBits);
        if (unknown != 0) parts.Add($"0x{unknown:x}");
        return string.Join(',', parts);
    }

    /// <summary>"0x00000007".</summary>
    public static string FormatHex(VariableAttributes attributes) => $"0x{(uint)attributes:x8}";

    public static VariableAttributes Parse(string text) =>
        TryParse(text, out var attributes, out var error) ? attributes : throw new FormatException(error);

    /// <summary>Never throws; unknown names and bits outside 0x7f are errors.</summary>
    public static bool TryParse(string? text, out VariableAttributes attributes, [NotNullWhen(false)] out string? error)
    {
        attributes = VariableAttributes.None;
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            error = "no attributes given; write names (NV,BS,RT) or hex (0x7)";
            return false;
        }
        if (trimmed.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            var digits = trimmed[2..];
            if (digits.Length is 0 or > 8
                || !uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                error = $"'{trimmed}' is not a 32-bit hex number; write attributes as 0x7 or NV,BS,RT";
                return false;
            }
            if ((value & ~(uint)KnownBits) != 0)
            {
                error = $"{trimmed} has bits outside the UEFI attribute bits 0x7f ({Format((VariableAttributes)value)})";
                return false;
            }
            attributes = (VariableAttributes)value;
            error = null;
            return true;
        }
        if (trimmed.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            error = null;
            return true;
        }
        foreach (var term in trimmed.Split([',', '|', '+', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!TryParseName(term, out var bit))
            {
                error = $"unknown attribute '{term}'; known: " + string.Join(", ", Names.Select(n => $"{n.Short} ({n.Long})"))
                        + "; or write hex such as 0x7";
                attributes = VariableAttributes.None;
                return false;
            }
            attributes |= bit;
        }
        error = null;
        return true;
    }

    private static bool TryParseName(string term, out VariableAttributes bit)
    {
        foreach (var (candidate, shortName, longName, aliases) in Names)
        {
            if (term.Equals(shortName, StringComparison.OrdinalIgnoreCase)
                || term.Equals(longName, StringComparison.OrdinalIgnoreCase)
                || aliases.Any(a => term.Equals(a, StringComparison.OrdinalIgnoreCase)))
            {
                bit = candidate;
                return true;
            }
        }
        bit = VariableAttributes.None;
        return false;
    }
}
