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

    [Fact]
    public async Task A_server_that_answers_not_modified_at_once_is_asked_again_only_after_the_request_spacing()
    {
        using var authority = SyncVectorTests.Authority();
        using var own = WireGuardPrivateKey.Generate();
        var set = PeerSet.Sign(5, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes;
        var held = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore());
        Assert.Equal(SetVerdict.Accepted, held.Offer(set, out _));
        var served = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore());
        Assert.Equal(SetVerdict.Accepted, served.Offer(set, out _));
        // A server that does not hold: every request is answered NotModified at once.
        await using var server = new SyncServer(SyncServer.Bind(IPAddress.Loopback, 0), served, null, new SyncServerOptions { HoldTime = TimeSpan.Zero });
        int requests = 0;
        var access = new MeshAccess(_ => new BringUpReport("ppn0", "test", []), () => null, family =>
        {
            Interlocked.Increment(ref requests);
            return new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        });
        var waits = new ParkedDelays();
        var spacing = TimeSpan.FromHours(1); // longer than any exchange, however slow the machine: every round waits
        var options = new SyncAgentOptions { MinRequestSpacing = spacing, Delay = waits.Delay };
        var log = new List<string>();
        MeshConfig Enrolled() => new() { PrivateKey = own.Clone(), Address = IpPrefix.Parse("10.8.0.5/24") };
        var spoke = new SpokeSync(Enrolled, own.PublicKey(), held, (IPEndPoint)server.LocalEndPoint, access, m => { lock (log) log.Add(m); }, options);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var running = spoke.RunAsync(stop.Token);
        for (int round = 1; round <= 3; round++)
        {
            var (delay, done) = await waits.NextAsync(stop.Token);
            // Parked before its next request: exactly one request per round, and the wait is what is left of the spacing.
            Assert.Equal(round, Volatile.Read(ref requests));
            Assert.InRange(delay, TimeSpan.FromTicks(1), spacing);
            done.SetResult();
        }
        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        lock (log) Assert.DoesNotContain(log, l => l.Contains("retrying"));
    }

    [Fact]
    public async Task A_failure_the_pull_loop_did_not_expect_is_said_with_its_type_and_retried_not_the_end_of_sync()
    {
        using var authority = SyncVectorTests.Authority();
        using var own = WireGuardPrivateKey.Generate();
        var state = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore());
        int requests = 0;
        // The socket factory throws what no network failure is: before, the loop ended there and mesh sync stopped silently.
        var access = new MeshAccess(_ => new BringUpReport("ppn0", "test", []), () => null, _ =>
        {
            Interlocked.Increment(ref requests);
            throw new UnauthorizedAccessException("denied by a test");
        });
        var waits = new ParkedDelays();
        // Only the backoff's waits: the seam's waits take no time, so a spacing would ask for one every round.
        var options = new SyncAgentOptions { MinRequestSpacing = TimeSpan.Zero, Delay = waits.Delay };
        var log = new List<string>();
        MeshConfig Enrolled() => new() { PrivateKey = own.Clone(), Address = IpPrefix.Parse("10.8.0.5/24") };
        var spoke = new SpokeSync(Enrolled, own.PublicKey(), state, IPEndPoint.Parse("127.0.0.1:9"), access, m => { lock (log) log.Add(m); }, options);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var running = spoke.RunAsync(stop.Token);
        var backoffs = new List<TimeSpan>();
        for (int round = 1; round <= 3; round++)
        {
            var (delay, done) = await waits.NextAsync(stop.Token);
            backoffs.Add(delay);
            done.SetResult();
        }
        // The third wait is taken when the third request has failed; the fourth may be on its way.
        Assert.InRange(Volatile.Read(ref requests), 3, 4);
        Assert.Equal([options.Backoff, options.Backoff * 2, options.Backoff * 4], backoffs);
        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        lock (log) Assert.Single(log, l => l.Contains("UnauthorizedAccessException: denied by a test; retrying"));
    }
}
