using System.Net;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>The direct-path state machine on a twin device: observations and the clock are the test's.</summary>
public class DirectPathsTests
{
    private static readonly WireGuardKey Self = new(SyncVectorTests.NodeKey(2));
    private static readonly WireGuardKey Other = new(SyncVectorTests.NodeKey(3));
    private static readonly IPEndPoint HintEp = IPEndPoint.Parse("192.168.79.3:51820");
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    private static PeerSet Set(params int[] nodes)
    {
        using var authority = SyncVectorTests.Authority();
        return PeerSet.Sign(1, 0, authority.HubPublicKey, nodes.Select(n => authority.Grant(SyncVectorTests.NodeKey(n), (ulong)n, IPAddress.Parse($"10.8.0.{n}"), 0)), [], authority.SigningPrivateKey);
    }

    /// <summary>A twin of the device's per-peer counters.</summary>
    private sealed class Device
    {
        public Dictionary<WireGuardKey, PeerObservation> Peers { get; } = [];
        public PeerObservation? Observe(WireGuardKey k) => Peers.GetValueOrDefault(k);
    }

    private static readonly EndpointHint[] Hints = [new(Other, HintEp, 1), new(Self, IPEndPoint.Parse("192.168.79.2:51820"), 1)];

    [Fact]
    public void A_peer_with_a_hint_is_probed_without_allowed_ips_and_goes_direct_with_a_32_after_a_fresh_handshake()
    {
        var paths = new DirectPaths(Self);
        var device = new Device();
        var set = Set(2, 3);
        paths.Step(set, Hints, device.Observe, T0);
        Assert.Equal(DirectState.Probing, paths.StateOf(Other));
        Assert.Null(paths.StateOf(Self)); // never a path to itself
        var probe = Assert.Single(paths.Peers());
        Assert.Equal(HintEp, probe.Endpoint);
        Assert.Empty(probe.AllowedIPs);
        Assert.Equal(5, probe.PersistentKeepaliveSeconds);

        device.Peers[Other] = new(T0 + TimeSpan.FromSeconds(1), 148, HintEp);
        var t = Assert.Single(paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(2)));
        Assert.Equal(DirectState.Direct, t.To);
        Assert.Equal("10.8.0.3/32", Assert.Single(Assert.Single(paths.Peers()).AllowedIPs).ToString());
    }

    [Fact]
    public void A_direct_peer_that_stops_receiving_falls_back_to_the_hub_after_the_stale_bound_and_comes_back_when_it_receives_again()
    {
        var paths = new DirectPaths(Self);
        var device = new Device();
        var set = Set(2, 3);
        paths.Step(set, Hints, device.Observe, T0);
        device.Peers[Other] = new(T0, 148, HintEp);
        paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(1));
        Assert.Equal(DirectState.Direct, paths.StateOf(Other));
        // Keepalives keep arriving for a while, then the link is cut: the counter freezes at 500.
        device.Peers[Other] = new(T0, 500, HintEp);
        paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(5));
        paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(20));
        Assert.Equal(DirectState.Direct, paths.StateOf(Other)); // 15 s exactly: not yet
        var fallback = Assert.Single(paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(21)));
        Assert.Equal(DirectState.Probing, fallback.To);
        Assert.Empty(Assert.Single(paths.Peers()).AllowedIPs);
        // The link is back: the session is still young and receives again.
        device.Peers[Other] = new(T0, 600, HintEp);
        Assert.Equal(DirectState.Direct, Assert.Single(paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(30))).To);
    }

    [Fact]
    public void A_direct_peer_whose_handshake_is_older_than_reject_after_time_falls_back_even_while_receiving()
    {
        var paths = new DirectPaths(Self);
        var device = new Device();
        var set = Set(2, 3);
        paths.Step(set, Hints, device.Observe, T0);
        device.Peers[Other] = new(T0, 1, HintEp);
        paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(1));
        for (int s = 10; s <= 180; s += 10)
        {
            device.Peers[Other] = new(T0, (ulong)s, HintEp);
            paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(s));
        }
        Assert.Equal(DirectState.Direct, paths.StateOf(Other));
        device.Peers[Other] = new(T0, 190, HintEp);
        Assert.Equal(DirectState.Probing, Assert.Single(paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(190))).To);
    }

    [Fact]
    public void A_probe_without_handshake_is_given_up_and_retried_later_or_on_a_new_hint()
    {
        var paths = new DirectPaths(Self);
        var device = new Device();
        var set = Set(2, 3);
        paths.Step(set, Hints, device.Observe, T0);
        paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(30));
        Assert.Equal(DirectState.Idle, paths.StateOf(Other));
        Assert.Empty(paths.Peers());
        paths.Step(set, Hints, device.Observe, T0 + TimeSpan.FromSeconds(60));
        Assert.Equal(DirectState.Idle, paths.StateOf(Other));
        EndpointHint[] moved = [new(Other, IPEndPoint.Parse("192.168.80.3:51820"), 1)];
        paths.Step(set, moved, device.Observe, T0 + TimeSpan.FromSeconds(61));
        Assert.Equal(DirectState.Probing, paths.StateOf(Other));
        Assert.Equal(IPEndPoint.Parse("192.168.80.3:51820"), Assert.Single(paths.Peers()).Endpoint);
        paths.Step(set, moved, device.Observe, T0 + TimeSpan.FromSeconds(91));
        paths.Step(set, moved, device.Observe, T0 + TimeSpan.FromSeconds(91 + 300));
        Assert.Equal(DirectState.Probing, paths.StateOf(Other));
    }

    [Fact]
    public void A_peer_that_leaves_the_set_is_removed_from_every_state()
    {
        var paths = new DirectPaths(Self);
        var device = new Device();
        paths.Step(Set(2, 3), Hints, device.Observe, T0);
        device.Peers[Other] = new(T0, 1, HintEp);
        paths.Step(Set(2, 3), Hints, device.Observe, T0 + TimeSpan.FromSeconds(1));
        Assert.Equal(DirectState.Direct, paths.StateOf(Other));
        var gone = Assert.Single(paths.Step(Set(2), Hints, device.Observe, T0 + TimeSpan.FromSeconds(2)));
        Assert.Equal(DirectState.Direct, gone.From);
        Assert.Null(paths.StateOf(Other));
        Assert.Empty(paths.Peers());
    }

    [Fact]
    public void No_hint_means_no_direct_peer()
    {
        var paths = new DirectPaths(Self);
        paths.Step(Set(2, 3), [], _ => null, T0);
        Assert.Null(paths.StateOf(Other));
        Assert.Empty(paths.Peers());
    }
}
