using System.Net;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;

namespace Ppn.Appliance.Tests;

public class EnrolledMeshTests
{
    [Fact]
    public void A_grant_becomes_a_spoke_config_with_the_hub_as_the_only_peer_for_the_whole_mesh()
    {
        using var node = NodeKeyPair.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray());
        using var hub = NodeKeyPair.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray());
        var grant = new EnrolmentGrant(default, 3, IPAddress.Parse("10.8.0.3"), IPEndPoint.Parse("192.0.2.10:51820"),
            hub.PublicKey, 0, node.PublicKey, 0, new byte[64]);

        using var config = EnrolledMesh.ConfigFor(grant, node.PrivateKey);

        Assert.Equal("10.8.0.3/24", config.Address.ToString());
        Assert.Equal(node.PublicKeyBase64, config.PrivateKey.PublicKey().ToBase64());
        var peer = Assert.Single(config.Peers);
        Assert.Equal(hub.PublicKeyBase64, peer.PublicKey.ToBase64());
        Assert.Equal("192.0.2.10:51820", peer.Endpoint!.ToString());
        Assert.Equal(["10.8.0.0/24"], peer.AllowedIPs.Select(p => p.ToString()));
        Assert.Equal(EnrolledMesh.HubKeepaliveSeconds, peer.PersistentKeepaliveSeconds);
    }

    [Fact]
    public void A_link_local_hub_is_reached_through_the_given_link_and_refused_without_one()
    {
        using var node = NodeKeyPair.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray());
        var grant = new EnrolmentGrant(default, 3, IPAddress.Parse("10.8.0.3"), IPEndPoint.Parse("[fe80::1]:51820"),
            new byte[32], 0, node.PublicKey, 0, new byte[64]);

        using var config = EnrolledMesh.ConfigFor(grant, node.PrivateKey, linkScope: 2);
        Assert.Equal(2, Assert.Single(config.Peers).Endpoint!.Address.ScopeId);

        var e = Assert.Throws<InvalidOperationException>(() => EnrolledMesh.ConfigFor(grant, node.PrivateKey));
        Assert.Contains("link-local", e.Message);
    }
}
