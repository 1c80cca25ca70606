namespace Ppn.Rig.Power.Usb;

/// <summary>A device as libusb lists it: where it sits (bus, port path) and what its device descriptor says.</summary>
public sealed record UsbDevice(int Bus, IReadOnlyList<int> PortPath, ushort VendorId, ushort ProductId, ushort BcdUsb, byte DeviceClass)
{
    public const byte HubClass = 9;

    public bool IsHub => DeviceClass == HubClass;

    /// <summary>USB 3.x: the SuperSpeed half of a hub (its descriptor is type 0x2A).</summary>
    public bool IsSuperSpeed => BcdUsb >= 0x0300;

    /// <summary>Linux's name for the device's place: bus-port.port (1-1.4), or usbN for a root hub; the sysfs directory name.</summary>
    public string Location => PortPath.Count == 0 ? $"usb{Bus}" : $"{Bus}-{string.Join('.', PortPath)}";

    public override string ToString() => $"{Location} ({VendorId:x4}:{ProductId:x4}, USB {BcdUsb >> 8:x}.{BcdUsb & 0xFF:x2})";
}

/// <summary>The USB bus as the rig reaches it: libusb on a bench host, a fake in unit tests.</summary>
public interface IUsbBus : IDisposable
{
    IReadOnlyList<UsbDevice> Devices();

    /// <summary>Opens a device for control transfers on endpoint 0 (no interface claimed: hub requests need none).</summary>
    IUsbControl Open(UsbDevice device);
}

public interface IUsbControl : IDisposable
{
    /// <summary>One control transfer; returns the bytes transferred, throws <see cref="UsbException"/> on error.</summary>
    int ControlTransfer(byte requestType, byte request, ushort value, ushort index, Span<byte> data, TimeSpan timeout);
}

public sealed class UsbException(string call, int code, string name)
    : IOException($"{call} failed: {name} ({code})")
{
    public int Code { get; } = code;
}
