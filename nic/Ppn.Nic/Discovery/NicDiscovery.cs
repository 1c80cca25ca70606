using System.Globalization;

namespace Ppn.Nic.Discovery;

/// <summary>A network interface and, for a PCI NIC, what sysfs says it is.</summary>
public sealed record NicIdentity(
    string Name,
    ushort? Vendor,
    ushort? Device,
    ushort? SubsystemVendor,
    ushort? SubsystemDevice,
    string? Driver,
    string? PciAddress)
{
    /// <summary>Has a bus device behind it (not veth, bridge, wg, lo...).</summary>
    public bool IsPhysical => PciAddress is not null || Driver is not null;

    /// <summary>"14e4:16b4", or null when not a PCI device.</summary>
    public string? PciId => Vendor is { } v && Device is { } d ? $"{v:x4}:{d:x4}" : null;

    public bool Is(ushort vendor, ushort device) => Vendor == vendor && Device == device;
}

/// <summary>Finds the node's NICs. Real: <see cref="SysfsNicDiscovery"/> over /sys (or a fake sysfs root in tests).</summary>
public interface INicDiscovery
{
    /// <summary>Every interface under class/net, sorted by name.</summary>
    IReadOnlyList<NicIdentity> List();

    /// <summary>The interface by name, or null when there is none.</summary>
    NicIdentity? Find(string name);
}

/// <summary>
/// Reads /sys/class/net/&lt;if&gt;/device/{vendor,device,subsystem_vendor,subsystem_device}, the device's
/// driver symlink and the PCI address (the device symlink's target name). Never throws for a NIC
/// that is half-described: missing files become nulls.
/// </summary>
public sealed class SysfsNicDiscovery : INicDiscovery
{
    private readonly string _sysfsRoot;

    public SysfsNicDiscovery(string sysfsRoot = "/sys") => _sysfsRoot = sysfsRoot;

    public IReadOnlyList<NicIdentity> List()
    {
        var dir = Path.Combine(_sysfsRoot, "class", "net");
        if (!Directory.Exists(dir))
        {
            return [];
        }
        var names = Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>().ToList();
        names.Sort(StringComparer.Ordinal);
        return names.Select(Read).ToList();
    }

    public NicIdentity? Find(string name)
    {
        if (name.Length == 0 || name.Contains('/') || name is "." or "..")
        {
            return null;
        }
        var path = Path.Combine(_sysfsRoot, "class", "net", name);
        return Directory.Exists(path) || File.Exists(path) ? Read(name) : null;
    }

    private NicIdentity Read(string name)
    {
        var device = Path.Combine(_sysfsRoot, "class", "net", name, "device");
        if (!Directory.Exists(device))
        {
            return new NicIdentity(name, null, null, null, null, null, null);
        }
        string? pciAddress = null;
        var target = LinkTarget(device);
        if (target is not null && LooksLikePciAddress(Path.GetFileName(target)))
        {
            pciAddress = Path.GetFileName(target);
        }
        var driverTarget = LinkTarget(Path.Combine(device, "driver"));
        return new NicIdentity(
            name,
            ReadHex(Path.Combine(device, "vendor")),
            ReadHex(Path.Combine(device, "device")),
            ReadHex(Path.Combine(device, "subsystem_vendor")),
            ReadHex(Path.Combine(device, "subsystem_device")),
            driverTarget is null ? null : Path.GetFileName(driverTarget),
            pciAddress);
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.LinkTarget is { } t ? t.TrimEnd('/') : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>"0000:02:00.0": domain:bus:device.function.</summary>
    internal static bool LooksLikePciAddress(string s) =>
        s.Length == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.' &&
        s.Where((c, i) => i is not (4 or 7 or 10)).All(char.IsAsciiHexDigit);

    /// <summary>sysfs ids are "0x14e4\n"; anything else is treated as absent.</summary>
    internal static ushort? ReadHex(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            text = text[2..];
        }
        return ushort.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
