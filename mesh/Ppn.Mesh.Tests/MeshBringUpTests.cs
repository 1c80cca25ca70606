using System.Net;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Tests;

public class MeshBringUpTests
{
    private static readonly WireGuardPrivateKey HubKey = WireGuardPrivateKey.Generate();
    private static readonly WireGuardPrivateKey SpokeKey = WireGuardPrivateKey.Generate();
    private static readonly WireGuardPrivateKey OtherSpokeKey = WireGuardPrivateKey.Generate();

    private static MeshConfig Spoke() => new()
    {
        PrivateKey = SpokeKey.Clone(),
        Address = IpPrefix.Parse("10.8.0.2/24"),
        Peers = [new MeshPeer(HubKey.PublicKey(), IPEndPoint.Parse("192.168.77.1:51820"), [IpPrefix.Parse("10.8.0.0/24")], 25)],
    };

    private static MeshConfig Hub() => new()
    {
        PrivateKey = HubKey.Clone(),
        Address = IpPrefix.Parse("10.8.0.1/24"),
        ListenPort = 51820,
        Forwarding = true,
        Peers =
        [
            new MeshPeer(SpokeKey.PublicKey(), null, [IpPrefix.Parse("10.8.0.2/32")], null),
            new MeshPeer(OtherSpokeKey.PublicKey(), null, [IpPrefix.Parse("10.8.0.3/32"), IpPrefix.Parse("172.31.5.0/24")], null),
        ],
    };

    [Fact]
    public void First_bring_up_creates_keys_peers_address_and_link()
    {
        var links = new InMemoryLinks();
        var wg = new InMemoryWireGuard(links);
        using var config = Spoke();
        var report = new MeshBringUp(wg, links).Up("ppn0", config);
        Assert.Contains("created interface ppn0", report.Changes);
        Assert.Contains("added address 10.8.0.2/24", report.Changes);
        Assert.Contains("link up", report.Changes);
        using var device = wg.Get("ppn0")!;
        Assert.Equal(SpokeKey.PublicKey(), device.PublicKey);
        var hub = Assert.Single(device.Peers);
        Assert.Equal(["10.8.0.0/24"], hub.AllowedIPs.Select(a => a.ToString()));
        Assert.Equal(25, hub.PersistentKeepaliveSeconds);
    }

    [Fact]
    public void Running_bring_up_again_changes_nothing()
    {
        var links = new InMemoryLinks();
        var wg = new InMemoryWireGuard(links);
        using var config = Hub();
        var bringUp = new MeshBringUp(wg, links);
        bringUp.Up("ppn0", config);
        int applies = wg.Applies, writes = links.Writes;
        var again = bringUp.Up("ppn0", config);
        Assert.Empty(again.Changes);
        Assert.Equal(applies, wg.Applies);
        Assert.Equal(writes, links.Writes);
    }

    [Fact]
    public void The_hub_forwards_and_routes_only_allowed_ips_outside_the_mesh_prefix()
    {
        var links = new InMemoryLinks();
        var wg = new InMemoryWireGuard(links);
        using var config = Hub();
        var report = new MeshBringUp(wg, links).Up("ppn0", config);
        Assert.True(links.Forward["ppn0"]);
        Assert.Contains("added route 172.31.5.0/24", report.Changes);
        Assert.DoesNotContain(report.Changes, c => c.Contains("route 10.8.0"));
    }

    [Fact]
    public void Drift_is_repaired_extra_peer_removed_endpoint_restored_wrong_address_replaced()
    {
        var links = new InMemoryLinks();
        var wg = new InMemoryWireGuard(links);
        using var config = Spoke();
        var bringUp = new MeshBringUp(wg, links);
        bringUp.Up("ppn0", config);
        var intruder = new WireGuardPeer { PublicKey = OtherSpokeKey.PublicKey() };
        wg.Tamper("ppn0", peers =>
        {
            peers[0].Endpoint = IPEndPoint.Parse("192.168.77.99:1");
            peers.Add(intruder);
        });
        var index = links.Links["ppn0"].Index;
        links.Addr[index].Clear();
        links.Addr[index].Add(IpPrefix.Parse("10.8.0.9/24"));
        links.SetUp(index, false);

        var report = bringUp.Up("ppn0", config);
        Assert.Contains($"removed peer {OtherSpokeKey.PublicKey()}", report.Changes);
        Assert.Contains(report.Changes, c => c.Contains("endpoint 192.168.77.99:1 -> 192.168.77.1:51820"));
        Assert.Contains("removed address 10.8.0.9/24", report.Changes);
        Assert.Contains("added address 10.8.0.2/24", report.Changes);
        Assert.Contains("link up", report.Changes);
        Assert.Empty(bringUp.Up("ppn0", config).Changes);
    }

    [Fact]
    public void Change_descriptions_never_contain_the_private_key()
    {
        var links = new InMemoryLinks();
        var wg = new InMemoryWireGuard(links);
        using var config = Spoke();
        var report = new MeshBringUp(wg, links).Up("ppn0", config);
        var secret = config.PrivateKey.RevealBase64();
        Assert.DoesNotContain(report.Changes, c => c.Contains(secret) || c.Contains(Convert.ToHexStringLower(Convert.FromBase64String(secret))));
        Assert.Equal("(private key hidden)", config.PrivateKey.ToString());
    }

    [Fact]
    public void Down_removes_the_link_and_is_idempotent()
    {
        var links = new InMemoryLinks();
        var wg = new InMemoryWireGuard(links);
        using var config = Spoke();
        var bringUp = new MeshBringUp(wg, links);
        bringUp.Up("ppn0", config);
        Assert.True(bringUp.Down("ppn0"));
        Assert.False(bringUp.Down("ppn0"));
    }

    [Fact]
    public void A_disposed_private_key_is_zeroed_and_unusable()
    {
        var key = WireGuardPrivateKey.Generate();
        key.Dispose();
        Assert.Throws<ObjectDisposedException>(() => key.PublicKey());
    }
}
