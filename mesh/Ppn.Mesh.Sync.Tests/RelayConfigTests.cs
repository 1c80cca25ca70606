using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

public class RelayConfigTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly Func<WireGuardPrivateKey> Identity = () => WireGuardPrivateKey.TryParseBase64(Key, out var k) ? k : throw new InvalidOperationException();

    [Fact]
    public void A_relay_file_with_sync_has_its_interface_no_spokes_and_the_authority()
    {
        int asked = 0;
        using var config = RelayConfig.Parse("[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820\nForwarding = true\n\n[Sync]\nAuthority = 192.0.2.10:8091   # the authority\nState = /var/lib/ppn/peerset\n",
            identity: () => { asked++; return Identity(); });
        Assert.Equal(1, asked);
        Assert.Equal(Key, config.Mesh.PrivateKey.RevealBase64());
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
        var e = Assert.Throws<FormatException>(() => RelayConfig.Parse($"[Interface]\n# the relay's own identity\nAddress = 10.8.0.1/24\nForwarding = true\n\n{sync}", identity: Identity));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain(Key, e.Message);
    }

    [Fact]
    public void A_syncing_relay_file_that_carries_a_private_key_is_refused_and_the_key_is_not_echoed()
    {
        var e = Assert.Throws<FormatException>(() => RelayConfig.Parse($"[Interface]\nAddress = 10.8.0.1/24\nprivatekey = {Key}\n\n[Sync]\nAuthority = 192.0.2.1:8091\n", identity: Identity));
        Assert.StartsWith("relay.conf:3: a syncing relay's key is its own identity", e.Message);
        Assert.Contains("remove PrivateKey", e.Message);
        Assert.DoesNotContain(Key, e.Message);
    }

    [Fact]
    public void Without_a_key_in_the_file_and_without_an_identity_the_file_is_an_error()
    {
        var e = Assert.Throws<FormatException>(() => RelayConfig.Parse("[Interface]\nAddress = 10.8.0.1/24\n"));
        Assert.Contains("[Interface] needs PrivateKey", e.Message);
    }

    [Fact]
    public void A_static_relay_without_a_key_takes_its_identity()
    {
        using var config = RelayConfig.Parse($"[Interface]\nAddress = 10.8.0.1/24\n[Peer]\nPublicKey = {Key}\nAllowedIPs = 10.8.0.254/32\n", identity: Identity);
        Assert.Null(config.Authority);
        Assert.Equal(Key, config.Mesh.PrivateKey.RevealBase64());
    }
}
