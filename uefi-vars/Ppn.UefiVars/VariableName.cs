using System.Diagnostics.CodeAnalysis;

namespace Ppn.UefiVars;

/// <summary>
/// A UEFI variable's identity: its UCS-2 name and vendor GUID. In efivarfs the file name is
/// "Name-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lower-case GUID, the last 37 characters).
/// </summary>
public readonly record struct VariableName(string Name, Guid Vendor)
{
    /// <summary>Our vendor GUID for every variable the appliance owns (generated once for PPN; never reuse).</summary>
    public static readonly Guid PpnVendor = new("5d6b8a4e-9c1f-4f2a-8e57-3b0c2d9a7f11");

    /// <summary>The EFI global variable GUID (UEFI spec 2.10 §3.3), for Boot####, BootOrder, SecureBoot...</summary>
    public static readonly Guid EfiGlobal = new("8be4df61-93ca-11d2-aa0d-00e098032b8c");

    /// <summary>
    /// Longest name we write: an efivarfs file name is at most NAME_MAX (255) bytes and the "-GUID" suffix
    /// takes 37 of them.
    /// </summary>
    public const int MaxNameLength = 255 - 37;

    public static VariableName Ppn(string name) => new(name, PpnVendor);

    /// <summary>
    /// True when <paramref name="name"/> can be created through efivarfs: 1..<see cref="MaxNameLength"/>
    /// printable ASCII characters without '/'. efivarfs turns the file name into the UCS-2 variable name
    /// byte by byte (fs/efivarfs/inode.c), so anything outside ASCII would reach the firmware mangled.
    /// </summary>
    public static bool IsValidName([NotNullWhen(true)] string? name, [NotNullWhen(false)] out string? reason)
    {
        if (string.IsNullOrEmpty(name))
        {
            reason = "the name is empty";
            return false;
        }
        if (name.Length > MaxNameLength)
        {
            reason = $"the name has {name.Length} characters; efivarfs allows at most {MaxNameLength}";
            return false;
        }
        foreach (var c in name)
        {
            if (c < 0x21 || c > 0x7e || c == '/')
            {
                reason = c is >= (char)0x21 and <= (char)0x7e
                    ? "the name contains '/'"
                    : $"the name contains U+{(int)c:X4}; only printable ASCII without spaces is allowed";
                return false;
            }
        }
        reason = null;
        return true;
    }

    /// <summary>
    /// Parses what a person types: "Name-GUID" (efivarfs file name), "GUID-Name" (the efivar tool's
    /// form) or a bare "Name", which gets <paramref name="defaultVendor"/>. Never throws.
    /// </summary>
    public static bool TryParseUserInput(
        string? text, Guid defaultVendor,
        [NotNullWhen(true)] out VariableName? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        text = text?.Trim();
        const int GuidLength = 36;
        if (string.IsNullOrEmpty(text))
        {
            error = "no variable name given; write Name, Name-GUID or GUID-Name";
            return false;
        }
        VariableName candidate;
        if (TryParse(text, out var fileName))
        {
            candidate = fileName.Value;
        }
        else if (text.Length >= GuidLength + 1 && text[GuidLength] == '-'
                 && Guid.TryParseExact(text.AsSpan(0, GuidLength), "D", out var leadingVendor))
        {
            candidate = new VariableName(text[(GuidLength + 1)..], leadingVendor);
        }
        else
        {
            candidate = new VariableName(text, defaultVendor);
        }
        if (!IsValidName(candidate.Name, out var reason))
        {
            error = $"'{text}' is not a usable variable name: {reason}";
            return false;
        }
        result = candidate;
        error = null;
        return true;
    }

    public string FileName => $"{Name}-{Vendor:D}";

    public override string ToString() => FileName;

    /// <summary>Parses an efivarfs file name; false for anything that is not "Name-GUID".</summary>
    public static bool TryParse(string fileName, [NotNullWhen(true)] out VariableName? result)
    {
        result = null;
        const int GuidLength = 36;
        if (fileName.Length < GuidLength + 2 || fileName[^(GuidLength + 1)] != '-')
        {
            return false;
        }
        var name = fileName[..^(GuidLength + 1)];
        if (!Guid.TryParseExact(fileName[^GuidLength..], "D", out var vendor) || name.Length == 0)
        {
            return false;
        }
        result = new VariableName(name, vendor);
        return true;
    }
}
