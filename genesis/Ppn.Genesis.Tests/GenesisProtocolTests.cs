using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Claim;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;
using Ppn.Genesis.Testing;
using Ppn.Linux;
using Ppn.Linux.Netlink;
using Ppn.UefiVars.Testing;

namespace Ppn.Genesis.Tests;

/// <summary>An authority for tests: Ed25519 signing key, X25519 Noise key, a registry keyed by node key.</summary>
internal sealed class TestAuthority
{
    public byte[] SigningPrivate = new byte[64], SigningPublic = new byte[32];
    public byte[] NoisePrivate = new byte[32], NoisePublic = new byte[32];
    public readonly ConcurrentDictionary<string, EnrolmentGrant> Registry = new();
    private int _next = 1;

    public TestAuthority()
    {
        Geralt.Ed25519.GenerateKeyPair(SigningPublic, SigningPrivate);
        Geralt.X25519.GenerateKeyPair(NoisePublic, NoisePrivate);
    }

    public AuthorityTrust Trust => new([SigningPublic], [NoisePublic]);

    public EnrolmentGrant GrantFor(byte[] nodeKey) => Registry.GetOrAdd(Convert.ToBase64String(nodeKey), _ =>
    {
        int n = Interlocked.Increment(ref _next);
        return new EnrolmentGrant(GrantStatus.Granted, (ulong)(1000 + n), IPAddress.Parse($"10.8.0.{n}"), new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820),
            Enumerable.Repeat((byte)7, 32).ToArray(), 3, nodeKey, 1_700_000_000, new byte[64]).SignedWith(SigningPrivate);
    });

    public byte[] Beacon(IPAddress registrar, ushort port, ulong sequence, byte[]? signingKey = null, byte[]? noiseKey = null)
    {
        var d = new byte[BeaconPacket.Size];
        new BeaconPacket(registrar, port, noiseKey ?? NoisePublic, sequence).Sign(signingKey ?? SigningPrivate, d);
        return d;
    }
}

