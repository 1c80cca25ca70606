using System.Net;
using System.Net.NetworkInformation;

namespace Ppn.Rig.Net;

/// <summary>
/// The IPv6 link-local address a node forms from its MAC when it does not disable EUI-64 generation
/// (RFC 4291 §2.5.1 and Appendix A: insert FF:FE in the middle, invert the universal/local bit).
/// </summary>
public static class Eui64
{
    /// <summary>The modified EUI-64 interface identifier of a 48-bit MAC.</summary>
    public static void InterfaceIdFromMac(ReadOnlySpan<byte> mac, Span<byte> interfaceId)
    {
        if (mac.Length != 6)
        {
            throw new ArgumentException($"a MAC has 6 bytes, this one has {mac.Length}", nameof(mac));
        }
        if (interfaceId.Length < 8)
        {
            throw new ArgumentException("the interface identifier needs 8 bytes", nameof(interfaceId));
        }
        interfaceId[0] = (byte)(mac[0] ^ 0x02); // RFC 4291 App. A: complement the "u" bit
        interfaceId[1] = mac[1];
        interfaceId[2] = mac[2];
        interfaceId[3] = 0xFF;
        interfaceId[4] = 0xFE;
        interfaceId[5] = mac[3];
        interfaceId[6] = mac[4];
        interfaceId[7] = mac[5];
    }

    /// <summary>fe80::/64 + modified EUI-64 of <paramref name="mac"/>.</summary>
    public static IPAddress LinkLocalFromMac(ReadOnlySpan<byte> mac)
    {
        Span<byte> address = stackalloc byte[16];
        address.Clear();
        address[0] = 0xFE;
        address[1] = 0x80;
        InterfaceIdFromMac(mac, address[8..]);
        return new IPAddress(address);
    }

    public static IPAddress LinkLocalFromMac(PhysicalAddress mac) => LinkLocalFromMac(mac.GetAddressBytes());

    /// <summary>Accepts 52:54:00:12:34:56, 52-54-00-12-34-56 or 525400123456.</summary>
    public static IPAddress LinkLocalFromMac(string mac) => LinkLocalFromMac(MacAddress.Parse(mac));
}

/// <summary>MAC helpers for emulated NICs.</summary>
public static class MacAddress
{
    /// <summary>
    /// A random MAC under QEMU's 52:54:00 prefix (locally administered, unicast) so two nodes of one run
    /// never collide on the rig's link.
    /// </summary>
    public static PhysicalAddress NewEmulated()
    {
        Span<byte> mac = stackalloc byte[6];
        mac[0] = 0x52;
        mac[1] = 0x54;
        mac[2] = 0x00;
        System.Security.Cryptography.RandomNumberGenerator.Fill(mac[3..]);
        return new PhysicalAddress(mac.ToArray());
    }

    public static PhysicalAddress Parse(string text)
    {
        var hex = text.Replace(":", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (hex.Length != 12 || !hex.All(Uri.IsHexDigit))
        {
            throw new FormatException($"'{text}' is not a 48-bit MAC address (expected 52:54:00:12:34:56)");
        }
        return new PhysicalAddress(Convert.FromHexString(hex));
    }

    /// <summary>Strict colon form only (what rig files hold): six hex pairs separated by ':'.</summary>
    public static bool TryParse(string text, out PhysicalAddress mac)
    {
        mac = PhysicalAddress.None;
        var parts = text.Split(':');
        if (parts.Length != 6 || parts.Any(p => p.Length != 2 || !p.All(Uri.IsHexDigit)))
        {
            return false;
        }
        mac = new PhysicalAddress(Convert.FromHexString(string.Concat(parts)));
        return true;
    }

    /// <summary>Colon form as QEMU's <c>mac=</c> property and <c>ip link</c> print it.</summary>
    public static string Format(PhysicalAddress mac) =>
        string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}
