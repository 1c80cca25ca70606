using System.Net;
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

    /// <param name="linkScope">
    /// For a hub endpoint in fe80::/10 (a relay on the node's own link, as on a lab bench or an on-prem relay
    /// next to the node): the interface index it is reached through. A link-local address means nothing without
    /// one, and the grant cannot carry it (interface indexes are the node's own).
    /// </param>
    public static MeshConfig ConfigFor(EnrolmentGrant grant, ReadOnlySpan<byte> nodePrivateKey, int linkScope = 0)
    {
        var hub = grant.HubEndpoint;
        if (hub.Address.IsIPv6LinkLocal && hub.Address.ScopeId == 0)
        {
            if (linkScope <= 0)
            {
                throw new InvalidOperationException($"the hub endpoint {hub} is link-local, and no link of this node has a usable link-local address to reach it through");
            }
            hub = new IPEndPoint(new IPAddress(hub.Address.GetAddressBytes(), linkScope), hub.Port);
        }
        return new MeshConfig
        {
            PrivateKey = new WireGuardPrivateKey(nodePrivateKey),
            Address = new IpPrefix(grant.Address, EnrolmentGrant.PrefixLength),
            Peers = [new MeshPeer(new WireGuardKey(grant.HubPublicKey), hub, [MeshPrefix], HubKeepaliveSeconds)],
        };
    }
}
