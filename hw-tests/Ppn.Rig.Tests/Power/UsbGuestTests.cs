using Ppn.Rig.Emulation;
using Xunit.Abstractions;

namespace Ppn.Rig.Tests.Power;

/// <summary>
/// The USB hub code (libusb binding, descriptor and port-status requests, sysfs paths, the switch's verdict)
/// run by a Native AOT ppn-rig inside a QEMU guest with an xHCI controller, QEMU's usb-hub and a keyboard
/// behind it. What it cannot show: a real per-port power cut (QEMU's hub has no power switching).
/// </summary>
[Collection(EmulatorCollection.Name)]
public class UsbGuestTests(ITestOutputHelper output)
{
    [RigFact]
    public void The_usb_code_enumerates_reads_hub_descriptors_and_port_status_through_a_real_kernel()
    {
        var native = UsbGuest.LocateNativeRig();
        var work = Directory.CreateTempSubdirectory("ppnrig-usbguest-image-").FullName;
        try
        {
            var image = UsbGuest.Build(native, work);
            var lines = UsbGuest.Run(image, work);
            var console = lines.Select(l => l.Text).ToList();
            var probe = console.Where(l => l.StartsWith("usb-probe: ", StringComparison.Ordinal) || l.StartsWith("usb-guest: ", StringComparison.Ordinal)
                || l.StartsWith("serial-probe: ", StringComparison.Ordinal)).ToList();
            foreach (var line in lines.Where(l => probe.Contains(l.Text)))
            {
                output.WriteLine(line.ToString());
            }
            string Probe(string contains) => probe.FirstOrDefault(l => l.Contains(contains, StringComparison.Ordinal))
                ?? throw new Xunit.Sdk.XunitException($"no probe line containing '{contains}':\n{string.Join('\n', console.TakeLast(60))}");

            Probe("usb-probe: done");
            // libusb's enumeration through usbfs found the xHCI root hubs (USB 2 on bus 1, SuperSpeed on bus 2),
            // QEMU's usb-hub at 1-1 and the keyboard behind its port 1.
            Probe("usb-probe: device 1-1 (0409:55aa");
            Probe("usb-probe: device 1-1.1 (0627:0001");
            // Hub descriptors read with real control transfers: type 0x29 from the USB 2 root hub and the usb-hub,
            // type 0x2A from the SuperSpeed root hub (answered by the kernel's xHCI driver).
            Assert.Matches(@"hub usb1 descriptor 0929[0-9A-F]+ type 0x29 ports \d+", Probe("usb-probe: hub usb1 descriptor"));
            Assert.Matches(@"hub usb2 descriptor 0C2A[0-9A-F]+ type 0x2A ports \d+", Probe("usb-probe: hub usb2 descriptor"));
            Assert.Matches(@"hub 1-1 descriptor [0-9A-F]{2}29[0-9A-F]+ type 0x29 ports 8 ", Probe("usb-probe: hub 1-1 descriptor"));
            // GET_STATUS of the hub's port 1: powered and connected (the keyboard), port 2 powered and empty;
            // a SuperSpeed root port reads PORT_POWER in bit 9. Linux >= 6.0 has the sysfs switch where we look for it.
            Assert.Contains("wPortStatus 0x0103 powered True connected True sysfs-disable True", Probe("usb-probe: hub 1-1 port 1 "));
            Assert.Contains("wPortStatus 0x0100 powered True connected False sysfs-disable True", Probe("usb-probe: hub 1-1 port 2 "));
            Assert.Contains("powered True connected False sysfs-disable True", Probe("usb-probe: hub usb2 port 1 "));
            // QEMU's usb-hub (and its xHCI root hubs, which have no PPC) report no power switching
            // (wHubCharacteristics D1..D0 = 10b): the switch refuses the hub with the rig-fault message.
            Assert.Contains("switching None", Probe("usb-probe: hub 1-1 descriptor"));
            Assert.Contains("refused (HubNotSwitchable)", Probe($"usb-probe: switch {UsbGuest.HubPort}"));

            // The serial console code on a real USB serial driver (QEMU's FTDI usb-serial, ftdi_sio): raw mode at
            // 115200 read back from the tty, a line from the host captured, the adapter unplugged (device_del) and
            // plugged back (device_add), the capture reconnected by itself and captured the next line.
            Assert.Contains("speed 0x1002 (B115200 = 0x1002) raw True", Probe("serial-probe: capturing /dev/ttyUSB0 connection 1 "));
            Probe($"serial-probe: line {UsbGuest.FirstSerialLine}");
            Probe("serial-probe: disconnected");
            Probe("serial-probe: capturing /dev/ttyUSB0 connection 2 ");
            Probe($"serial-probe: line {UsbGuest.SecondSerialLine}");
            Probe("serial-probe: done 2 line(s)");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