public class GenesisProtocolTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly TempDirEfivarfs _nvram = new();
    private readonly NodeKeyPair _node = NodeKeyPair.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private readonly TestAuthority _authority = new();

    public void Dispose()
    {
        _node.Dispose();
        _nvram.Dispose();
    }

    [Fact]
    public void A_beacon_signed_by_the_pinned_key_is_accepted_and_rogue_ones_are_counted_and_ignored()
    {
        var verifier = new BeaconVerifier(_authority.Trust);
        var registrar = IPAddress.Parse("fe80::1");
        Assert.Equal(BeaconVerdict.Accepted, verifier.Verify(_authority.Beacon(registrar, 9000, 1), 3, out var good));
        Assert.Equal(3, good!.Registrar.Address.ScopeId);
        Assert.Equal(9000, good.Registrar.Port);

        var rogue = new TestAuthority();
        Assert.Equal(BeaconVerdict.BadSignature, verifier.Verify(rogue.Beacon(registrar, 9000, 2), 3, out var none));
        Assert.Null(none);
        // Signed by the real key but naming a Noise key that is not pinned: never followed.
        Assert.Equal(BeaconVerdict.UnknownAuthorityKey, verifier.Verify(_authority.Beacon(registrar, 9000, 3, noiseKey: rogue.NoisePublic), 3, out _));
        var tampered = _authority.Beacon(registrar, 9000, 4);
        tampered[7] ^= 1; // the registrar port
        Assert.Equal(BeaconVerdict.BadSignature, verifier.Verify(tampered, 3, out _));
        Assert.Equal(BeaconVerdict.Malformed, verifier.Verify(new byte[17], 3, out _));
        Assert.Equal(2, verifier.BadSignature);
        Assert.Equal(1, verifier.UnknownAuthorityKey);
        Assert.Equal(1, verifier.Accepted);
    }

    [Fact]
    public void Udp_payload_is_found_in_ipv4_and_ipv6_frames_and_hostile_frames_never_throw()
    {
        var payload = new byte[] { 1, 2, 3 };
        var v4 = new byte[14 + 20 + 8 + 3];
        v4[12] = 0x08; v4[14] = 0x45; v4[14 + 3] = 31; v4[14 + 9] = 17;
        v4[34 + 2] = 0x1f; v4[34 + 3] = 0x9a; v4[34 + 5] = 11; payload.CopyTo(v4, 42);
        Assert.True(LinkFrame.TryGetUdpPayload(v4, 8090, out int at, out int len));
        Assert.Equal((42, 3), (at, len));
        var v6 = new byte[14 + 40 + 8 + 3];
        v6[12] = 0x86; v6[13] = 0xdd; v6[14] = 0x60; v6[14 + 5] = 11; v6[14 + 6] = 17;
        v6[54 + 2] = 0x1f; v6[54 + 3] = 0x9a; v6[54 + 5] = 11;
        Assert.True(LinkFrame.TryGetUdpPayload(v6, 8090, out at, out len));
        Assert.Equal((62, 3), (at, len));
        var random = new Random(4);
        var junk = new byte[80];
        for (int i = 0; i < 20000; i++)
        {
            random.NextBytes(junk);
            if (i % 2 == 0) { junk[12] = 0x08; junk[13] = 0; } else { junk[12] = 0x86; junk[13] = 0xdd; }
            LinkFrame.TryGetUdpPayload(junk.AsSpan(0, random.Next(junk.Length)), 8090, out _, out _);
        }
    }

    [Fact]
    public void The_enrolment_record_round_trips_and_a_damaged_or_foreign_one_is_not_used()
    {
        var grant = _authority.GrantFor(_node.PublicKey);
        var store = new EnrolmentStore(_nvram);
        store.Save(grant, EnrolmentOrigin.Join);
        var loaded = store.TryLoad(_node.PublicKey, _authority.Trust, out var origin, out var problem);
        Assert.Null(problem);
        Assert.Equal(EnrolmentOrigin.Join, origin);
        Assert.Equal(grant.Address, loaded!.Address);
        Assert.Null(store.TryLoad(new byte[32], _authority.Trust, out _, out problem));
        Assert.Contains("not bound", problem);
        Assert.Null(store.TryLoad(_node.PublicKey, new TestAuthority().Trust, out _, out _));
        var bytes = EnrolmentRecord.Encode(grant, EnrolmentOrigin.Join);
        bytes[30] ^= 1;
        Assert.False(EnrolmentRecord.TryParse(bytes, out _, out _, out var error));
        Assert.Contains("checksum", error);
    }

    private (Socket Listener, Task Loop, List<byte[]> Seen) Registrar(int dropFirstReplies, CancellationToken stop, byte[]? noisePrivate = null)
    {
        var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.Listen(16);
        var seen = new List<byte[]>();
        int drops = dropFirstReplies;
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Socket c;
                try { c = await listener.AcceptAsync(stop); } catch { return; }
                using (c)
                {
                    var x = await AuthorityResponder.RespondAsync(c, noisePrivate ?? _authority.NoisePrivate, RequestKind.Join, default, (key, _, _) =>
                    {
                        var g = _authority.GrantFor(key);
                        lock (seen) seen.Add(g.Address.GetAddressBytes());
                        if (Interlocked.Decrement(ref drops) >= 0) { c.Close(0); return null; } // the reply is lost
                        return g;
                    }, new GenesisTimeouts(), stop).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
                }
            }
        });
        return (listener, loop, seen);
    }

    [Fact]
    public void A_beacon_heard_while_the_nodes_own_link_local_address_is_tentative_waits_for_it_before_joining()
    {
        using var stop = new CancellationTokenSource(Bound);
        var (listener, loop, seen) = Registrar(dropFirstReplies: 0, stop.Token);
        using (listener)
        {
            var beacon = new VerifiedBeacon((IPEndPoint)listener.LocalEndPoint!, _authority.NoisePublic, 9, 1);
            var tentative = new InterfaceAddress(IPAddress.Parse("fe80::1"), 1, 64, InterfaceAddress.ScopeLink, InterfaceAddress.IFA_F_TENTATIVE, "eth0");
            var usable = tentative with { Flags = 0 };
            var addresses = new ScriptedAddressSource([tentative], [tentative], [tentative], [usable]);
            var log = new List<string>();
            var genesis = new GenesisProtocol(_nvram, EntropyMixer.ForThisMachine(), addresses, new OneBeacon(beacon), new HoldingOptions(), log.Add,
                new GenesisPlan(_authority.Trust, TimeSpan.FromSeconds(5)) { JoinAttempts = 1 });
            genesis.Run(stop.Token);
            Assert.Equal(GenesisPhase.Enrolled, genesis.Phase);
            Assert.True(genesis.EnrolledThisRun);
            Assert.True(addresses.Reads >= 4, "the join waited for the address to leave DAD");
            Assert.Single(seen);
            stop.Cancel();
        }
    }

    [Fact]
    public async Task A_holding_listener_whose_accept_loop_gives_up_is_replaced_by_self_genesis_with_a_console_line()
    {
        // A twin address source: [::1] presented as a usable link-local address, so the node holds on loopback.
        var loopback = new InterfaceAddress(IPAddress.IPv6Loopback, 1, 128, InterfaceAddress.ScopeLink, 0, "eth0");
        var log = new ConcurrentQueue<string>();
        var genesis = new GenesisProtocol(_nvram, EntropyMixer.ForThisMachine(), new ScriptedAddressSource([loopback]), new NoBeaconScanner(), new HoldingOptions { Port = 0 }, log.Enqueue);
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => genesis.Run(stop.Token), TaskCreationOptions.LongRunning);
        try
        {
            Assert.True(SpinWait.SpinUntil(() => genesis.Listener is not null, Bound), "the node never held");
            var first = genesis.Listener!;
            first.TestHook = point =>
            {
                if (point == HoldingPoint.BeforeAccept) throw new InvalidOperationException("listening socket broken");
            };
            using (var wake = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp))
            {
                // Wakes a loop parked in accept (if it had not reached the hook yet it fails without this); from then
                // on it fails every time. Whether this connection is served or reset with the listener does not matter.
                try { wake.Connect(first.LocalEndPoints[0]); } catch (SocketException) { } // refused: it gave up already
            }
            Assert.True(SpinWait.SpinUntil(() => genesis.Listener is { } l && l != first, Bound), "the failed listener was not replaced");
            Assert.Contains(log, l => l.StartsWith("holding listener failed (accept on [::1]:") && l.EndsWith("): re-binding"));
            using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(genesis.Listener!.LocalEndPoints[0]);
            Assert.Equal(GenesisBanner.Format(genesis.PublicKeyBase64!), HoldingListenerTests.ReadLine(client));
        }
        finally
        {
            stop.Cancel();
            await run.WaitAsync(Bound);
        }
    }


    private sealed class OneBeacon(VerifiedBeacon beacon) : IBeaconScanner
    {
        public VerifiedBeacon? Scan(TimeSpan window, CancellationToken cancellation) => beacon;
    }

    [Fact]
    public void Join_stores_the_grant_and_a_retry_after_a_lost_reply_gets_the_same_assignment()
    {
        using var stop = new CancellationTokenSource(Bound);
        var (listener, loop, seen) = Registrar(dropFirstReplies: 1, stop.Token);
        using (listener)
        {
            var beacon = new VerifiedBeacon((IPEndPoint)listener.LocalEndPoint!, _authority.NoisePublic, 9, 1);
            var log = new List<string>();
            var client = new JoinClient(_authority.Trust, new EnrolmentStore(_nvram), log.Add, attempts: 3, retryDelay: TimeSpan.FromMilliseconds(10));
            var outcome = client.Join(_node, beacon, stop.Token);
            Assert.True(outcome.Succeeded, outcome.Failure);
            Assert.Contains(log, l => l.Contains("attempt 1/3"));
            Assert.Equal(2, seen.Count);
            Assert.Equal(seen[0], seen[1]);
            Assert.Equal(new IPAddress(seen[0]), outcome.Grant!.Address);
            var stored = new EnrolmentStore(_nvram).TryLoad(_node.PublicKey, _authority.Trust, out var origin, out _);
            Assert.Equal(outcome.Grant.NodeId, stored!.NodeId);
            Assert.Equal(EnrolmentOrigin.Join, origin);
            stop.Cancel();
        }
    }

    [Fact]
    public void A_registrar_without_the_pinned_authority_key_gets_nothing_stored()
    {
        using var stop = new CancellationTokenSource(Bound);
        var impostor = new TestAuthority();
        var (listener, _, _) = Registrar(0, stop.Token, impostor.NoisePrivate);
        using (listener)
        {
            // A replayed genuine beacon pointing at the impostor's registrar.
            var beacon = new VerifiedBeacon((IPEndPoint)listener.LocalEndPoint!, _authority.NoisePublic, 9, 1);
            var outcome = new JoinClient(_authority.Trust, new EnrolmentStore(_nvram), _ => { }, new GenesisTimeouts { Frame = TimeSpan.FromSeconds(1) }, attempts: 2, retryDelay: TimeSpan.Zero).Join(_node, beacon, stop.Token);
            Assert.False(outcome.Succeeded);
            Assert.Null(_nvram.TryRead(EnrolmentStore.Variable));
            stop.Cancel();
        }
    }

    private static async Task<AuthorityExchange> ClaimAsync(IPEndPoint node, byte[] noisePrivate, byte[] noisePublic, Func<byte[], EnrolmentGrant?> grant, CancellationToken token)
    {
        using var s = new Socket(node.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(node, token);
        var banner = new byte[GenesisBanner.MaxLength];
        int got = 0;
        while (got == 0 || banner[got - 1] != '\n') got += await s.ReceiveAsync(banner.AsMemory(got), SocketFlags.None, token);
        Assert.True(GenesisBanner.TryParse(System.Text.Encoding.ASCII.GetString(banner, 0, got), out var nodeKey));
        var hello = new byte[GenesisWire.ClaimHelloSize];
        Assert.True(GenesisWire.TryWriteClaimHello(hello, noisePrivate, nodeKey, System.Security.Cryptography.RandomNumberGenerator.GetBytes(GenesisWire.ClaimHelloNonceSize)));
        if (!noisePublic.AsSpan().SequenceEqual(hello.AsSpan(8, 32))) noisePublic.CopyTo(hello, 8); // a hello naming a key it was not made with
        await GenesisWire.SendFrameAsync(s, hello, LoopbackHolding.Generous.Frame, token);
        return await AuthorityResponder.RespondAsync(s, noisePrivate, RequestKind.Claim, nodeKey, (k, _, _) => grant(k), LoopbackHolding.Generous, token);
    }

    // Relaxed deadlines: these claims are about who gets in, not about how fast a loaded machine answers.
    private HoldingListener Holding(ClaimHandler claims, HoldingOptions? options = null) =>
        LoopbackHolding.Start(() => GenesisBanner.Format(_node.PublicKeyBase64), claims, options ?? LoopbackHolding.Relaxed);

    [Fact]
    public async Task A_claim_by_the_pinned_authority_stores_the_same_kind_of_enrolment_as_a_join()
    {
        var claims = new ClaimHandler(_node, _authority.Trust, new EnrolmentStore(_nvram), _ => { });
        using var listener = Holding(claims);
        using var stop = new CancellationTokenSource(Bound);
        var x = await ClaimAsync(listener.LocalEndPoints[0], _authority.NoisePrivate, _authority.NoisePublic, _authority.GrantFor, stop.Token);
        Assert.Null(x.Failure);
        Assert.Equal(AckStatus.Persisted, x.Ack);
        Assert.Equal(_node.PublicKey, x.NodePublicKey);
        var grant = await claims.Claimed.WaitAsync(Bound);
        Assert.Equal(x.Grant!.NodeId, grant.NodeId);
        Assert.Equal(EnrolmentOrigin.Claim, (new EnrolmentStore(_nvram).TryLoad(_node.PublicKey, _authority.Trust, out var origin, out _), origin).origin);
    }

    [Fact]
    public async Task A_claim_with_a_key_that_is_not_pinned_is_refused_and_nothing_is_stored()
    {
        var claims = new ClaimHandler(_node, _authority.Trust, new EnrolmentStore(_nvram), _ => { });
        using var listener = Holding(claims);
        using var stop = new CancellationTokenSource(Bound);
        var rogue = new TestAuthority();
        // Names its own key: the node closes after the hello.
        var own = await ClaimAsync(listener.LocalEndPoints[0], rogue.NoisePrivate, rogue.NoisePublic, rogue.GrantFor, stop.Token);
        Assert.NotNull(own.Failure);
        // Names the pinned key without holding it: the node's message 1 cannot be read.
        var spoof = await ClaimAsync(listener.LocalEndPoints[0], rogue.NoisePrivate, _authority.NoisePublic, rogue.GrantFor, stop.Token);
        Assert.NotNull(spoof.Failure);
        Assert.Null(_nvram.TryRead(EnrolmentStore.Variable));
        Assert.False(claims.Claimed.IsCompleted);
    }

    [Fact]
    public async Task A_valid_claim_completes_while_idle_connections_slowloris_and_garbage_flood_the_port()
    {
        var claims = new ClaimHandler(_node, _authority.Trust, new EnrolmentStore(_nvram), _ => { });
        var options = LoopbackHolding.Relaxed with { MaxConnections = 64, PerSourceMaxConnections = 1000, PerSourceRatePerSecond = 10000 };
        using var listener = Holding(claims, options);
        var target = listener.LocalEndPoints[0];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var flood = new List<Socket>();
        try
        {
            for (int i = 0; i < 1000; i++)
            {
                var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                flood.Add(s);
                await s.ConnectAsync(target, stop.Token);
                if (i % 3 == 1) await s.SendAsync(new byte[] { 0x00 }, SocketFlags.None); // slowloris: a byte of a frame header, then silence
                if (i % 3 == 2) await s.SendAsync(new byte[] { 0xff, 0xff, 1, 2, 3 }, SocketFlags.None); // garbage: an oversized frame
            }
            Assert.True(SpinWait.SpinUntil(() => listener.Active <= options.MaxConnections, Bound)); // evicted handlers finish asynchronously
            var x = await ClaimAsync(target, _authority.NoisePrivate, _authority.NoisePublic, _authority.GrantFor, stop.Token);
            Assert.Equal(AckStatus.Persisted, x.Ack);
            Assert.True(listener.Evicted > 0);
        }
        finally
        {
            foreach (var s in flood) s.Dispose();
        }
        Assert.True(SpinWait.SpinUntil(() => listener.Active == 0, Bound));
    }

    [Fact]
    public void Per_source_rate_limit_refuses_a_burst_from_one_address()
    {
        var claims = new ClaimHandler(_node, _authority.Trust, new EnrolmentStore(_nvram), _ => { });
        // The buckets' clock stands still, so however slowly a loaded machine connects, no token comes back:
        // exactly the burst (twice the rate) gets in.
        using var listener = Holding(claims, LoopbackHolding.Relaxed with { PerSourceRatePerSecond = 2, PerSourceMaxConnections = 100, Time = new FakeTimeProvider() });
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(s);
                s.Connect(listener.LocalEndPoints[0]);
            }
            Assert.True(SpinWait.SpinUntil(() => listener.Accepted + listener.Refused == 20, Bound));
            Assert.Equal(4, listener.Accepted);
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    /// <summary>The real blind scan: AF_PACKET in a namespace where the node's interface has no IPv4 address.</summary>
    [Fact]
    public void The_packet_scanner_hears_a_signed_beacon_with_no_ipv4_address_and_ignores_a_rogue_one()
    {
        var ns = $"ppnbcn-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        HostProcess.Run("ip", "netns", "add", ns);
        try
        {
            HostProcess.Run("ip", "-n", ns, "link", "add", "node0", "type", "veth", "peer", "name", "auth0");
            HostProcess.Run("ip", "-n", ns, "link", "set", "node0", "up");
            HostProcess.Run("ip", "-n", ns, "link", "set", "auth0", "up");
            HostProcess.Run("ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", "auth0");
            var path = NetworkNamespace.PathOf(ns);
            var log = new List<string>();
            var scanner = new PacketBeaconScanner(_authority.Trust, TimeSpan.FromMilliseconds(100), l => { lock (log) log.Add(l); });
            using var done = new CancellationTokenSource();
            var rogue = new TestAuthority();
            var registrar = IPAddress.Parse("fe80::99");
            var sender = Task.Run(() => NetworkNamespace.Run(path, () =>
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { EnableBroadcast = true };
                udp.Bind(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 0));
                udp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.DontRoute, true);
                ulong seq = 0;
                while (!done.IsCancellationRequested)
                {
                    udp.SendTo(rogue.Beacon(registrar, 7000, ++seq), new IPEndPoint(IPAddress.Broadcast, 8090));
                    udp.SendTo(_authority.Beacon(registrar, 7000, ++seq), new IPEndPoint(IPAddress.Broadcast, 8090));
                    done.Token.WaitHandle.WaitOne(100);
                }
            }, TimeSpan.FromSeconds(30)));
            var found = NetworkNamespace.Run(path, () => scanner.Scan(TimeSpan.FromSeconds(10), CancellationToken.None), TimeSpan.FromSeconds(20));
            done.Cancel();
            Assert.True(SpinWait.SpinUntil(() => sender.IsCompleted, Bound));
            Assert.NotNull(found);
            Assert.Equal(7000, found!.Registrar.Port);
            Assert.Equal(_authority.NoisePublic, found.AuthorityNoiseKey);
            Assert.True(found.Registrar.Address.ScopeId > 0);
            Assert.True(scanner.Verifier.BadSignature >= 1);
            Assert.DoesNotMatch(@"inet \d", HostProcess.Run("ip", "-n", ns, "-4", "addr", "show", "dev", "node0"));
        }
        finally
        {
            HostProcess.Run("ip", ["netns", "del", ns], check: false);
        }
    }

    [Fact]
    public void The_scan_window_ends_with_nothing_when_no_beacon_comes()
    {
        var ns = $"ppnbcn-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        HostProcess.Run("ip", "netns", "add", ns);
        try
        {
            HostProcess.Run("ip", "-n", ns, "link", "set", "lo", "up");
            var scanner = new PacketBeaconScanner(_authority.Trust, TimeSpan.FromSeconds(1), _ => { });
            var clock = Stopwatch.StartNew();
            var found = NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => scanner.Scan(TimeSpan.FromMilliseconds(600), CancellationToken.None));
            Assert.Null(found);
            // The scanner listened for the whole window before giving up (a lower bound only: no timing goal).
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(550), $"the scan gave up after {clock.Elapsed}");
        }
        finally
        {
            HostProcess.Run("ip", ["netns", "del", ns], check: false);
        }
    }

}
