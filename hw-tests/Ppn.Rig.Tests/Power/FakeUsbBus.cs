using Ppn.Rig.Power.Usb;

namespace Ppn.Rig.Tests.Power;

/// <summary>
/// A USB bus of fake hubs that answer hub class requests like the spec says (GET_DESCRIPTOR, GET_STATUS,
/// SET/CLEAR_FEATURE PORT_POWER). When given a fake sysfs root, a hub also behaves like the kernel's hub
/// driver: a port whose sysfs <c>disable</c> file says 1 is unpowered.
/// </summary>
internal sealed class FakeUsbBus(string? sysfsRoot = null) : IUsbBus
{
    public sealed class Hub(UsbDevice device, byte[] descriptor)
    {
        public UsbDevice Device { get; } = device;
        public byte[] Descriptor { get; } = descriptor;
        public Dictionary<int, bool> Powered { get; } = [];
        public bool IgnoresPowerRequests { get; init; }

        /// <summary>GET_STATUS answers this many bytes (a misbehaving hub); null: the spec's 4.</summary>
        public int? StatusBytes { get; set; }
        public List<string> Requests { get; } = [];
    }

    private readonly List<Hub> _hubs = [];
    private readonly List<UsbDevice> _others = [];

    public Hub AddHub(UsbDevice device, byte[] descriptor, int ports)
    {
        var hub = new Hub(device, descriptor);
        for (int p = 1; p <= ports; p++)
        {
            hub.Powered[p] = true;
        }
        _hubs.Add(hub);
        return hub;
    }

    public Hub AddHub(Hub hub)
    {
        _hubs.Add(hub);
        return hub;
    }

    public void AddDevice(UsbDevice device) => _others.Add(device);

    public IReadOnlyList<UsbDevice> Devices() => _hubs.Select(h => h.Device).Concat(_others).ToArray();

    public IUsbControl Open(UsbDevice device) =>
        new Control(this, _hubs.FirstOrDefault(h => ReferenceEquals(h.Device, device)) ?? throw new UsbException("libusb_open", -4, "LIBUSB_ERROR_NO_DEVICE"));

    public void Dispose()
    {
    }

    private bool IsPowered(Hub hub, int port)
    {
        var disable = sysfsRoot is null ? null : Path.Combine(sysfsRoot, $"{hub.Device.Location}:1.0", $"{hub.Device.Location}-port{port}", "disable");
        if (disable is not null && File.Exists(disable) && File.ReadAllText(disable).Trim() == "1")
        {
            return false;
        }
        return hub.Powered[port];
    }

    private sealed class Control(FakeUsbBus bus, Hub hub) : IUsbControl
    {
        public int ControlTransfer(byte requestType, byte request, ushort value, ushort index, Span<byte> data, TimeSpan timeout)
        {
            hub.Requests.Add($"{requestType:X2} {request} {value:X4} {index}");
            switch (requestType, request)
            {
                case (HubRequests.GetHubDescriptorType, HubRequests.GetDescriptor):
                    if (value >> 8 != hub.Descriptor[1])
                    {
                        throw new UsbException("control transfer", -9, "LIBUSB_ERROR_PIPE"); // a stall, as a real hub answers a wrong type
                    }
                    int n = Math.Min(data.Length, hub.Descriptor.Length);
                    hub.Descriptor.AsSpan(0, n).CopyTo(data);
                    return n;
                case (HubRequests.PortStatusType, HubRequests.GetStatus):
                    bool superSpeed = hub.Descriptor[1] == HubDescriptor.Usb3Type;
                    ushort status = (ushort)(0x0003 | (bus.IsPowered(hub, index) ? (superSpeed ? 0x0200 : 0x0100) : 0));
                    data[0] = (byte)status;
                    data[1] = (byte)(status >> 8);
                    data[2] = 0;
                    data[3] = 0;
                    return hub.StatusBytes ?? 4;
                case (HubRequests.SetPortFeatureType, HubRequests.SetFeature or HubRequests.ClearFeature) when value == HubRequests.PortPowerFeature:
                    if (!hub.IgnoresPowerRequests)
                    {
                        hub.Powered[index] = request == HubRequests.SetFeature;
                    }
                    return 0;
                default:
                    throw new UsbException("control transfer", -9, "LIBUSB_ERROR_PIPE");
            }
        }

        public void Dispose()
        {
        }
    }
}
