using System.Runtime.InteropServices;

namespace Ppn.Rig.Power.Usb;

/// <summary>
/// libusb-1.0 (Debian package libusb-1.0-0), bound with source-generated LibraryImport: only the calls a hub
/// power switch needs. Signatures from libusb.h 1.0.26. Test-rig only: the node binary never loads it.
/// </summary>
internal static unsafe partial class LibUsb
{
    public const string Lib = "libusb-1.0.so.0";

    /// <summary>struct libusb_device_descriptor (libusb.h; USB 2.0 Table 9-8), 18 bytes, naturally aligned.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct DeviceDescriptor
    {
        public byte bLength;
        public byte bDescriptorType;
        public ushort bcdUSB;
        public byte bDeviceClass;
        public byte bDeviceSubClass;
        public byte bDeviceProtocol;
        public byte bMaxPacketSize0;
        public ushort idVendor;
        public ushort idProduct;
        public ushort bcdDevice;
        public byte iManufacturer;
        public byte iProduct;
        public byte iSerialNumber;
        public byte bNumConfigurations;
    }

    [LibraryImport(Lib)]
    public static partial int libusb_init(nint* context);

    [LibraryImport(Lib)]
    public static partial void libusb_exit(nint context);

    [LibraryImport(Lib)]
    public static partial nint libusb_get_device_list(nint context, nint** list);

    [LibraryImport(Lib)]
    public static partial void libusb_free_device_list(nint* list, int unrefDevices);

    [LibraryImport(Lib)]
    public static partial byte libusb_get_bus_number(nint device);

    [LibraryImport(Lib)]
    public static partial int libusb_get_port_numbers(nint device, byte* ports, int length);

    [LibraryImport(Lib)]
    public static partial int libusb_get_device_descriptor(nint device, DeviceDescriptor* descriptor);

    [LibraryImport(Lib)]
    public static partial nint libusb_ref_device(nint device);

    [LibraryImport(Lib)]
    public static partial void libusb_unref_device(nint device);

    [LibraryImport(Lib)]
    public static partial int libusb_open(nint device, nint* handle);

    [LibraryImport(Lib)]
    public static partial void libusb_close(nint handle);

    [LibraryImport(Lib)]
    public static partial int libusb_control_transfer(nint handle, byte requestType, byte request, ushort value, ushort index,
        byte* data, ushort length, uint timeoutMs);

    [LibraryImport(Lib)]
    public static partial nint libusb_error_name(int code);

    public static string ErrorName(int code) => Marshal.PtrToStringUTF8(libusb_error_name(code)) ?? "LIBUSB_ERROR";
}
