using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync;

/// <summary>Desired ppn0 = base + set (docs/protocol/sync.md §What a node does with the set): MeshBringUp converges to it.</summary>
public static class MeshPlan
{
    /// <summary>
    /// The relay: its base configuration (own key, 10.8.0.1/24, listen port, forwarding, any static peers) plus
    /// one peer per granted spoke (its key, AllowedIPs &lt;spoke&gt;/32, no endpoint: learned from its handshakes).
    /// A revoked key is never a peer, not even a static one.
    /// </summary>
    public static MeshConfig Relay(MeshConfig baseConfig, PeerSet? set) =>
        Relay(baseConfig, set?.Grants.Select(g => (new WireGuardKey(g.NodePublicKey), g.Address)) ?? [], key => set?.IsRevoked(key.Bytes) == true);

    /// <summary>
    /// The relay after a reboot, before the authority answered (sync.md §Relay roster): base + one peer per spoke of
    /// the kept roster, exactly as the set it was taken from made them.
    /// </summary>
    public static MeshConfig Relay(MeshConfig baseConfig, RelayRoster roster) =>
        Relay(baseConfig, roster.Spokes.Select(s => (s.NodeKey, s.Address)), _ => false);

    private static MeshConfig Relay(MeshConfig baseConfig, IEnumerable<(WireGuardKey Key, System.Net.IPAddress Address)> spokes, Func<WireGuardKey, bool> revoked)
    {
        var peers = new List<MeshPeer>();
        var seen = new HashSet<WireGuardKey>();
        foreach (var peer in baseConfig.Peers)
        {
            if (revoked(peer.PublicKey) || !seen.Add(peer.PublicKey)) continue;
            peers.Add(peer);
        }
        foreach (var (key, address) in spokes)
        {
            if (!seen.Add(key)) continue;
            peers.Add(new MeshPeer(key, null, [new IpPrefix(address, 32)], null));
        }
        return new MeshConfig
        {
            PrivateKey = baseConfig.PrivateKey.Clone(),
            Address = baseConfig.Address,
            ListenPort = baseConfig.ListenPort,
            Mtu = baseConfig.Mtu,
            Forwarding = baseConfig.Forwarding,
            Peers = peers,
        };
    }

    /// <summary>A spoke: the hub peer of its enrolment plus the direct-path policy's peers (probing or direct).</summary>
    public static MeshConfig Spoke(MeshConfig enrolled, IReadOnlyList<MeshPeer> directPeers)
    {
        var hub = enrolled.Peers.Select(p => p.PublicKey).ToHashSet();
        return new MeshConfig
        {
            PrivateKey = enrolled.PrivateKey.Clone(),
            Address = enrolled.Address,
            ListenPort = enrolled.ListenPort,
            Mtu = enrolled.Mtu,
            Forwarding = enrolled.Forwarding,
            Peers = [.. enrolled.Peers, .. directPeers.Where(p => !hub.Contains(p.PublicKey))],
        };
    }

    /// <summary>The relay's hints for spokes: each spoke peer's current endpoint on the device (its last handshake's source).</summary>
    public static IReadOnlyList<EndpointHint> HintsFrom(WireGuardDevice device, DateTimeOffset now) =>
        device.Peers.Where(p => p.Endpoint is not null).Select(p => new EndpointHint(p.PublicKey, p.Endpoint!,
            p.LastHandshake is { } h ? (uint)Math.Clamp((now - h).TotalSeconds, 0, uint.MaxValue - 1) : EndpointHint.UnknownAge)).ToList();
}
