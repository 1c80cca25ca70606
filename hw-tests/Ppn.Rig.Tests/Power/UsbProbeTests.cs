using Ppn.Rig.Model;
using Ppn.Rig.Power.Usb;

namespace Ppn.Rig.Tests.Power;

public class UsbProbeTests
{
    [Fact]
    public void The_probe_reports_devices_hub_descriptors_port_status_and_a_switch()
    {
        var bus = new FakeUsbBus();
        bus.AddHub(new UsbDevice(1, [1], 0x0409, 0x55aa, 0x0200, 9), UsbHubPowerSwitchTests.Usb2PerPort, 4);
        var output = new StringWriter();

        int code = UsbProbe.Run(bus, output, PowerPort.TryParse("1-1:3", out var p, out _) ? p : null, "/nonexistent");

        Assert.Equal(0, code);
        var text = output.ToString();
        Assert.Contains("usb-probe: device 1-1 (0409:55aa, USB 2.00) class 9", text);
        Assert.Contains("usb-probe: hub 1-1 descriptor 0929040900326400FF type 0x29 ports 4 wHubCharacteristics 0x0009", text);
        Assert.Contains("switching PerPort", text);
        Assert.Contains("usb-probe: hub 1-1 port 3 wPortStatus 0x0103 powered True connected True sysfs-disable False", text);
        Assert.Contains("usb-probe: switch 1-1:3: off confirmed (1-1: control transfer)", text);
        Assert.Contains("usb-probe: switch 1-1:3: on confirmed", text);
    }

    [Fact]
    public void A_short_port_status_is_said_not_read_from_the_previous_ports_bytes()
    {
        var bus = new FakeUsbBus();
        var hub = bus.AddHub(new UsbDevice(1, [1], 0x0409, 0x55aa, 0x0200, 9), UsbHubPowerSwitchTests.Usb2PerPort, 4);
        hub.StatusBytes = 1;
        var output = new StringWriter();

        var e = Assert.Throws<RigInfrastructureException>(() => new UsbHubPowerSwitch(PowerPort.TryParse("1-1:1", out var p, out _) ? p : null!, bus).Status());
        Assert.Equal(0, UsbProbe.Run(bus, output, null, "/nonexistent"));

        Assert.Equal(RigFault.PowerSwitchFailed, e.Fault);
        Assert.Contains("short port status", e.Message);
        Assert.Contains("usb-probe: hub 1-1 port 1 status short (1 of 4 bytes)", output.ToString());
        Assert.DoesNotContain("wPortStatus", output.ToString());
    }

    [Fact]
    public void A_hub_that_cannot_switch_is_reported_as_refused()
    {
        var bus = new FakeUsbBus();
        bus.AddHub(new UsbDevice(1, [1], 0x0409, 0x55aa, 0x0110, 9), UsbHubPowerSwitchTests.Usb2NoSwitching, 8);
        var output = new StringWriter();
        Assert.Equal(2, UsbProbe.Run(bus, output, PowerPort.TryParse("1-1:1", out var p, out _) ? p : null, "/nonexistent"));
        Assert.Contains("usb-probe: switch 1-1:1: refused (HubNotSwitchable)", output.ToString());
    }
}
