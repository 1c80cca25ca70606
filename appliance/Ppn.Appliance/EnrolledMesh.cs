using Ppn.Genesis.Enrolment;
using Ppn.Mesh;
using Ppn.Mesh.WireGuard;

namespace Ppn.Appliance;

/// <summary>
/// From an enrolment grant to ppn0's configuration: the node's own key (its genesis identity is its
/// WireGuard key), its assigned address in 10.8.0.0/24, and the hub (cloud relay) as the only statically
/// addressed peer with the whole mesh behind it; spokes reach each other through the hub.
/// </summary>
public static class EnrolledMesh
{
    public const string Interface = MeshConfig.DefaultInterface;
    public static readonly IpPrefix MeshPrefix = IpPrefix.Parse("10.8.0.0/24");

    /// <summary>Keepalive toward the hub so it learns the spoke's endpoint through NAT (WireGuard's usual 25 s).</summary>
    public const int HubKeepaliveSeconds = 25;

    public static MeshConfig ConfigFor(EnrolmentGrant grant, ReadOnlySpan<byte> nodePrivateKey) => new()
    {
        PrivateKey = new WireGuardPrivateKey(nodePrivateKey),
        Address = new IpPrefix(grant.Address, EnrolmentGrant.PrefixLength),
        Peers = [new MeshPeer(new WireGuardKey(grant.HubPublicKey), grant.HubEndpoint, [MeshPrefix], HubKeepaliveSeconds)],
    };
}
