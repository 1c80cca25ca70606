using Ppn.Nic.Discovery;

namespace Ppn.Nic.Tests;

/// <summary>Discovery over the sysfs twin (class/net/IF/device -> the PCI device directory) and over the real /sys.</summary>
public sealed class DiscoveryTests : IDisposable
{
    private readonly FakeSysfs _sysfs = new();
    private string Root => _sysfs.Root;

    public void Dispose() => _sysfs.Dispose();

    private void AddPciNic(string name, string address, string vendor, string device, string driver) =>
        _sysfs.AddPciNic(name, address, vendor, device, "0x106b", "0x00f6", driver);

    [Fact]
    public void A_pci_nic_is_described_by_ids_driver_and_address()
    {
        AddPciNic("enp2s0", "0000:02:00.0", "0x14e4", "0x16b4", "tg3");
        Directory.CreateDirectory(Path.Combine(Root, "class", "net", "lo"));

        var nics = new SysfsNicDiscovery(Root).List();

        Assert.Equal(["enp2s0", "lo"], nics.Select(n => n.Name));
        var nic = nics[0];
        Assert.Equal("14e4:16b4", nic.PciId);
        Assert.Equal((ushort)0x106b, nic.SubsystemVendor);
        Assert.Equal((ushort)0x00f6, nic.SubsystemDevice);
        Assert.Equal("tg3", nic.Driver);
        Assert.Equal("0000:02:00.0", nic.PciAddress);
        Assert.True(nic.IsPhysical);
        Assert.False(nics[1].IsPhysical);
    }

    [Fact]
    public void Garbage_in_an_id_file_reads_as_absent()
    {
        AddPciNic("eth0", "0000:03:00.0", "not-hex", "0x10d3", "e1000e");
        var nic = new SysfsNicDiscovery(Root).Find("eth0")!;
        Assert.Null(nic.Vendor);
        Assert.Null(nic.PciId);
        Assert.Equal("e1000e", nic.Driver);
    }

    [Fact]
    public void Unknown_or_hostile_names_are_not_found()
    {
        Assert.Null(new SysfsNicDiscovery(Root).Find("eth9"));
        Assert.Null(new SysfsNicDiscovery(Root).Find("../.."));
        Assert.Empty(new SysfsNicDiscovery(Path.Combine(Root, "missing")).List());
    }

    [Fact]
    public void The_real_sysfs_lists_loopback_as_not_physical()
    {
        var lo = new SysfsNicDiscovery().Find("lo");
        Assert.NotNull(lo);
        Assert.False(lo.IsPhysical);
    }
}
