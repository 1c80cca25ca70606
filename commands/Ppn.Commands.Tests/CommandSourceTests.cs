using System.Net;
using Xunit;

namespace Ppn.Commands.Tests;

public class CommandSourceTests
{
    [Theory]
    [InlineData("192.0.2.7", 8090)]
    [InlineData("10.8.0.1", 1)]
    [InlineData("255.255.255.255", 65535)]
    [InlineData("0.0.0.0", 0)]
    public void An_IPv4_source_is_the_mapped_IPv6_address(string address, int port)
    {
        var ip = IPAddress.Parse(address);
        var fromBytes = CommandSource.FromIPv4(ip.GetAddressBytes(), (ushort)port);
        Assert.Equal(CommandSource.From(new IPEndPoint(ip, port)), fromBytes);
        Assert.Equal(ip, fromBytes.Address);
        Assert.Equal(port, fromBytes.Port);
        Assert.Equal($"{address}:{port}", fromBytes.ToString());
    }

    [Fact]
    public void An_IPv6_source_keeps_its_address()
    {
        var ip = IPAddress.Parse("fe80::5054:ff:fef4:f7c7");
        var source = new CommandSource(ip.GetAddressBytes(), 9443);
        Assert.Equal(ip, source.Address);
        Assert.Equal("[fe80::5054:ff:fef4:f7c7]:9443", source.ToString());
    }
}
