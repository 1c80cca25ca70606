namespace Ppn.Nic.Testing;

/// <summary>
/// A temp-directory /sys laid out like the real one: class/net/IF/device is a symlink to the PCI device
/// directory (devices/pci0000:00/ADDRESS) holding vendor/device/subsystem ids and a driver symlink.
/// </summary>
public sealed class FakeSysfs : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("ppn-sysfs-").FullName;

    public FakeSysfs AddPciNic(string name, string address, ushort vendor, ushort device, ushort subsystemVendor, ushort subsystemDevice, string driver) =>
        AddPciNic(name, address, $"0x{vendor:x4}", $"0x{device:x4}", $"0x{subsystemVendor:x4}", $"0x{subsystemDevice:x4}", driver);

    /// <summary>The id files as raw text (a hostile or broken device's garbage included), each followed by a newline as the kernel writes them.</summary>
    public FakeSysfs AddPciNic(string name, string address, string vendor, string device, string subsystemVendor, string subsystemDevice, string driver)
    {
        var pci = Path.Combine(Root, "devices", "pci0000:00", address);
        Directory.CreateDirectory(pci);
        File.WriteAllText(Path.Combine(pci, "vendor"), vendor + "\n");
        File.WriteAllText(Path.Combine(pci, "device"), device + "\n");
        File.WriteAllText(Path.Combine(pci, "subsystem_vendor"), subsystemVendor + "\n");
        File.WriteAllText(Path.Combine(pci, "subsystem_device"), subsystemDevice + "\n");
        var drivers = Path.Combine(Root, "bus", "pci", "drivers", driver);
        Directory.CreateDirectory(drivers);
        File.CreateSymbolicLink(Path.Combine(pci, "driver"), Path.GetRelativePath(pci, drivers));
        var net = Path.Combine(Root, "class", "net", name);
        Directory.CreateDirectory(net);
        File.CreateSymbolicLink(Path.Combine(net, "device"), Path.GetRelativePath(net, pci));
        return this;
    }

    /// <summary>An interface without a bus device (lo, wg0, veth...).</summary>
    public FakeSysfs AddVirtual(string name)
    {
        Directory.CreateDirectory(Path.Combine(Root, "class", "net", name));
        return this;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
