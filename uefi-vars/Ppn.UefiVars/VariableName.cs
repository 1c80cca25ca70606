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

    public static VariableName Ppn(string name) => new(name, PpnVendor);

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
