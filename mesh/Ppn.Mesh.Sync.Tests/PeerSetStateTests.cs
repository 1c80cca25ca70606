using System.Net;
using System.Net.Sockets;
using Ppn.Genesis;

namespace Ppn.Mesh.Sync.Tests;

public class PeerSetStateTests
{
    private static (AuthorityCredential Authority, AuthorityTrust Trust) Keys()
    {
        var authority = SyncVectorTests.Authority();
        return (authority, authority.Trust);
    }

    [Fact]
    public void An_older_set_replayed_over_a_newer_one_is_refused_counted_and_changes_nothing()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var state = new PeerSetState(trust, authority.HubPublicKey, new MemoryPeerSetStore());
        var old = PeerSet.Sign(3, 0, authority.HubPublicKey, [authority.Grant(SyncVectorTests.NodeKey(2), 2, IPAddress.Parse("10.8.0.2"), 0)], [], authority.SigningPrivateKey);
        var newer = PeerSet.Sign(4, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey);
        Assert.Equal(SetVerdict.Accepted, state.Offer(newer.Bytes, out _));
        Assert.Equal(SetVerdict.NotNewer, state.Offer(old.Bytes, out var detail));
        Assert.Contains("not above 4", detail);
        Assert.Equal(4UL, state.Serial);
        Assert.Empty(state.Current!.Grants);
        Assert.Equal(1, state.Refusals[SetVerdict.NotNewer]);
    }

    [Fact]
    public void The_accepted_set_survives_a_restart_and_a_tampered_file_is_refused()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var dir = Directory.CreateTempSubdirectory("ppn-sync-");
        try
        {
            var store = new FilePeerSetStore(Path.Combine(dir.FullName, "state", "peerset"));
            var state = new PeerSetState(trust, authority.HubPublicKey, store);
            var set = PeerSet.Sign(9, 0, authority.HubPublicKey, [authority.Grant(SyncVectorTests.NodeKey(2), 2, IPAddress.Parse("10.8.0.2"), 0)], [], authority.SigningPrivateKey);
            Assert.Equal(SetVerdict.Accepted, state.Offer(set.Bytes, out _));
            var restarted = new PeerSetState(trust, authority.HubPublicKey, store);
            Assert.Equal(9UL, restarted.Serial);
            Assert.Single(restarted.Current!.Grants);
            // An older set after the restart is still refused: the high-water mark is the persisted set's serial.
            Assert.Equal(SetVerdict.NotNewer, restarted.Offer(PeerSet.Sign(8, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _));

            var bytes = File.ReadAllBytes(store.Path);
            bytes[PeerSet.HeaderSize + 19] ^= 1;
            File.WriteAllBytes(store.Path, bytes);
            var tampered = new PeerSetState(trust, authority.HubPublicKey, store);
            Assert.Null(tampered.Current);
            Assert.Equal(1, tampered.Refusals[SetVerdict.BadSetSignature]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Set 5 grants node 4; set 6 revokes it.</summary>
    private static (byte[] Before, byte[] Revoking) BeforeAndAfterRevocation(AuthorityCredential authority)
    {
        var two = authority.Grant(SyncVectorTests.NodeKey(2), 2, IPAddress.Parse("10.8.0.2"), 0);
        var four = authority.Grant(SyncVectorTests.NodeKey(4), 4, IPAddress.Parse("10.8.0.4"), 0);
        var revoked = Revocation.Sign(4, SyncVectorTests.NodeKey(4), 0, authority.SigningPrivateKey);
        return (PeerSet.Sign(5, 0, authority.HubPublicKey, [two, four], [], authority.SigningPrivateKey).Bytes,
            PeerSet.Sign(6, 0, authority.HubPublicKey, [two], [revoked], authority.SigningPrivateKey).Bytes);
    }

    [Fact]
    public void A_persisted_set_below_the_serial_floor_is_refused_at_start_so_a_revoked_key_is_not_granted_again()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var (before, revoking) = BeforeAndAfterRevocation(authority);
        var store = new MemoryPeerSetStore();
        var floor = new MemorySerialFloor();
        Assert.Equal(SetVerdict.Accepted, new PeerSetState(trust, authority.HubPublicKey, store, floor: floor).Offer(before, out _));
        // Set 6 is accepted: the floor is kept first, then the power goes before its file is written.
        floor.Save(6);

        var log = new List<string>();
        var restarted = new PeerSetState(trust, authority.HubPublicKey, store, log.Add, floor);
        Assert.Null(restarted.Current);
        Assert.Equal(1, restarted.Refusals[SetVerdict.NotNewer]);
        Assert.Contains(log, l => l.Contains("refused (NotNewer") && l.Contains("below 6"));
        Assert.Equal(5UL, restarted.RequestSince); // asks for the floor's own set
        Assert.Equal(SetVerdict.NotNewer, restarted.Offer(before, out _));
        Assert.Equal(SetVerdict.Accepted, restarted.Offer(revoking, out _));
        Assert.True(restarted.Current!.IsRevoked(SyncVectorTests.NodeKey(4)));
    }

    /// <summary>A store whose writes fail (a full or read-only disk) while <see cref="Failing"/> is set.</summary>
    private sealed class FailingStore : IPeerSetStore
    {
        private readonly MemoryPeerSetStore _inner = new();
        public bool Failing { get; set; }
        public byte[]? Load() => _inner.Load();
        public void Save(ReadOnlySpan<byte> document)
        {
            if (Failing) throw new IOException("No space left on device");
            _inner.Save(document);
        }
        public void Delete() => _inner.Delete();
    }

    [Fact]
    public void A_set_whose_file_cannot_be_written_is_still_used_and_the_older_file_is_removed()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var (before, revoking) = BeforeAndAfterRevocation(authority);
        var store = new FailingStore();
        var log = new List<string>();
        var state = new PeerSetState(trust, authority.HubPublicKey, store, log.Add);
        Assert.Equal(SetVerdict.Accepted, state.Offer(before, out _));
        store.Failing = true;
        var changed = state.Changed;
        Assert.Equal(SetVerdict.Accepted, state.Offer(revoking, out _));
        Assert.True(changed.IsCompleted);
        Assert.Equal(6UL, state.Current!.Serial);
        Assert.DoesNotContain(state.Current.Grants, g => g.NodePublicKey.AsSpan().SequenceEqual(SyncVectorTests.NodeKey(4)));
        Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(7, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _));
        Assert.Single(log, l => l.Contains("cannot be kept") && l.Contains("the older file is removed"));
        // A restart (no floor kept here) cannot bring set 5 back: its file is gone.
        Assert.Null(store.Load());
        Assert.Null(new PeerSetState(trust, authority.HubPublicKey, store).Current);
    }

    [Fact]
    public void A_persisted_file_larger_than_any_set_is_refused_as_malformed_and_counted()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var dir = Directory.CreateTempSubdirectory("ppn-sync-");
        try
        {
            var store = new FilePeerSetStore(Path.Combine(dir.FullName, "peerset"));
            File.WriteAllBytes(store.Path, new byte[PeerSet.MaxSize + 4096]);
            Assert.Equal(PeerSet.MaxSize + 1, store.Load()!.Length);
            var state = new PeerSetState(trust, authority.HubPublicKey, store);
            Assert.Null(state.Current);
            Assert.Equal(1, state.Refusals[SetVerdict.Malformed]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_long_poll_is_held_until_a_newer_set_and_a_stalled_client_is_cut_by_the_request_deadline()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var source = new PeerSetState(trust, authority.HubPublicKey, new MemoryPeerSetStore());
        source.Offer(PeerSet.Sign(1, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _);
        // The clients that send at once get a deadline no loaded machine misses (a 300 ms one cut the first
        // exchange of a CI run, whose server was still starting its thread pool); only the silent client meets
        // the short one, and it sends nothing, so how fast the machine is does not change what it sees.
        var patient = new SyncServerOptions { HoldTime = TimeSpan.FromSeconds(20), RequestTimeout = TimeSpan.FromSeconds(20), MaxPerSource = 2 };
        await using var server = new SyncServer(SyncServer.Bind(IPAddress.Loopback, 0), source, null, patient);
        await using var strict = new SyncServer(SyncServer.Bind(IPAddress.Loopback, 0), source, null,
            patient with { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        var endpoint = (IPEndPoint)server.LocalEndPoint;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Socket Tcp(AddressFamily f) => new(f, SocketType.Stream, ProtocolType.Tcp);

        var immediate = await SyncClient.ExchangeAsync(endpoint, 0, Tcp, null, cancel.Token);
        Assert.Equal(ReplyStatus.Set, immediate.Status);

        var held = SyncClient.ExchangeAsync(endpoint, 1, Tcp, null, cancel.Token);
        // The hold is registered once the server has the connection open; then publish serial 2.
        while (server.OpenConnections == 0) await Task.Delay(10, cancel.Token);
        Assert.False(held.IsCompleted);
        source.Offer(PeerSet.Sign(2, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _);
        var reply = await held;
        Assert.True(PeerSet.TryParse(reply.Set, out var got, out _));
        Assert.Equal(2UL, got!.Serial);

        // A client that connects and sends nothing is disconnected after the request deadline.
        using var silent = Tcp(AddressFamily.InterNetwork);
        await silent.ConnectAsync((IPEndPoint)strict.LocalEndPoint, cancel.Token);
        var buffer = new byte[1];
        Assert.Equal(0, await silent.ReceiveAsync(buffer, SocketFlags.None, cancel.Token));
        // Garbage is counted and closed.
        using var garbage = Tcp(AddressFamily.InterNetwork);
        await garbage.ConnectAsync(endpoint, cancel.Token);
        await garbage.SendAsync(new byte[16], SocketFlags.None, cancel.Token);
        Assert.Equal(0, await garbage.ReceiveAsync(buffer, SocketFlags.None, cancel.Token));
        Assert.Equal(1, server.BadRequests);
    }

    [Fact]
    public async Task Connections_over_the_per_source_cap_are_closed_at_once()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var source = new PeerSetState(trust, authority.HubPublicKey, new MemoryPeerSetStore());
        await using var server = new SyncServer(SyncServer.Bind(IPAddress.Loopback, 0), source, null,
            new SyncServerOptions { RequestTimeout = TimeSpan.FromSeconds(20), MaxPerSource = 2 });
        var endpoint = (IPEndPoint)server.LocalEndPoint;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(s);
                await s.ConnectAsync(endpoint, cancel.Token);
            }
            while (server.OpenConnections < 2) await Task.Delay(10, cancel.Token);
            using var third = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await third.ConnectAsync(endpoint, cancel.Token);
            Assert.Equal(0, await third.ReceiveAsync(new byte[1], SocketFlags.None, cancel.Token));
            Assert.Equal(1, server.RefusedConnections);
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
    }

    [Fact]
    public async Task An_accept_that_fails_at_once_every_time_is_retried_after_a_growing_backoff_not_in_a_spin()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var source = new PeerSetState(trust, authority.HubPublicKey, new MemoryPeerSetStore());
        var listening = SyncServer.Bind(IPAddress.Loopback, 0);
        await using var server = new SyncServer(listening, source);
        var waits = new ParkedDelays();
        server.Delay = waits.Delay;
        // shutdown(2) on a listening TCP socket closes it in the kernel: from then on every accept(2) fails at once
        // (EINVAL), as one does when the process is out of descriptors (EMFILE) or the kernel out of buffers (ENOBUFS).
        listening.Shutdown(SocketShutdown.Both);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<double>();
        for (int i = 1; i <= 10; i++)
        {
            var (delay, done) = await waits.NextAsync(cancel.Token);
            // While a backoff is pending the loop is parked: one failure per wait.
            Assert.Equal(i, server.AcceptFailures);
            seen.Add(delay.TotalMilliseconds);
            done.SetResult();
        }
        Assert.Equal([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000], seen);
    }

    [Fact]
    public async Task A_connection_from_outside_the_allowed_sources_is_closed_at_once_and_counted()
    {
        var (authority, trust) = Keys();
        using var owned = authority;
        var source = new PeerSetState(trust, authority.HubPublicKey, new MemoryPeerSetStore());
        source.Offer(PeerSet.Sign(1, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _);
        await using var mesh = new SyncServer(SyncServer.Bind(IPAddress.Loopback, 0), source, null, new SyncServerOptions { Sources = IpPrefix.Parse("10.8.0.0/24") });
        await using var local = new SyncServer(SyncServer.Bind(IPAddress.Loopback, 0), source, null, new SyncServerOptions { Sources = IpPrefix.Parse("127.0.0.0/8") });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Socket Tcp(AddressFamily f) => new(f, SocketType.Stream, ProtocolType.Tcp);

        // Closed unanswered: an orderly close, or a reset when the request was already in (which one is the kernel's timing).
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => SyncClient.ExchangeAsync((IPEndPoint)mesh.LocalEndPoint, 0, Tcp, null, cancel.Token));
        Assert.True(refused is InvalidDataException or SocketException, refused.ToString());
        Assert.Equal(1, mesh.ForeignConnections);
        Assert.Equal(0, mesh.OpenConnections);
        Assert.Equal(ReplyStatus.Set, (await SyncClient.ExchangeAsync((IPEndPoint)local.LocalEndPoint, 0, Tcp, null, cancel.Token)).Status);
        Assert.Equal(0, local.ForeignConnections);
    }
}
