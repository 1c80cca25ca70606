using System.Text;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Tests;

public class TextFormatTests
{
    private const string HubPublic = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
    private const string SpokePrivate = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";

    [Fact]
    public void A_spoke_config_in_wg_quick_format_parses()
    {
        using var config = MeshConfigFile.Parse($"""
            # spoke 10.8.0.2
            [Interface]
            PrivateKey = {SpokePrivate}
            Address = 10.8.0.2/24
            MTU = 1420

            [Peer]
            PublicKey = {HubPublic}
            Endpoint = 192.168.77.1:51820
            AllowedIPs = 10.8.0.0/24
            PersistentKeepalive = 25
            """);
        Assert.Equal("10.8.0.2/24", config.Address.ToString());
        var hub = Assert.Single(config.Peers);
        Assert.Equal(HubPublic, hub.PublicKey.ToBase64());
        Assert.Equal("192.168.77.1:51820", hub.Endpoint!.ToString());
        Assert.Equal(25, hub.PersistentKeepaliveSeconds);
        Assert.False(config.Forwarding);
    }

    [Theory]
    [InlineData("[Interface]\nAddress = 10.8.0.2/24\n", "needs PrivateKey")]
    [InlineData("[Interface]\nPrivateKey = " + SpokePrivate + "\n", "needs Address")]
    [InlineData("[Interface]\nPrivateKey = " + SpokePrivate + "\nAddress = 10.8.0.2/24\nTable = off\n", "unknown key 'Table'")]
    [InlineData("[Interface]\nPrivateKey = " + SpokePrivate + "\nAddress = 10.8.0.2/24\n[Peer]\nPublicKey = " + HubPublic + "\nEndpoint = hub.example:51820\n", "no host names")]
    [InlineData("[Interface]\nPrivateKey = tooshort\nAddress = 10.8.0.2/24\n", "PrivateKey is not")]
    public void Bad_config_is_a_format_error_naming_the_line(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => MeshConfigFile.Parse(text, "spoke.conf"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("spoke.conf:", e.Message);
        Assert.DoesNotContain(SpokePrivate, e.Message);
    }

    [Fact]
    public void Uapi_set_request_has_hex_keys_and_the_documented_keys()
    {
        Assert.True(WireGuardPrivateKey.TryParseBase64(SpokePrivate, out var key));
        using var change = new DeviceChange { PrivateKey = key, ListenPort = 51820, ReplacePeers = true };
        var peer = new PeerChange { PublicKey = WireGuardKey.ParseBase64(HubPublic), Endpoint = System.Net.IPEndPoint.Parse("192.168.77.1:51820"), PersistentKeepaliveSeconds = 25, ReplaceAllowedIPs = true };
        peer.AllowedIPs.Add(IpPrefix.Parse("10.8.0.0/24"));
        change.Peers.Add(peer);
        change.Peers.Add(new PeerChange { PublicKey = new WireGuardKey(new byte[32]), Remove = true });
        var text = Encoding.ASCII.GetString(UapiProtocol.EncodeSet(change));
        Assert.Equal(
            "set=1\n" +
            "private_key=c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669\n" +
            "listen_port=51820\nreplace_peers=true\n" +
            "public_key=1c8828f7137324c58b2804928624ea2326f1674537c062e251e2753ca7fcca4c\n" +
            "endpoint=192.168.77.1:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.8.0.0/24\n" +
            "public_key=0000000000000000000000000000000000000000000000000000000000000000\nremove=true\n\n",
            text);
    }

    [Fact]
    public void Uapi_get_reply_parses_into_a_device()
    {
        var reply = Encoding.ASCII.GetBytes(
            "private_key=c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669\nlisten_port=51820\n" +
            "public_key=1c8828f7137324c58b2804928624ea2326f1674537c062e251e2753ca7fcca4c\npreshared_key=0000000000000000000000000000000000000000000000000000000000000000\n" +
            "protocol_version=1\nendpoint=192.168.77.1:51820\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=0\n" +
            "tx_bytes=92\nrx_bytes=148\npersistent_keepalive_interval=25\nallowed_ip=10.8.0.0/24\nerrno=0\n\n");
        Assert.True(UapiProtocol.TryParseGet(reply, "ppn0", out var device, out int errno));
        using (device)
        {
            Assert.Equal(0, errno);
            Assert.Equal(51820, device!.ListenPort);
            var peer = Assert.Single(device.Peers);
            Assert.Equal(HubPublic, peer.PublicKey.ToBase64());
            Assert.False(peer.HasPresharedKey);
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), peer.LastHandshake);
            Assert.Equal(148UL, peer.ReceiveBytes);
            Assert.Equal("10.8.0.0/24", peer.AllowedIPs.Single().ToString());
        }
    }

    [Theory]
    [InlineData("listen_port=99999\nerrno=0\n\n")]
    [InlineData("private_key=zz\nerrno=0\n\n")]
    [InlineData("public_key=00\nerrno=0\n\n")]
    [InlineData("noequals\n\n")]
    [InlineData("listen_port=1\n")]
    public void Malformed_uapi_replies_are_rejected_without_throwing(string text)
    {
        Assert.False(UapiProtocol.TryParseGet(Encoding.ASCII.GetBytes(text), "ppn0", out _, out _));
    }

    [Fact]
    public void Showconf_withholds_the_private_key_unless_asked()
    {
        Assert.True(WireGuardPrivateKey.TryParseBase64(SpokePrivate, out var key));
        using var device = new WireGuardDevice { Name = "ppn0", PrivateKey = key, ListenPort = 51820 };
        var hidden = MeshConfigFile.Format(device, [IpPrefix.Parse("10.8.0.2/24")], 1420, forwarding: false, showPrivateKey: false);
        Assert.DoesNotContain(SpokePrivate, hidden);
        Assert.Contains("--show-private-key", hidden);
        var shown = MeshConfigFile.Format(device, [IpPrefix.Parse("10.8.0.2/24")], 1420, forwarding: false, showPrivateKey: true);
        Assert.Contains($"PrivateKey = {SpokePrivate}", shown);
        using var reparsed = MeshConfigFile.Parse(shown);
        Assert.Equal(key.PublicKey(), reparsed.PrivateKey.PublicKey());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Showconf_output_round_trips_through_mesh_up_including_forwarding(bool forwarding)
    {
        Assert.True(WireGuardPrivateKey.TryParseBase64(SpokePrivate, out var key));
        using var device = new WireGuardDevice { Name = "ppn0", PrivateKey = key, ListenPort = 51820 };
        var text = MeshConfigFile.Format(device, [IpPrefix.Parse("10.8.0.1/24")], 1420, forwarding, showPrivateKey: true);
        Assert.Contains($"Forwarding = {(forwarding ? "true" : "false")}", text);
        using var reparsed = MeshConfigFile.Parse(text);
        Assert.Equal(forwarding, reparsed.Forwarding);
        Assert.Equal(1420, reparsed.Mtu);
        Assert.Equal(51820, reparsed.ListenPort);
    }
}
