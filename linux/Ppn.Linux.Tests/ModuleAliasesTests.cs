using Ppn.Linux.Modules;

namespace Ppn.Linux.Tests;

public sealed class ModuleAliasesTests : IDisposable
{
    private readonly string _sys = Directory.CreateTempSubdirectory("ppn-sysfs-").FullName;

    public void Dispose() => Directory.Delete(_sys, recursive: true);

    private const string Aliases = """
        # Aliases extracted from modules themselves.
        alias fs-efivarfs efivarfs
        alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
        alias pci:v000014E4d0000165Bsv*sd*bc*sc*i* tg3
        alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
        alias virtio:d00000001v* virtio_net
        alias devname:net/tun tun
        alias rtnl-link-wireguard wireguard
        """;

    [Theory]
    [InlineData("pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D3sv00001AF4sd00001100bc02sc00i00", true)]
    [InlineData("pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D4sv00001AF4sd00001100bc02sc00i00", false)]
    [InlineData("virtio:d00000001v*", "virtio:d00000001v00001AF4", true)]
    [InlineData("virtio:d00000001v*", "virtio:d00000002v00001AF4", false)]
    [InlineData("usb:v*p*d*dc*dsc*dp*ic09isc*ip*in*", "usb:v1D6Bp0002d0606dc09dsc00dp01ic09isc00ip00in00", true)]
    [InlineData("acpi*:PNP0A0[38]:*", "acpi:PNP0A08:", true)]
    [InlineData("acpi*:PNP0A0[38]:*", "acpi:PNP0A05:", false)]
    [InlineData("a[!b]c", "axc", true)]
    [InlineData("a[!b]c", "abc", false)]
    [InlineData("a[0-9]?", "a5z", true)]
    [InlineData("a?", "a", false)]
    [InlineData("*", "", true)]
    [InlineData("a[b", "a[b", true)]   // an unclosed bracket is a literal, as in fnmatch
    [InlineData("x\\*", "x*", true)]
    [InlineData("x\\*", "xy", false)]
    public void Patterns_match_as_fnmatch_does(string pattern, string text, bool expected) =>
        Assert.Equal(expected, ModuleAliases.GlobMatch(pattern, text));

    [Fact]
    public void Device_drivers_are_the_modules_with_bus_patterns()
    {
        var aliases = ModuleAliases.Parse(Aliases, "modules.alias");
        Assert.Equal(["e1000e", "tg3", "virtio_net", "virtio_pci"], aliases.DeviceDrivers().Order(StringComparer.Ordinal));
        Assert.False(ModuleAliases.IsDevicePattern("fs-efivarfs"));
        Assert.False(ModuleAliases.IsDevicePattern("devname:net/tun"));
        Assert.True(ModuleAliases.IsDevicePattern("pci:v*"));
    }

    [Fact]
    public void A_twin_sysfs_names_the_drivers_of_present_devices_only()
    {
        Device("pci", "0000:00:02.0", "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00");
        Device("pci", "0000:00:01.0", "pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00"); // a host bridge: no driver shipped
        Directory.CreateDirectory(Path.Combine(_sys, "bus", "pci", "devices", "0000:00:03.0")); // no modalias file
        var devices = new SysfsDeviceAliases(_sys).Read();
        Assert.Equal(2, devices.Count);
        Assert.Equal(["e1000e"], ModuleAliases.Parse(Aliases, "modules.alias").DriversFor(devices));
    }

    [Fact]
    public void Filtering_keeps_the_lines_of_the_shipped_modules_in_order()
    {
        var filtered = ModuleAliases.Parse(Aliases, "modules.alias").Filtered(["e1000e", "virtio-net", "efivarfs"]);
        Assert.Equal("alias fs-efivarfs efivarfs\nalias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\nalias virtio:d00000001v* virtio_net\n", filtered);
    }

    [Fact]
    public void A_malformed_line_is_refused_with_file_and_line()
    {
        var e = Assert.Throws<FormatException>(() => ModuleAliases.Parse("alias a b\nalias only-two\n", "/lib/modules/x/modules.alias"));
        Assert.Contains("/lib/modules/x/modules.alias:2", e.Message);
    }

    private void Device(string bus, string name, string modalias)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_sys, "bus", bus, "devices", name)).FullName;
        File.WriteAllText(Path.Combine(dir, "modalias"), modalias + "\n");
    }
}
