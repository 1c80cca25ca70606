using System.Net;
using System.Net.Sockets;
using Ppn.Linux.Netlink;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>
/// Who reaches the relay's sync port, on real kernel routing in namespaces this test makes: a relay namespace with an
/// underlay link to a neighbour and a stand-in for ppn0 (a veth holding 10.8.0.1/24) to a mesh peer. No WireGuard:
/// the relay's agent runs on a recording bring-up.
/// <code>
///  neighbour 192.168.91.2 ── 192.168.91.1 relay 10.8.0.1/24 ── 10.8.0.2 mesh peer
/// </code>
/// </summary>
[Collection("sync-namespaces")]
public sealed class RelaySyncPortTests
{
    private static int _counter;

    [SyncNamespaceFact]
    public async Task A_neighbour_that_routes_the_mesh_address_at_the_relays_underlay_is_not_served_a_mesh_peer_is()
    {
        string suffix = $"{Environment.ProcessId % 10000}{Interlocked.Increment(ref _counter)}";
        string relay = $"ppns-pr-{suffix}", neighbour = $"ppns-pn-{suffix}", peer = $"ppns-pm-{suffix}";
        var made = new List<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Task? running = null;
        try
        {
            foreach (var ns in new[] { relay, neighbour, peer })
            {
                SyncLab.Run("ip", "netns", "add", ns);
                made.Add(ns);
                SyncLab.Run("ip", "-n", ns, "link", "set", "lo", "up");
            }
            SyncLab.Run("ip", "-n", relay, "link", "add", "u0", "type", "veth", "peer", "name", "u1", "netns", neighbour);
            SyncLab.Run("ip", "-n", relay, "link", "add", "m0", "type", "veth", "peer", "name", "m1", "netns", peer);
            SyncLab.Run("ip", "-n", relay, "addr", "add", "192.168.91.1/24", "dev", "u0");
            SyncLab.Run("ip", "-n", neighbour, "addr", "add", "192.168.91.2/24", "dev", "u1");
            SyncLab.Run("ip", "-n", relay, "addr", "add", "10.8.0.1/24", "dev", "m0");
            SyncLab.Run("ip", "-n", peer, "addr", "add", "10.8.0.2/24", "dev", "m1");
            foreach (var (ns, dev) in new[] { (relay, "u0"), (relay, "m0"), (neighbour, "u1"), (peer, "m1") }) SyncLab.Run("ip", "-n", ns, "link", "set", dev, "up");
            // The neighbour on the relay's underlay sends 10.8.0.1 to the relay's underlay address.
            SyncLab.Run("ip", "-n", neighbour, "route", "add", "10.8.0.1/32", "via", "192.168.91.1");

            using var authority = SyncVectorTests.Authority();
            using var hubKey = WireGuardPrivateKey.Generate();
            using var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
            var hub = hubKey.PublicKey().Bytes.ToArray();
            var state = new PeerSetState(authority.Trust, hub, new MemoryPeerSetStore());
            Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(1, 0, hub, [], [], authority.SigningPrivateKey).Bytes, out _));
            var access = new MeshAccess(_ => new BringUpReport("ppn0", "test", []), () => null, f => new Socket(f, SocketType.Stream, ProtocolType.Tcp));
            // Nothing answers as the authority (the pull backs off); the set is already held.
            var sync = new RelaySync(relayBase, state, IPEndPoint.Parse("127.0.0.1:9"), access,
                () => NetworkNamespace.Run(NetworkNamespace.PathOf(relay), () => SyncServer.Bind(IPAddress.Parse("10.8.0.1"))), _ => { },
                new SyncAgentOptions { Backoff = TimeSpan.FromSeconds(30) });
            running = sync.RunAsync(stop.Token);
            await sync.Listening.WaitAsync(TimeSpan.FromSeconds(30));
            Func<AddressFamily, Socket> In(string ns) => f => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new Socket(f, SocketType.Stream, ProtocolType.Tcp));
            var port = IPEndPoint.Parse("10.8.0.1:8091");

            var refused = await Assert.ThrowsAnyAsync<Exception>(() => SyncClient.ExchangeAsync(port, 0, In(neighbour), null, stop.Token));
            Assert.True(refused is InvalidDataException or SocketException, refused.ToString());
            Assert.Equal(1, sync.Server!.ForeignConnections);
            var served = await SyncClient.ExchangeAsync(port, 0, In(peer), null, stop.Token);
            Assert.Equal(ReplyStatus.Set, served.Status);
        }
        finally
        {
            stop.Cancel();
            if (running is not null) await running.WaitAsync(TimeSpan.FromSeconds(30));
            foreach (var ns in made) SyncLab.TryRun("ip", "netns", "del", ns);
        }
    }
}
