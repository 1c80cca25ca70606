using Ppn.Rig.Model;
using Ppn.Rig.Power;
using Ppn.Rig.Power.Usb;

namespace Ppn.Rig.Tests.Power;

public sealed class UsbHubPowerSwitchTests : IDisposable
{
    // USB 2.0 §11.23.2.1 (Table 11-13): 4 ports, wHubCharacteristics 0x0009 = per-port power switching (D1..D0 01b),
    // per-port over-current protection (D4..D3 01b); bPwrOn2PwrGood 50 (100 ms); 100 mA; DeviceRemovable 0; PortPwrCtrlMask 0xFF.
    public static readonly byte[] Usb2PerPort = [0x09, 0x29, 0x04, 0x09, 0x00, 0x32, 0x64, 0x00, 0xFF];
    // The same hub with D1..D0 = 00b: ganged power switching.
    public static readonly byte[] Usb2Ganged = [0x09, 0x29, 0x04, 0x08, 0x00, 0x32, 0x64, 0x00, 0xFF];
    // D1..D0 = 10b (no power switching); QEMU's emulated usb-hub reports 0x000a.
    public static readonly byte[] Usb2NoSwitching = [0x09, 0x29, 0x08, 0x0A, 0x00, 0x01, 0x00, 0x00, 0xFF];
    // USB 3.2 §10.15.2.1 (Table 10-3): SuperSpeed hub descriptor, 12 bytes, type 0x2A, 4 ports, per-port switching,
    // bHubHdrDecLat 0, wHubDelay 0, DeviceRemovable 0.
    public static readonly byte[] Usb3PerPort = [0x0C, 0x2A, 0x04, 0x09, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    private static readonly UsbDevice Root1 = new(1, [], 0x1d6b, 0x0002, 0x0200, 9);
    private static readonly UsbDevice Hub2 = new(1, [1, 4], 0x2109, 0x2817, 0x0210, 9);
    private static readonly UsbDevice Hub3 = new(2, [1, 4], 0x2109, 0x0817, 0x0320, 9);
    private static readonly UsbDevice Board = new(1, [1, 4, 2], 0x0403, 0x6001, 0x0200, 0);

    private readonly string _sysfs = Directory.CreateTempSubdirectory("ppn-fake-sysfs-").FullName;

    public void Dispose() => Directory.Delete(_sysfs, recursive: true);

    private static PowerPort Port(string text) => PowerPort.TryParse(text, out var p, out _) ? p : throw new ArgumentException(text);

    private string MakeSysfsPort(UsbDevice hub, int port)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_sysfs, $"{hub.Location}:1.0", $"{hub.Location}-port{port}")).FullName;
        var disable = Path.Combine(dir, "disable");
        File.WriteAllText(disable, "0\n");
        return disable;
    }

    [Fact]
    public void Hub_descriptors_parse_as_the_spec_lays_them_out()
    {
        Assert.True(HubDescriptor.TryParse(Usb2PerPort, out var d2));
        Assert.Equal(new HubDescriptor(false, 4, 0x0009, 100), d2);
        Assert.Equal(PowerSwitchingMode.PerPort, d2.Switching);
        Assert.True(HubDescriptor.TryParse(Usb3PerPort, out var d3));
        Assert.True(d3.SuperSpeed);
        Assert.True(HubDescriptor.TryParse(Usb2Ganged, out var g) && g.Switching == PowerSwitchingMode.Ganged);
        Assert.True(HubDescriptor.TryParse(Usb2NoSwitching, out var none) && none.Switching == PowerSwitchingMode.None);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0929")]
    [InlineData("09290409003264")] // 7 bytes: no DeviceRemovable / PortPwrCtrlMask
    [InlineData("092A0409003264 00FF")] // type 0x2A with a 9-byte length
    [InlineData("0901040900326400FF")] // not a hub descriptor type
    [InlineData("0929000900326400FF")] // zero ports
    [InlineData("FF290409003264 00FF")] // bLength beyond the bytes
    public void Malformed_hub_descriptors_are_rejected_without_throwing(string hex)
    {
        Assert.False(HubDescriptor.TryParse(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), out _));
    }

    [Fact]
    public void Port_power_status_bit_differs_between_usb2_and_usb3_hubs()
    {
        Assert.True(HubRequests.IsPowered(0x0100, superSpeed: false));
        Assert.False(HubRequests.IsPowered(0x0200, superSpeed: false)); // USB 2: bit 9 is low-speed device attached
        Assert.True(HubRequests.IsPowered(0x0200, superSpeed: true));
        Assert.False(HubRequests.IsPowered(0x0103, superSpeed: true));
    }

    [Fact]
    public void Without_sysfs_the_port_is_switched_with_clear_and_set_feature_and_read_back()
    {
        var bus = new FakeUsbBus();
        bus.AddDevice(Root1);
        var hub = bus.AddHub(Hub2, Usb2PerPort, 4);
        bus.AddDevice(Board);
        var power = new UsbHubPowerSwitch(Port("1-1.4:2"), bus, _sysfs);

        Assert.Equal(PortPower.On, power.Status());
        power.Set(PortPower.Off);
        Assert.Equal(PortPower.Off, power.Status());
        Assert.False(hub.Powered[2]);
        Assert.True(hub.Powered[1]);
        Assert.Contains("23 1 0008 2", hub.Requests); // CLEAR_FEATURE(PORT_POWER), wIndex = port 2
        Assert.Contains("A0 6 2900 0", hub.Requests); // GET_DESCRIPTOR(hub, type 0x29)
        Assert.Equal(["1-1.4: control transfer"], power.LastMethods);

        power.Set(PortPower.On);
        Assert.True(hub.Powered[2]);
        Assert.Contains("23 3 0008 2", hub.Requests);
    }

    [Fact]
    public void The_sysfs_disable_file_is_used_first_when_the_kernel_has_it()
    {
        var bus = new FakeUsbBus(_sysfs);
        var hub = bus.AddHub(Hub2, Usb2PerPort, 4);
        var disable = MakeSysfsPort(Hub2, 3);
        var power = new UsbHubPowerSwitch(Port("1-1.4:3"), bus, _sysfs);

        Assert.Equal(Path.Combine(_sysfs, "1-1.4:1.0", "1-1.4-port3", "disable"), power.SysfsDisablePath(Hub2));
        power.Set(PortPower.Off);
        Assert.Equal("1", File.ReadAllText(disable));
        Assert.Equal(PortPower.Off, power.Status());
        Assert.DoesNotContain(hub.Requests, r => r.StartsWith("23 ", StringComparison.Ordinal)); // no SET/CLEAR_FEATURE
        Assert.Equal(["1-1.4: sysfs"], power.LastMethods);

        power.Set(PortPower.On);
        Assert.Equal("0", File.ReadAllText(disable));
        Assert.Equal(PortPower.On, power.Status());
    }

    [Fact]
    public void Both_halves_of_a_usb3_hub_are_switched_and_both_must_read_off()
    {
        var bus = new FakeUsbBus(_sysfs);
        var usb2 = bus.AddHub(Hub2, Usb2PerPort, 4);
        var usb3 = bus.AddHub(Hub3, Usb3PerPort, 4);
        MakeSysfsPort(Hub3, 2); // only the SuperSpeed half has the sysfs file here
        var power = new UsbHubPowerSwitch(Port("1-1.4:2"), bus, _sysfs);

        Assert.Equal([Hub2, Hub3], power.Hubs);
        Assert.Contains("A0 6 2A00 0", usb3.Requests); // the SuperSpeed descriptor type for the USB 3 half
        power.Set(PortPower.Off);
        Assert.False(usb2.Powered[2]);
        Assert.Equal("1", File.ReadAllText(power.SysfsDisablePath(Hub3)));
        Assert.Equal(PortPower.Off, power.Status());
        Assert.Equal(["1-1.4: control transfer", "2-1.4: sysfs"], power.LastMethods);
    }

    [Fact]
    public void A_port_that_stays_powered_is_a_rig_fault_not_a_silent_success()
    {
        var bus = new FakeUsbBus();
        bus.AddHub(new FakeUsbBus.Hub(Hub2, Usb2PerPort) { IgnoresPowerRequests = true, Powered = { [1] = true, [2] = true, [3] = true, [4] = true } });
        var power = new UsbHubPowerSwitch(Port("1-1.4:2"), bus, _sysfs, confirmWithin: TimeSpan.FromMilliseconds(200));

        var e = Assert.Throws<RigInfrastructureException>(() => power.Set(PortPower.Off));
        Assert.Equal(RigFault.PowerNotConfirmed, e.Fault);
        Assert.Contains("PORT_POWER still reads on on 1-1.4", e.Message);
        Assert.Equal(FailureKind.Infrastructure, FailureClassifier.Classify(e));
    }

    [Fact]
    public void A_ganged_hub_is_refused_with_a_clear_message()
    {
        var bus = new FakeUsbBus();
        var hub = bus.AddHub(Hub2, Usb2Ganged, 4);
        var e = Assert.Throws<RigInfrastructureException>(() => new UsbHubPowerSwitch(Port("1-1.4:2"), bus, _sysfs));
        Assert.Equal(RigFault.HubNotSwitchable, e.Fault);
        Assert.Contains("switches the power of all its ports together (ganged; wHubCharacteristics 0x0008)", e.Message);
        Assert.Contains("would cut every board on it", e.Message);
        Assert.DoesNotContain(hub.Requests, r => r.StartsWith("23 ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_hub_without_power_switching_is_refused()
    {
        var bus = new FakeUsbBus();
        bus.AddHub(Hub2, Usb2NoSwitching, 8);
        var e = Assert.Throws<RigInfrastructureException>(() => new UsbHubPowerSwitch(Port("1-1.4:2"), bus, _sysfs));
        Assert.Contains("cannot switch port power at all", e.Message);
    }

    [Fact]
    public void A_missing_hub_names_the_hubs_that_are_there()
    {
        var bus = new FakeUsbBus();
        bus.AddHub(Hub2, Usb2PerPort, 4);
        var e = Assert.Throws<RigInfrastructureException>(() => new UsbHubPowerSwitch(Port("1-1.3:2"), bus, _sysfs));
        Assert.Equal(RigFault.HubNotFound, e.Fault);
        Assert.Contains("no USB hub at 1-1.3", e.Message);
        Assert.Contains("1-1.4 (2109:2817, USB 2.10)", e.Message);
    }

    [Fact]
    public void A_port_beyond_the_hubs_count_is_refused()
    {
        var bus = new FakeUsbBus();
        bus.AddHub(Hub2, Usb2PerPort, 4);
        var e = Assert.Throws<RigInfrastructureException>(() => new UsbHubPowerSwitch(Port("1-1.4:7"), bus, _sysfs));
        Assert.Contains("has 4 ports; there is no port 7", e.Message);
    }
}

/// <summary>The libusb-1.0 binding itself, against the host's real library (no USB devices needed).</summary>
public class LibUsbBindingTests
{
    [Fact]
    public void Libusb_initialises_and_enumerates_without_error_even_with_no_devices()
    {
        using var bus = LibUsbBus.Open();
        var devices = bus.Devices();
        Assert.NotNull(devices);
        Assert.All(devices, d => Assert.True(d.Bus >= 1));
        // A second enumeration releases the first's references and works the same.
        Assert.Equal(devices.Count, bus.Devices().Count);
    }

    [Fact]
    public void Libusb_device_descriptor_struct_is_the_18_bytes_of_libusb_h()
    {
        Assert.Equal(18, System.Runtime.InteropServices.Marshal.SizeOf<LibUsb.DeviceDescriptor>());
        Assert.Equal(8, (int)System.Runtime.InteropServices.Marshal.OffsetOf<LibUsb.DeviceDescriptor>("idVendor"));
    }

    [Fact]
    public void A_hub_that_is_not_on_this_host_is_an_infrastructure_fault()
    {
        using var bus = LibUsbBus.Open();
        var e = Assert.Throws<RigInfrastructureException>(() => new UsbHubPowerSwitch(
            PowerPort.TryParse("9-9.9:1", out var p, out _) ? p : null!, bus));
        Assert.Equal(RigFault.HubNotFound, e.Fault);
    }
}
