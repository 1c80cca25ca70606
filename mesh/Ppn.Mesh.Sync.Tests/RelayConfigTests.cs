using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

public class RelayConfigTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public void A_relay_file_with_sync_has_its_interface_no_spokes_and_the_authority()
    {
        using var config = RelayConfig.Parse($"[Interface]\nPrivateKey = {Key}\nAddress = 10.8.0.1/24\nListenPort = 51820\nForwarding = true\n\n[Sync]\nAuthority = 192.0.2.10:8091   # the authority\nState = /var/lib/ppn/peerset\n");
        Assert.Empty(config.Mesh.Peers);
        Assert.True(config.Mesh.Forwarding);
        Assert.Equal("192.0.2.10:8091", config.Authority!.ToString());
        Assert.Null(config.Listen);
    }

    [Fact]
    public void Without_sync_the_file_is_the_static_relay()
    {
        using var config = RelayConfig.Parse($"[Interface]\nPrivateKey = {Key}\nAddress = 10.8.0.1/24\n[Peer]\nPublicKey = {Key}\nAllowedIPs = 10.8.0.254/32\n");
        Assert.Null(config.Authority);
        Assert.Single(config.Mesh.Peers);
    }

    [Theory]
    [InlineData("[Sync]\nAuthority = relay.example:8091\n", "relay.conf:7: Authority must be ADDRESS:PORT")]
    [InlineData("[Sync]\nServer = 192.0.2.1:8091\n", "relay.conf:7: unknown key in [Sync]")]
    [InlineData("[Sync]\n", "[Sync] without Authority")]
    [InlineData("[Sync]\nAuthority = 192.0.2.1:8091\n[Bogus]\n", "relay.conf:8: unknown section [Bogus]")]
    public void A_bad_sync_section_is_an_error_with_file_and_line(string sync, string expected)
    {
        var e = Assert.Throws<FormatException>(() => RelayConfig.Parse($"[Interface]\nPrivateKey = {Key}\nAddress = 10.8.0.1/24\nForwarding = true\n\n{sync}"));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain(Key, e.Message);
    }
}
