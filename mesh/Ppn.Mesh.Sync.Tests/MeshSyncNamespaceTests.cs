using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ppn.Authority;
using Ppn.Genesis;
using Ppn.Genesis.Enrolment;
using Ppn.Linux.Netlink;
using Ppn.Mesh.Links;
using Ppn.Mesh.Testing;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>
/// The whole sync path on the host (<see cref="SyncLab"/>): an authority, a relay whose configuration has no spoke,
/// three spokes; late enrolment, direct paths proved by a capture on the relay, fallback on a cut, revocation,
/// replayed and forged sets.
/// </summary>
[Collection("sync-namespaces")]
public sealed class MeshSyncNamespaceTests
{
    [SyncNamespaceFact]
    public async Task The_relay_learns_spokes_from_signed_sets_spokes_go_direct_on_a_shared_lan_fall_back_when_cut_and_a_revoked_spoke_loses_every_path()
    {
        await using var lab = await SyncLab.StartAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        string a = lab.A, b = lab.B, c = lab.C;
        var sa = lab.Enrol("a", a);
        var sb = lab.Enrol("b", b);
        await SyncLab.Eventually(() => lab.RelayHasPeer(sa.Key.PublicKey().Bytes) && lab.RelayHasPeer(sb.Key.PublicKey().Bytes), TimeSpan.FromSeconds(10), "the relay adds a and b from the published set");
        await SyncLab.Eventually(() => SyncLab.Ping(a, "10.8.0.1"), TimeSpan.FromSeconds(20), "a reaches the relay");
        var earlySet = lab.RelaySync.State.Current!.Bytes;

        // Late enrolment: c is granted after the relay is running; nothing about the relay is rebuilt or restarted.
        var sc = lab.Enrol("c", c);
        await SyncLab.Eventually(() => lab.RelayHasPeer(sc.Key.PublicKey().Bytes), TimeSpan.FromSeconds(10), "the relay adds the late spoke c");
        await SyncLab.Eventually(() => SyncLab.Ping(c, sa.Grant.Address.ToString()), TimeSpan.FromSeconds(30), "c reaches a through the relay");
        await SyncLab.Eventually(() => sa.Agent.State.Serial == lab.RelaySync.State.Serial && sc.Agent.State.Serial == lab.RelaySync.State.Serial, TimeSpan.FromSeconds(30), "the spokes pull the relay's set");

        // a and b share a LAN: they probe the endpoints the relay observed and go direct.
        var akey = sa.Key.PublicKey();
        var bkey = sb.Key.PublicKey();
        await SyncLab.Eventually(() => sa.Agent.StateOf(bkey) == DirectState.Direct && sb.Agent.StateOf(akey) == DirectState.Direct, TimeSpan.FromSeconds(60), "a and b go direct",
            () => $"a sees b {sa.Agent.StateOf(bkey)}, b sees a {sb.Agent.StateOf(akey)}\n" + lab.Log());
        Assert.NotEqual(DirectState.Direct, sa.Agent.StateOf(sc.Key.PublicKey())); // c is not on their LAN
        using (var capture = new SyncLab.Capture(lab.Relay, lab.RelayIface))
        {
            string A = sa.Grant.Address.ToString(), B = sb.Grant.Address.ToString(), C = sc.Grant.Address.ToString();
            // The capture is live once it shows relayed a <-> c traffic; then a pings b five times and c three times.
            await SyncLab.Eventually(() => SyncLab.Ping(a, C) && SyncLab.Between(capture.Packets, A, C) > 0, TimeSpan.FromSeconds(20), "the relay's capture sees relayed traffic");
            capture.Clear();
            for (int i = 0; i < 5; i++) Assert.True(SyncLab.Ping(a, B), "a pings b directly");
            for (int i = 0; i < 3; i++) Assert.True(SyncLab.Ping(a, C), "a pings c through the relay");
            // Packets are reported in the order the interface saw them: once c's six are in, any a <-> b would be too.
            await SyncLab.Eventually(() => SyncLab.Between(capture.Packets, A, C) >= 6, TimeSpan.FromSeconds(20), "the capture reports the relayed pings");
            Assert.Equal(0, SyncLab.Between(capture.Packets, A, B));
        }

        // Cut the direct link; the hub's path stays: a and b fall back within the stale bound.
        lab.Isolate(a, b, on: true);
        await SyncLab.Eventually(() => sa.Agent.StateOf(bkey) != DirectState.Direct && sb.Agent.StateOf(akey) != DirectState.Direct, TimeSpan.FromSeconds(40), "a and b fall back to the relay", () => lab.Log() + SyncLab.TryRun("ip", "netns", "exec", a, "wg", "show", sa.Iface, "dump").Output + SyncLab.TryRun("ip", "-n", a, "route").Output + SyncLab.TryRun("ip", "netns", "exec", a, "ss", "-uanp").Output);
        using (var capture = new SyncLab.Capture(lab.Relay, lab.RelayIface))
        {
            string A = sa.Grant.Address.ToString(), B = sb.Grant.Address.ToString();
            await SyncLab.Eventually(() => SyncLab.Ping(a, "10.8.0.1") && SyncLab.Between(capture.Packets, A, "10.8.0.1") > 0, TimeSpan.FromSeconds(20), "the relay's capture is live");
            await SyncLab.Eventually(() => SyncLab.Ping(a, B), TimeSpan.FromSeconds(20), "a reaches b through the relay again");
            for (int i = 0; i < 3; i++) Assert.True(SyncLab.Ping(a, B));
            await SyncLab.Eventually(() => SyncLab.Between(capture.Packets, A, B) >= 6, TimeSpan.FromSeconds(20), "a <-> b now crosses the relay");
        }

        // Revoke c: the relay drops it, so does every spoke; a and b keep their path.
        Assert.NotNull(lab.Authority.Revoke(sc.Key.PublicKey().Bytes));
        await SyncLab.Eventually(() => !lab.RelayHasPeer(sc.Key.PublicKey().Bytes), TimeSpan.FromSeconds(10), "the relay removes the revoked c");
        await SyncLab.Eventually(() => sa.Agent.State.Current?.IsRevoked(sc.Key.PublicKey().Bytes) == true && sb.Agent.State.Current?.IsRevoked(sc.Key.PublicKey().Bytes) == true,
            TimeSpan.FromSeconds(30), "a and b apply the revocation");
        Assert.False(SyncLab.Ping(c, "10.8.0.1"));
        Assert.False(SyncLab.Ping(c, sa.Grant.Address.ToString()));
        Assert.False(SyncLab.Ping(c, sb.Grant.Address.ToString()));
        Assert.True(SyncLab.Ping(a, sb.Grant.Address.ToString()));
        Assert.True(SyncLab.Ping(b, "10.8.0.1"));
        using (var device = lab.Device(a, sa.Iface)) Assert.DoesNotContain(device!.Peers, p => p.PublicKey == sc.Key.PublicKey());
        Assert.Equal(BindingOrigin.Join, Assert.Single(lab.Authority.Registry.Bindings(), x => x.Address.Equals(sa.Grant.Address)).Origin);
        Assert.Equal(GrantStatus.Refused, lab.Authority.Registry.Assign(sc.Key.PublicKey().Bytes, BindingOrigin.Join, 0).Status); // no way back in

        // A hostile server on the mesh replays the older set and forges one: a refuses both over the wire and counts them.
        var forged = lab.RelaySync.State.Current!.Bytes.ToArray();
        forged[PeerSet.HeaderSize + 19] ^= 0x40;
        var serialBefore = sa.Agent.State.Serial;
        foreach (var (document, verdict) in new[] { (earlySet, SetVerdict.NotNewer), (forged, SetVerdict.BadSetSignature) })
        {
            var rogueSource = new FixedSource(document);
            await using var rogue = new SyncServer(NetworkNamespace.Run(NetworkNamespace.PathOf(lab.Relay), () => SyncServer.Bind(IPAddress.Parse("10.8.0.1"), 8099)), rogueSource);
            var reply = await SyncClient.ExchangeAsync(IPEndPoint.Parse("10.8.0.1:8099"), 0, SyncLab.Access(a, sa.Iface).CreateSocket, null, cancel.Token);
            Assert.Equal(verdict, sa.Agent.State.Offer(reply.Set, out _));
        }
        Assert.Equal(serialBefore, sa.Agent.State.Serial);
        Assert.True(sa.Agent.State.Refusals[SetVerdict.NotNewer] >= 1 && sa.Agent.State.Refusals[SetVerdict.BadSetSignature] >= 1);

        // The relay's set is persisted: a new state over its store restores it.
        var restored = new PeerSetState(lab.Trust, lab.HubKey.PublicKey().Bytes, lab.RelayStore);
        Assert.Equal(lab.RelaySync.State.Serial, restored.Serial);
    }

    private sealed class FixedSource(byte[] document) : IPeerSetSource
    {
        // Serves these bytes (parsed, not verified: a hostile relay forwards whatever it likes) to a request since 0.
        public PeerSet? Current { get; } = PeerSet.TryParse(document, out var s, out _) ? s : null;
        public Task Changed { get; } = new TaskCompletionSource().Task;
    }
}
