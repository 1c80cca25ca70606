using System.Net;
using Ppn.Rig.Net;

namespace Ppn.Rig.Tests;

public class Eui64Tests
{
    [Theory]
    // RFC 4291 App. A: insert FFFE, invert the universal/local bit (0x02 of the first octet).
    [InlineData("52:54:00:12:34:56", "fe80::5054:ff:fe12:3456")]
    [InlineData("00:00:5e:00:53:01", "fe80::200:5eff:fe00:5301")] // RFC 7042 documentation MAC, u-bit 0 → 1
    [InlineData("02:00:00:00:00:00", "fe80::ff:fe00:0")]
    [InlineData("ff:ff:ff:ff:ff:ff", "fe80::fdff:ffff:feff:ffff")]
    public void Link_local_address_is_fe80_plus_modified_eui64_of_the_mac(string mac, string expected)
    {
        Assert.Equal(IPAddress.Parse(expected), Eui64.LinkLocalFromMac(mac));
    }

    [Fact]
    public void Interface_id_of_the_rfc_example_has_fffe_in_the_middle_and_the_u_bit_flipped()
    {
        Span<byte> id = stackalloc byte[8];
        Eui64.InterfaceIdFromMac([0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE], id);
        Assert.Equal(new byte[] { 0x36, 0x56, 0x78, 0xFF, 0xFE, 0x9A, 0xBC, 0xDE }, id.ToArray());
    }

    [Fact]
    public void A_mac_that_is_not_six_bytes_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Eui64.LinkLocalFromMac(new byte[] { 1, 2, 3 }));
        Assert.Throws<FormatException>(() => Eui64.LinkLocalFromMac("52:54:00:12:34"));
    }

    [Fact]
    public void Emulated_macs_are_qemu_prefixed_unicast_and_locally_administered()
    {
        var mac = MacAddress.NewEmulated().GetAddressBytes();
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00 }, mac[..3]);
        Assert.Equal(0, mac[0] & 0x01); // unicast
        Assert.Equal(0x02, mac[0] & 0x02); // locally administered
    }

    [Fact]
    public void Mac_formats_in_the_colon_form_qemu_accepts()
    {
        Assert.Equal("52:54:00:0a:bc:de", MacAddress.Format(MacAddress.Parse("52-54-00-0A-BC-DE")));
    }
}
