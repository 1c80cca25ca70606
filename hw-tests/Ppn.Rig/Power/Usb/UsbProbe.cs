using System.Buffers.Binary;
using System.Globalization;
using Ppn.Rig.Model;

namespace Ppn.Rig.Power.Usb;

/// <summary>
/// What the rig's USB code sees on this machine, one line per fact (<c>usb-probe: …</c>): every device libusb
/// enumerates, each hub's descriptor as read with GET_DESCRIPTOR and parsed, each port's GET_STATUS and sysfs
/// <c>disable</c> file, and, when a port is named, the full power switch on it (off then on, each read back) or
/// the reason it refuses. <c>ppn-rig usb-probe</c> runs it; the rig's self-test runs it inside a QEMU guest
/// against an emulated xHCI controller and usb-hub, so the binding and the protocol code meet a real kernel.
/// </summary>
public static class UsbProbe
{
    public const string Prefix = "usb-probe: ";

    public static int Run(IUsbBus bus, TextWriter output, PowerPort? port = null, string sysfsRoot = UsbHubPowerSwitch.DefaultSysfsRoot)
    {
        void Say(string line) => output.WriteLine(Prefix + line);
        var devices = bus.Devices();
        Say(string.Create(CultureInfo.InvariantCulture, $"{devices.Count} device(s)"));
        foreach (var device in devices)
        {
            Say($"device {device} class {device.DeviceClass}");
        }
        Span<byte> buffer = stackalloc byte[64];
        Span<byte> status = stackalloc byte[4];
        foreach (var hub in devices.Where(d => d.IsHub))
        {
            byte type = hub.IsSuperSpeed ? HubDescriptor.Usb3Type : HubDescriptor.Usb2Type;
            try
            {
                using var control = bus.Open(hub);
                int n = control.ControlTransfer(HubRequests.GetHubDescriptorType, HubRequests.GetDescriptor, (ushort)(type << 8), 0, buffer, TimeSpan.FromSeconds(5));
                if (!HubDescriptor.TryParse(buffer[..n], out var d))
                {
                    Say($"hub {hub.Location} descriptor {Convert.ToHexString(buffer[..n])} unparsable");
                    continue;
                }
                Say(string.Create(CultureInfo.InvariantCulture,
                    $"hub {hub.Location} descriptor {Convert.ToHexString(buffer[..n])} type 0x{type:X2} ports {d.Ports} wHubCharacteristics 0x{d.Characteristics:x4} switching {d.Switching}"));
                for (int p = 1; p <= d.Ports; p++)
                {
                    status.Clear();
                    int got = control.ControlTransfer(HubRequests.PortStatusType, HubRequests.GetStatus, 0, (ushort)p, status, TimeSpan.FromSeconds(5));
                    if (got < status.Length)
                    {
                        // USB 2.0 §11.24.2.7: wPortStatus + wPortChange; fewer bytes would show the previous port's.
                        Say(string.Create(CultureInfo.InvariantCulture, $"hub {hub.Location} port {p} status short ({got} of 4 bytes): a misbehaving hub"));
                        continue;
                    }
                    ushort w = BinaryPrimitives.ReadUInt16LittleEndian(status);
                    string location = hub.Location;
                    string interfaceDir = hub.PortPath.Count == 0 ? $"{hub.Bus}-0:1.0" : $"{hub.Location}:1.0";
                    bool sysfs = File.Exists(Path.Combine(sysfsRoot, interfaceDir, $"{location}-port{p}", "disable"));
                    Say(string.Create(CultureInfo.InvariantCulture,
                        $"hub {hub.Location} port {p} wPortStatus 0x{w:x4} powered {HubRequests.IsPowered(w, d.SuperSpeed)} connected {(w & 1) != 0} sysfs-disable {sysfs}"));
                }
            }
            catch (IOException e)
            {
                Say($"hub {hub.Location} unreadable: {e.Message}");
            }
        }
        if (port is null)
        {
            Say("done");
            return 0;
        }
        try
        {
            var power = new UsbHubPowerSwitch(port, bus, sysfsRoot);
            Say($"switch {port}: {power.Describe}, status {power.Status()}");
            power.Set(PortPower.Off);
            Say($"switch {port}: off confirmed ({string.Join("; ", power.LastMethods)})");
            power.Set(PortPower.On);
            Say($"switch {port}: on confirmed ({string.Join("; ", power.LastMethods)})");
            Say("done");
            return 0;
        }
        catch (RigInfrastructureException e)
        {
            Say($"switch {port}: refused ({e.Fault}): {e.Message}");
            Say("done");
            return 2;
        }
    }
}
