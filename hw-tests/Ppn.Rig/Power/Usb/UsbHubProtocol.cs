using System.Buffers.Binary;

namespace Ppn.Rig.Power.Usb;

/// <summary>USB 2.0 §11.23.2.1 wHubCharacteristics D1..D0: how the hub switches port power.</summary>
public enum PowerSwitchingMode
{
    /// <summary>00b: all ports at once (ganged); switching one port cuts them all.</summary>
    Ganged,
    /// <summary>01b: each port on its own: what the rig needs.</summary>
    PerPort,
    /// <summary>1Xb: no power switching (USB 1.0 hubs; QEMU's usb-hub reports this).</summary>
    None,
}

/// <summary>
/// A hub class descriptor: USB 2.0 (type 0x29, §11.23.2.1) or SuperSpeed (type 0x2A, USB 3.2 §10.15.2.1).
/// Both begin bLength, bDescriptorType, bNbrPorts, wHubCharacteristics (little-endian), bPwrOn2PwrGood.
/// </summary>
public readonly record struct HubDescriptor(bool SuperSpeed, int Ports, ushort Characteristics, int PowerOnToPowerGoodMs)
{
    public const byte Usb2Type = 0x29;
    public const byte Usb3Type = 0x2A;

    public PowerSwitchingMode Switching => (Characteristics & 0x3) switch
    {
        0 => PowerSwitchingMode.Ganged,
        1 => PowerSwitchingMode.PerPort,
        _ => PowerSwitchingMode.None,
    };

    /// <summary>Never throws; false for short, mistyped or inconsistent bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out HubDescriptor descriptor)
    {
        descriptor = default;
        // USB 2.0: 7 fixed bytes + DeviceRemovable + PortPwrCtrlMask (>= 1 each); USB 3: 12 bytes.
        if (bytes.Length < 9 || bytes[0] > bytes.Length || bytes[0] < 9)
        {
            return false;
        }
        if (bytes[1] is not (Usb2Type or Usb3Type))
        {
            return false;
        }
        bool superSpeed = bytes[1] == Usb3Type;
        int ports = bytes[2];
        if (ports == 0 || (superSpeed && (bytes[0] < 12 || ports > 15)))
        {
            return false;
        }
        descriptor = new HubDescriptor(superSpeed, ports, BinaryPrimitives.ReadUInt16LittleEndian(bytes[3..5]), bytes[5] * 2);
        return true;
    }
}

/// <summary>The hub class requests the rig sends on endpoint 0 (USB 2.0 §11.24.2, Table 11-15).</summary>
public static class HubRequests
{
    // bmRequestType: direction | type (class = 0x20) | recipient (device 0, other = port 3).
    public const byte GetHubDescriptorType = 0xA0;
    public const byte PortStatusType = 0xA3;
    public const byte SetPortFeatureType = 0x23;

    public const byte GetStatus = 0;
    public const byte ClearFeature = 1;
    public const byte SetFeature = 3;
    public const byte GetDescriptor = 6;

    /// <summary>Feature selector PORT_POWER (Table 11-17).</summary>
    public const ushort PortPowerFeature = 8;

    /// <summary>wPortStatus PORT_POWER: bit 8 on USB 2.0 hubs (Table 11-21), bit 9 on SuperSpeed hubs (USB 3.2 Table 10-13).</summary>
    public static bool IsPowered(ushort portStatus, bool superSpeed) =>
        (portStatus & (superSpeed ? 0x0200 : 0x0100)) != 0;
}
