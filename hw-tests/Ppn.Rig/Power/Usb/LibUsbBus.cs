using Ppn.Rig.Model;

namespace Ppn.Rig.Power.Usb;

/// <summary>The host's USB bus through libusb-1.0: enumeration, device descriptors, control transfers.</summary>
public sealed unsafe class LibUsbBus : IUsbBus
{
    private readonly nint _context;
    private readonly object _gate = new();
    private readonly Dictionary<UsbDevice, nint> _handles = [];
    private bool _disposed;

    private LibUsbBus(nint context) => _context = context;

    /// <summary>libusb_init; a missing library is a rig infrastructure fault that says which package to install.</summary>
    public static LibUsbBus Open()
    {
        nint context;
        int rc;
        try
        {
            rc = LibUsb.libusb_init(&context);
        }
        catch (DllNotFoundException e)
        {
            throw new RigInfrastructureException(RigFault.LibraryMissing,
                $"{LibUsb.Lib} not found: install the Debian package libusb-1.0-0 (scripts/install-deps.sh)", e);
        }
        if (rc != 0)
        {
            throw new RigInfrastructureException(RigFault.HubNotFound, $"libusb_init failed: {LibUsb.ErrorName(rc)} ({rc})");
        }
        return new LibUsbBus(context);
    }

    public IReadOnlyList<UsbDevice> Devices()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_gate)
        {
            foreach (var h in _handles.Values)
            {
                LibUsb.libusb_unref_device(h);
            }
            _handles.Clear();
            nint* list;
            nint count = LibUsb.libusb_get_device_list(_context, &list);
            if (count < 0)
            {
                throw new UsbException("libusb_get_device_list", (int)count, LibUsb.ErrorName((int)count));
            }
            var devices = new List<UsbDevice>((int)count);
            try
            {
                byte* ports = stackalloc byte[8]; // USB 3.2 §10.1.3: at most 7 hubs between host and device
                for (nint i = 0; i < count; i++)
                {
                    nint dev = list[i];
                    LibUsb.DeviceDescriptor d;
                    if (LibUsb.libusb_get_device_descriptor(dev, &d) != 0)
                    {
                        continue;
                    }
                    int depth = LibUsb.libusb_get_port_numbers(dev, ports, 8);
                    var path = new int[Math.Max(depth, 0)];
                    for (int k = 0; k < path.Length; k++)
                    {
                        path[k] = ports[k];
                    }
                    var device = new UsbDevice(LibUsb.libusb_get_bus_number(dev), path, d.idVendor, d.idProduct, d.bcdUSB, d.bDeviceClass);
                    _handles[device] = LibUsb.libusb_ref_device(dev);
                    devices.Add(device);
                }
            }
            finally
            {
                LibUsb.libusb_free_device_list(list, 1);
            }
            return devices;
        }
    }

    public IUsbControl Open(UsbDevice device)
    {
        lock (_gate)
        {
            if (!_handles.TryGetValue(device, out var dev))
            {
                throw new UsbException("libusb_open", -4, "LIBUSB_ERROR_NO_DEVICE (not in the last enumeration)");
            }
            nint handle;
            int rc = LibUsb.libusb_open(dev, &handle);
            if (rc != 0)
            {
                throw new UsbException($"libusb_open({device.Location})", rc, LibUsb.ErrorName(rc));
            }
            return new Control(handle, device.Location);
        }
    }

    private sealed class Control(nint handle, string location) : IUsbControl
    {
        private bool _closed;

        public int ControlTransfer(byte requestType, byte request, ushort value, ushort index, Span<byte> data, TimeSpan timeout)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            fixed (byte* p = data)
            {
                int rc = LibUsb.libusb_control_transfer(handle, requestType, request, value, index, p, (ushort)data.Length,
                    (uint)Math.Max(1, timeout.TotalMilliseconds));
                return rc >= 0 ? rc : throw new UsbException($"control transfer to {location} (request {request}, wIndex {index})", rc, LibUsb.ErrorName(rc));
            }
        }

        public void Dispose()
        {
            if (!_closed)
            {
                _closed = true;
                LibUsb.libusb_close(handle);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        lock (_gate)
        {
            foreach (var h in _handles.Values)
            {
                LibUsb.libusb_unref_device(h);
            }
            _handles.Clear();
        }
        LibUsb.libusb_exit(_context);
    }
}
