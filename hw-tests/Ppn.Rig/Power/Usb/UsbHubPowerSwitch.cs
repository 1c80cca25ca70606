using System.Globalization;
using Ppn.Rig.Model;

namespace Ppn.Rig.Power.Usb;

/// <summary>
/// Per-port power of a USB hub, in-process: the hub found by its location (bus + port path), its hub
/// descriptor read and its wHubCharacteristics checked for per-port power switching (a ganged hub is refused:
/// switching "one" port would cut every board on it), the port switched through the kernel's sysfs
/// <c>disable</c> file when there is one (Linux ≥ 6.0; the hub driver then keeps the port off instead of
/// fighting us) and otherwise with SET_FEATURE / CLEAR_FEATURE(PORT_POWER), on both halves of a USB 3 hub
/// (its USB 2 and SuperSpeed twins sit at the same port path on two buses and VBUS stays on while either
/// port is powered), and every change confirmed by reading GET_STATUS back within a bound.
/// </summary>
public sealed class UsbHubPowerSwitch : IPowerSwitch
{
    public const string DefaultSysfsRoot = "/sys/bus/usb/devices";
    private static readonly TimeSpan TransferTimeout = TimeSpan.FromSeconds(5);

    private readonly IUsbBus _bus;
    private readonly string _sysfsRoot;
    private readonly TimeSpan _confirmWithin;
    private readonly List<Target> _targets;

    private sealed record Target(UsbDevice Hub, HubDescriptor Descriptor);

    public UsbHubPowerSwitch(PowerPort port, IUsbBus bus, string sysfsRoot = DefaultSysfsRoot, TimeSpan? confirmWithin = null)
    {
        Port = port;
        _bus = bus;
        _sysfsRoot = sysfsRoot;
        _confirmWithin = confirmWithin ?? TimeSpan.FromSeconds(3);
        _targets = Locate();
    }

    public PowerPort Port { get; }

    /// <summary>The hubs switched together: the one named, then its USB 2/USB 3 twin if it has one.</summary>
    public IReadOnlyList<UsbDevice> Hubs => _targets.Select(t => t.Hub).ToArray();

    /// <summary>How the last change was made, per hub ("sysfs" or "control transfer").</summary>
    public IReadOnlyList<string> LastMethods { get; private set; } = [];

    public string Describe => $"USB hub {string.Join(" + ", Hubs)} port {Port.Port}";

    private List<Target> Locate()
    {
        var devices = _bus.Devices();
        var hub = devices.FirstOrDefault(d => d.IsHub && d.Bus == Port.Bus && d.PortPath.SequenceEqual(Port.PortPath));
        if (hub is null)
        {
            var hubs = devices.Where(d => d.IsHub && d.PortPath.Count > 0).Select(d => d.ToString()).ToArray();
            throw new RigInfrastructureException(RigFault.HubNotFound,
                $"no USB hub at {Port.HubLocation} (for power port {Port}); hubs here: {(hubs.Length == 0 ? "none" : string.Join(", ", hubs))}. " +
                "Check the cable and `lsusb -t`, then the rig file's power: entry");
        }
        var targets = new List<Target> { Check(hub) };
        // The other half of a USB 3 hub: same place in the tree, same vendor, the other speed, another bus.
        foreach (var twin in devices.Where(d => d.IsHub && d.Bus != hub.Bus && d.PortPath.SequenceEqual(hub.PortPath)
                     && d.VendorId == hub.VendorId && d.IsSuperSpeed != hub.IsSuperSpeed))
        {
            targets.Add(Check(twin));
        }
        return targets;
    }

