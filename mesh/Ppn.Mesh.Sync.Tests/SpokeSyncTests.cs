using System.Net;
using System.Net.Sockets;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>The spoke's sync agent on a recording MeshAccess (no namespace, no WireGuard).</summary>
public class SpokeSyncTests
{
    [Fact]
    public async Task A_spoke_whose_own_key_is_revoked_says_so_once_not_on_every_policy_step()
    {
        using var authority = SyncVectorTests.Authority();
        using var own = WireGuardPrivateKey.Generate();
        var self = own.PublicKey();
        var state = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore());
        var revoked = Revocation.Sign(5, self.Bytes, 0, authority.SigningPrivateKey);
        Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(3, 0, authority.HubPublicKey,
            [authority.Grant(SyncVectorTests.NodeKey(3), 3, IPAddress.Parse("10.8.0.3"), 0)], [revoked], authority.SigningPrivateKey).Bytes, out _));
        int applied = 0;
        var log = new List<string>();
        var access = new MeshAccess(_ => { Interlocked.Increment(ref applied); return new BringUpReport("ppn0", "test", []); },
            () => null, family => new Socket(family, SocketType.Stream, ProtocolType.Tcp));
        MeshConfig Enrolled() => new() { PrivateKey = own.Clone(), Address = IpPrefix.Parse("10.8.0.5/24") };
        // Nothing listens on the relay's port: the pull fails and backs off; the policy steps on, converging every step.
        var spoke = new SpokeSync(Enrolled, self, state, IPEndPoint.Parse("127.0.0.1:9"), access, m => { lock (log) log.Add(m); },
            new SyncAgentOptions { PolicyTick = TimeSpan.FromMilliseconds(10), ConvergeInterval = TimeSpan.Zero, Backoff = TimeSpan.FromSeconds(30) });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var running = spoke.RunAsync(stop.Token);
        await SyncLab.Eventually(() => Volatile.Read(ref applied) >= 5, TimeSpan.FromSeconds(30), "five policy steps");
        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Empty(spoke.DirectPeers);
        lock (log) Assert.Single(log, l => l.Contains("revoked in the peer set"));
    }
}
