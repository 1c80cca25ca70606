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

    [Fact]
    public async Task A_server_that_replays_an_old_set_is_backed_off_from_not_asked_again_at_once()
    {
        using var authority = SyncVectorTests.Authority();
        using var own = WireGuardPrivateKey.Generate();
        var state = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore());
        Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(5, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _));
        var replayed = PeerSet.Sign(3, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes;

        // A man in the middle: whatever is asked, it answers at once with set 3, signed and old.
        using var hostile = new TcpListener(IPAddress.Loopback, 0);
        hostile.Start();
        int accepted = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var serving = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var client = await hostile.AcceptTcpClientAsync(stop.Token);
                    Interlocked.Increment(ref accepted);
                    var stream = client.GetStream();
                    await stream.ReadExactlyAsync(new byte[SyncWire.RequestSize], stop.Token);
                    var header = new byte[SyncWire.ReplyHeaderSize];
                    SyncWire.WriteReplyHeader(header, ReplyStatus.Set, replayed.Length, 0);
                    await stream.WriteAsync(header, stop.Token);
                    await stream.WriteAsync(replayed, stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException) { }
        });
        var log = new List<string>();
        var access = new MeshAccess(_ => new BringUpReport("ppn0", "test", []), () => null, family => new Socket(family, SocketType.Stream, ProtocolType.Tcp));
        MeshConfig Enrolled() => new() { PrivateKey = own.Clone(), Address = IpPrefix.Parse("10.8.0.5/24") };
        var spoke = new SpokeSync(Enrolled, own.PublicKey(), state, (IPEndPoint)hostile.LocalEndpoint, access, m => { lock (log) log.Add(m); },
            new SyncAgentOptions { Backoff = TimeSpan.FromMinutes(10) });
        var running = spoke.RunAsync(stop.Token);
        // Before the fix the second connection came at once; with the backoff it is ten minutes away.
        bool SaidOrBack()
        {
            lock (log) if (log.Any(l => l.Contains("refused (NotNewer)"))) return true;
            return Volatile.Read(ref accepted) > 1;
        }
        await SyncLab.Eventually(SaidOrBack,
            TimeSpan.FromSeconds(30), "the refused reply is said (or the client comes back)");
        Assert.Equal(1, Volatile.Read(ref accepted));
        Assert.Equal(5UL, state.Current!.Serial);
        Assert.Equal(1, state.Refusals[SetVerdict.NotNewer]);
        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        hostile.Stop();
        await serving.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