    private Target Check(UsbDevice hub)
    {
        Span<byte> buffer = stackalloc byte[64];
        byte type = hub.IsSuperSpeed ? HubDescriptor.Usb3Type : HubDescriptor.Usb2Type;
        int n;
        try
        {
            using var control = _bus.Open(hub);
            n = control.ControlTransfer(HubRequests.GetHubDescriptorType, HubRequests.GetDescriptor, (ushort)(type << 8), 0, buffer, TransferTimeout);
        }
        catch (IOException e)
        {
            throw new RigInfrastructureException(RigFault.HubNotFound, $"hub {hub}: cannot read its hub descriptor: {e.Message} (root? udev rule?)", e);
        }
        if (!HubDescriptor.TryParse(buffer[..n], out var descriptor))
        {
            throw new RigInfrastructureException(RigFault.HubNotSwitchable,
                $"hub {hub}: its hub descriptor ({Convert.ToHexString(buffer[..n])}) is not a valid type 0x{type:X2} descriptor");
        }
        string chars = descriptor.Characteristics.ToString("x4", CultureInfo.InvariantCulture);
        switch (descriptor.Switching)
        {
            case PowerSwitchingMode.Ganged:
                throw new RigInfrastructureException(RigFault.HubNotSwitchable,
                    $"hub {hub} switches the power of all its ports together (ganged; wHubCharacteristics 0x{chars}): " +
                    $"cutting port {Port.Port} would cut every board on it. Use a hub with per-port power switching (see uhubctl's list of compatible hubs)");
            case PowerSwitchingMode.None:
                throw new RigInfrastructureException(RigFault.HubNotSwitchable,
                    $"hub {hub} cannot switch port power at all (wHubCharacteristics 0x{chars}); use a hub with per-port power switching");
        }
        if (Port.Port > descriptor.Ports)
        {
            throw new RigInfrastructureException(RigFault.HubNotFound, $"hub {hub} has {descriptor.Ports} ports; there is no port {Port.Port}");
        }
        return new Target(hub, descriptor);
    }

    /// <summary>On when the port is powered on any half of the hub (VBUS is on while either is).</summary>
    public PortPower Status() => _targets.Any(IsPowered) ? PortPower.On : PortPower.Off;

    private bool IsPowered(Target target)
    {
        Span<byte> status = stackalloc byte[4];
        try
        {
            using var control = _bus.Open(target.Hub);
            int n = control.ControlTransfer(HubRequests.PortStatusType, HubRequests.GetStatus, 0, (ushort)Port.Port, status, TransferTimeout);
            if (n < 4)
            {
                throw new UsbException("GET_STATUS", n, "short port status");
            }
        }
        catch (IOException e)
        {
            throw new RigInfrastructureException(RigFault.PowerSwitchFailed, $"hub {target.Hub}: GET_STATUS of port {Port.Port} failed: {e.Message}", e);
        }
        ushort wPortStatus = (ushort)(status[0] | (status[1] << 8));
        return HubRequests.IsPowered(wPortStatus, target.Descriptor.SuperSpeed);
    }

    /// <summary>The kernel's per-port switch: /sys/bus/usb/devices/&lt;hub&gt;:1.0/&lt;hub&gt;-port&lt;N&gt;/disable (Linux ≥ 6.0).</summary>
    public string SysfsDisablePath(UsbDevice hub) =>
        Path.Combine(_sysfsRoot, $"{hub.Location}:1.0", string.Create(CultureInfo.InvariantCulture, $"{hub.Location}-port{Port.Port}"), "disable");

    public void Set(PortPower power)
    {
        var methods = new List<string>();
        foreach (var target in _targets)
        {
            var disable = SysfsDisablePath(target.Hub);
            if (File.Exists(disable))
            {
                try
                {
                    File.WriteAllText(disable, power == PortPower.Off ? "1" : "0");
                    methods.Add($"{target.Hub.Location}: sysfs");
                    continue;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    methods.Add($"{target.Hub.Location}: sysfs refused ({e.Message}), control transfer");
                }
            }
            else
            {
                methods.Add($"{target.Hub.Location}: control transfer");
            }
            try
            {
                using var control = _bus.Open(target.Hub);
                control.ControlTransfer(HubRequests.SetPortFeatureType,
                    power == PortPower.Off ? HubRequests.ClearFeature : HubRequests.SetFeature,
                    HubRequests.PortPowerFeature, (ushort)Port.Port, [], TransferTimeout);
            }
            catch (IOException e)
            {
                throw new RigInfrastructureException(RigFault.PowerSwitchFailed,
                    $"hub {target.Hub}: {(power == PortPower.Off ? "CLEAR" : "SET")}_FEATURE(PORT_POWER) on port {Port.Port} failed: {e.Message}", e);
            }
        }
        LastMethods = methods;
        // Read back: the change counts only once every half of the hub reports it.
        bool wantPowered = power == PortPower.On;
        if (!BoundedWait.TryUntil(() => _targets.All(t => IsPowered(t) == wantPowered), _confirmWithin, TimeSpan.FromMilliseconds(50)))
        {
            var stuck = _targets.Where(t => IsPowered(t) != wantPowered).Select(t => t.Hub.Location);
            throw new RigInfrastructureException(RigFault.PowerNotConfirmed,
                $"USB hub port {Port}: asked {power.ToString().ToLowerInvariant()}, but PORT_POWER still reads {(wantPowered ? "off" : "on")} on {string.Join(", ", stuck)} " +
                $"after {BoundedWait.Format(_confirmWithin)} ({string.Join("; ", methods)})");
        }
    }
}
