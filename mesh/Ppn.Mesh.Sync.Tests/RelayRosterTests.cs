using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using CsCheck;
using Ppn.Genesis;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>The relay roster (docs/protocol/sync.md §Relay roster): codec, every refusal, and the relay's restore path.</summary>
public class RelayRosterTests
{
    private static readonly byte[] Hub = Enumerable.Range(0xa0, 32).Select(i => (byte)i).ToArray();

    internal static RelayRoster Roster(ulong serial, int spokes, byte[]? hub = null) =>
        new(serial, hub ?? Hub, Enumerable.Range(2, spokes).Select(i => new RosterSpoke(new WireGuardKey(SyncVectorTests.NodeKey(i % 200 + 1).Select((b, j) => j == 31 ? (byte)i : b).ToArray()), new IPAddress([10, 8, 0, (byte)i]))));

    /// <summary>Chunk values by index, as an <see cref="IRelayRosterStore"/> would keep them.</summary>
    internal sealed class MemoryRosterStore : IRelayRosterStore
    {
        public readonly Dictionary<int, byte[]> Chunks = [];
        public int Writes;
        public byte[]? Read(int index) => Chunks.TryGetValue(index, out var v) ? v.ToArray() : null;
        public void Write(int index, ReadOnlySpan<byte> value) { Chunks[index] = value.ToArray(); Writes++; }
        public void Delete(int index) => Chunks.Remove(index);
    }

    private static RosterVerdict Read(IReadOnlyList<byte[]?> chunks, out RelayRoster? roster, out string detail, byte[]? relay = null, ulong floor = 0) =>
        RelayRoster.TryRead(i => i < chunks.Count ? chunks[i] : null, relay ?? Hub, floor, out roster, out detail);

    [Fact]
    public void A_full_roster_of_253_spokes_round_trips_in_three_chunks_of_at_most_4_KiB()
    {
        var roster = Roster(41, 253);
        var chunks = roster.ToChunks();
        Assert.Equal(3, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Length <= RelayRoster.MaxChunkSize));
        Assert.Equal(36 + 253 * 36, roster.BodySize);
        Assert.Equal(RosterVerdict.Accepted, Read(chunks, out var back, out var detail));
        Assert.Equal("serial 41: 253 spoke(s)", detail);
        Assert.True(roster.SameAs(back));
    }

    [Fact]
    public void An_empty_roster_is_one_chunk_and_round_trips()
    {
        var chunks = Roster(1, 0).ToChunks();
        Assert.Single(chunks);
        Assert.Equal(RosterVerdict.Accepted, Read(chunks, out var back, out _));
        Assert.Empty(back!.Spokes);
    }

    [Fact]
    public void Nothing_kept_is_none_not_a_refusal() => Assert.Equal(RosterVerdict.None, Read([], out _, out _));

    [Fact]
    public void A_damaged_byte_anywhere_in_a_chunk_is_refused_as_torn_or_malformed_never_read()
    {
        var chunks = Roster(5, 200).ToChunks();
        for (int c = 0; c < chunks.Count; c++)
        {
            foreach (int at in new[] { 8, 16, 20, 24, 40, chunks[c].Length - 1 })
            {
                var damaged = chunks.Select(x => x.ToArray()).ToArray();
                damaged[c][at] ^= 0x10;
                var verdict = Read(damaged, out var roster, out var detail);
                Assert.True(verdict == RosterVerdict.Torn, $"chunk {c} byte {at}: {verdict} ({detail})");
                Assert.Null(roster);
            }
        }
    }

    [Fact]
    public void A_chunk_missing_after_chunk_0_is_torn()
    {
        var chunks = Roster(5, 253).ToChunks();
        Assert.Equal(RosterVerdict.Torn, Read([chunks[0], chunks[1]], out var roster, out var detail));
        Assert.Contains("chunk 2 of 3 is missing", detail);
        Assert.Null(roster);
    }

    [Fact]
    public void Chunks_of_two_writes_are_refused_as_mixed()
    {
        var older = Roster(5, 253).ToChunks();
        var newer = Roster(6, 253).ToChunks();
        Assert.Equal(RosterVerdict.Mixed, Read([newer[0], older[1], newer[2]], out _, out var detail));
        Assert.Contains("serial 5", detail);
        // Same serial, other content (cannot come from one authority, but a foreign write might): the body CRCs differ.
        var other = Roster(6, 252).ToChunks();
        Assert.Equal(RosterVerdict.Mixed, Read([newer[0], other[1], newer[2]], out _, out _));
    }

    [Fact]
    public void Chunks_that_agree_but_do_not_make_their_body_are_refused_as_a_bad_checksum()
    {
        var a = Roster(5, 253).ToChunks().Select(c => c.ToArray()).ToArray();
        // A payload byte of chunk 1 changed and the chunk resealed: every chunk whole and agreeing, the body not.
        a[1][RelayRoster.ChunkHeaderSize + 7] ^= 1;
        Reseal(a[1]);
        Assert.Equal(RosterVerdict.BadChecksum, Read(a, out _, out _));
    }

    private static void Reseal(byte[] chunk)
    {
        var crc = new System.IO.Hashing.Crc32();
        crc.Append(chunk.AsSpan(0, 24));
        crc.Append(chunk.AsSpan(RelayRoster.ChunkHeaderSize));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(24), crc.GetCurrentHashAsUInt32());
    }

    [Fact]
    public void A_roster_for_another_hub_is_refused()
    {
        Assert.Equal(RosterVerdict.WrongHub, Read(Roster(5, 3).ToChunks(), out var roster, out _, relay: new byte[32]));
        Assert.Null(roster);
    }

    [Fact]
    public void A_roster_below_the_serial_floor_is_refused_as_stale_and_at_the_floor_accepted()
    {
        var chunks = Roster(5, 3).ToChunks();
        Assert.Equal(RosterVerdict.Stale, Read(chunks, out var roster, out var detail, floor: 6));
        Assert.Contains("below the floor 6", detail);
        Assert.Null(roster);
        Assert.Equal(RosterVerdict.Accepted, Read(chunks, out _, out _, floor: 5));
    }

    [Fact]
    public void Oversize_values_counts_and_lengths_are_refused()
    {
        var chunks = Roster(5, 3).ToChunks();
        Assert.Equal(RosterVerdict.Oversize, Read([new byte[RelayRoster.MaxChunkSize + 1]], out _, out _));
        var longBody = chunks[0].ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(longBody.AsSpan(16), RelayRoster.MaxBodySize + 1);
        Reseal(longBody);
        Assert.Equal(RosterVerdict.Oversize, Read([longBody], out _, out _));
        Assert.Throws<ArgumentException>(() => Roster(5, 254));
    }

    [Fact]
    public void Layout_errors_are_malformed()
    {
        var good = Roster(5, 3).ToChunks()[0];
        byte[] Edit(Action<byte[]> edit, bool reseal = true) { var c = good.ToArray(); edit(c); if (reseal) Reseal(c); return c; }
        Assert.Equal(RosterVerdict.Malformed, Read([good[..RelayRoster.ChunkHeaderSize]], out _, out _));
        Assert.Equal(RosterVerdict.Malformed, Read([Edit(c => c[0] = (byte)'X')], out _, out _));
        Assert.Equal(RosterVerdict.Malformed, Read([Edit(c => c[4] = 2)], out _, out _));
        Assert.Equal(RosterVerdict.Malformed, Read([Edit(c => c[7] = 1)], out _, out _));
        Assert.Equal(RosterVerdict.Malformed, Read([Edit(c => c[6] = 5)], out _, out _)); // 5 chunks
        Assert.Equal(RosterVerdict.Malformed, Read([Edit(c => c[6] = 2)], out _, out _)); // count does not fit the length
        Assert.Equal(RosterVerdict.Malformed, Read([Edit(c => c.AsSpan(8, 8).Clear())], out _, out _)); // serial 0
        // A body whose own spoke count lies (CRCs made right): malformed, not a shorter roster.
        var lying = Roster(5, 3).EncodeBody();
        lying[33] = 2;
        Assert.Equal(RosterVerdict.Malformed, Read([Seal(5, lying)], out _, out var detail));
        Assert.Contains("2 spokes make", detail);
        var repeated = Roster(5, 3).EncodeBody();
        repeated.AsSpan(36 + 32, 4).CopyTo(repeated.AsSpan(72 + 32, 4)); // spoke 1 gets spoke 0's address
        Assert.Equal(RosterVerdict.Malformed, Read([Seal(5, repeated)], out _, out _));
    }

    /// <summary>A one-chunk value around any body, with correct CRCs (what a foreign writer could produce).</summary>
    private static byte[] Seal(ulong serial, byte[] body)
    {
        var chunk = new byte[RelayRoster.ChunkHeaderSize + body.Length];
        RelayRoster.Magic.CopyTo(chunk);
        chunk[4] = 1; chunk[5] = 0; chunk[6] = 1;
        BinaryPrimitives.WriteUInt64BigEndian(chunk.AsSpan(8), serial);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(16), (uint)body.Length);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(20), System.IO.Hashing.Crc32.HashToUInt32(body));
        body.CopyTo(chunk, RelayRoster.ChunkHeaderSize);
        Reseal(chunk);
        return chunk;
    }

    [Fact]
    public void Any_roster_round_trips_and_any_single_byte_flip_is_refused()
    {
        var gen = Gen.Select(Gen.ULong[1, ulong.MaxValue], Gen.Int[0, 253], Gen.Int[0, 100_000]);
        gen.Sample((serial, n, flip) =>
        {
            var roster = Roster(serial, n);
            var chunks = roster.ToChunks();
            Assert.Equal(RosterVerdict.Accepted, Read(chunks, out var back, out _));
            Assert.True(roster.SameAs(back));
            var damaged = chunks.Select(c => c.ToArray()).ToArray();
            int c = flip % damaged.Length;
            damaged[c][flip % damaged[c].Length] ^= (byte)(1 + flip % 255);
            Assert.NotEqual(RosterVerdict.Accepted, Read(damaged, out var refused, out _));
            Assert.Null(refused);
        }, iter: 200);
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_and_never_read_as_a_roster()
        => Gen.Byte.Array[0, 300].Array[0, 4].Sample(values =>
        {
            Assert.NotEqual(RosterVerdict.Accepted, RelayRoster.TryRead(i => i < values.Length ? values[i] : null, Hub, 0, out _, out _));
        }, iter: 2000);

    [Fact]
    public void Keeping_a_smaller_roster_removes_the_chunks_a_larger_one_left()
    {
        var store = new MemoryRosterStore();
        RelayRosterKeeping.Save(store, Roster(5, 253));
        Assert.Equal(3, store.Chunks.Count);
        RelayRosterKeeping.Save(store, Roster(6, 2));
        Assert.Equal([0], store.Chunks.Keys);
        Assert.Equal(RosterVerdict.Accepted, RelayRosterKeeping.Load(store, Hub, 6, out var back, out _));
        Assert.Equal(2, back!.Spokes.Count);
        RelayRosterKeeping.Erase(store);
        Assert.Empty(store.Chunks);
    }

    // --- the relay's restore path (RelaySync with a recording MeshAccess; no namespace, no WireGuard) ---

    private sealed class RecordingMesh
    {
        public readonly List<IReadOnlyList<MeshPeer>> Applied = [];
        public MeshAccess Access => new(config =>
        {
            lock (Applied) Applied.Add([.. config.Peers]);
            return new BringUpReport("ppn0", "test", [$"{config.Peers.Count} peers"]);
        }, () => null, family => new Socket(family, SocketType.Stream, ProtocolType.Tcp));
        public IReadOnlyList<MeshPeer> Last { get { lock (Applied) return Applied[^1]; } }
    }

    [Fact]
    public async Task A_rebooted_relay_forwards_for_the_kept_roster_before_any_pull_and_the_first_signed_set_replaces_it()
    {
        using var hubKey = WireGuardPrivateKey.Generate();
        using var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
        var hub = hubKey.PublicKey().Bytes.ToArray();
        using var authority = SyncVectorTests.Authority(hub: hub);
        var trust = authority.Trust;
        var grants = Enumerable.Range(2, 3).Select(i => authority.Grant(SyncVectorTests.NodeKey(i), (ulong)i, IPAddress.Parse($"10.8.0.{i}"), 0)).ToList();
        var floor = new MemorySerialFloor();
        var roster = new MemoryRosterStore();
        var log = new List<string>();
        void Log(string m) { lock (log) log.Add(m); }

        // Before the reboot: the relay accepted serial 7 (three spokes) and kept its roster.
        {
            var state = new PeerSetState(trust, hub, new MemoryPeerSetStore(), Log, floor);
            Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(7, 0, hub, grants, [], authority.SigningPrivateKey).Bytes, out _));
            var mesh = new RecordingMesh();
            var relay = new RelaySync(relayBase, state, IPEndPoint.Parse("127.0.0.1:9"), mesh.Access, () => SyncServer.Bind(IPAddress.Loopback, 0), Log, roster: roster);
            Assert.True(await relay.ConvergeAsync());
            Assert.Equal(3, mesh.Last.Count);
            Assert.Equal(RosterVerdict.Accepted, RelayRosterKeeping.Load(roster, hub, 7, out var kept, out _));
            Assert.Equal(3, kept!.Spokes.Count);
        }

        // The reboot: the set's file (RAM) is gone; the floor and the roster (UEFI) are not. The authority is not answering.
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        var authorityEndpoint = (IPEndPoint)server.LocalEndpoint;
        var after = new PeerSetState(trust, hub, new MemoryPeerSetStore(), Log, floor);
        var rebooted = new RecordingMesh();
        var options = new SyncAgentOptions { ConvergeInterval = TimeSpan.FromSeconds(30) };
        var sync = new RelaySync(relayBase, after, authorityEndpoint, rebooted.Access, () => SyncServer.Bind(IPAddress.Loopback, 0), Log, options, roster);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var running = sync.RunAsync(stop.Token);
        await sync.Listening.WaitAsync(TimeSpan.FromSeconds(30));
        // The first bring-up, before any answer from the authority, already carries the three spokes.
        Assert.Equal(["10.8.0.2/32", "10.8.0.3/32", "10.8.0.4/32"], rebooted.Applied[0].Select(p => p.AllowedIPs.Single().ToString()));
        Assert.Equal(SyncStatus.Roster, sync.Status().Source);
        Assert.Equal(7UL, sync.Status().Serial);
        // ...and the roster is not served: the sync server holds no set to give a spoke.
        Assert.Null(after.Current);

        // The authority answers: the pull asks for the floor's own set (since 6), which replaces the roster (a spoke was revoked meanwhile: serial 8).
        using var accepted = await server.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var stream = accepted.GetStream();
        var request = new byte[SyncWire.RequestSize];
        await stream.ReadExactlyAsync(request).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(SyncWire.TryParseRequest(request, out var since));
        Assert.Equal(6UL, since);
        var revocation = Revocation.Sign(4, SyncVectorTests.NodeKey(4), 0, authority.SigningPrivateKey);
        var next = PeerSet.Sign(8, 0, hub, grants.Take(2), [revocation], authority.SigningPrivateKey).Bytes;
        var header = new byte[SyncWire.ReplyHeaderSize];
        SyncWire.WriteReplyHeader(header, ReplyStatus.Set, next.Length, 0);
        await stream.WriteAsync(header);
        await stream.WriteAsync(next);
        await SyncLab.Eventually(() => sync.Status().Source == SyncStatus.Signed && rebooted.Last.Count == 2, TimeSpan.FromSeconds(30), "the signed set replaces the roster");
        Assert.Null(sync.RestoredRoster);
        Assert.Equal(8UL, sync.Status().Serial);
        Assert.Equal(RosterVerdict.Accepted, RelayRosterKeeping.Load(roster, hub, 8, out var rewritten, out _));
        Assert.Equal(2, rewritten!.Spokes.Count);
        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        lock (log) Assert.Contains(log, l => l.StartsWith("relay roster restored: serial 7: 3 spoke(s)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_torn_roster_is_refused_in_one_line_counted_and_the_relay_starts_with_no_spokes()
    {
        using var hubKey = WireGuardPrivateKey.Generate();
        using var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
        using var authority = SyncVectorTests.Authority();
        var roster = new MemoryRosterStore();
        RelayRosterKeeping.Save(roster, Roster(7, 253, hubKey.PublicKey().Bytes.ToArray()));
        roster.Chunks.Remove(2); // the write was cut before the last chunk
        var log = new List<string>();
        var mesh = new RecordingMesh();
        var sync = new RelaySync(relayBase, new PeerSetState(authority.Trust, hubKey.PublicKey().Bytes, new MemoryPeerSetStore()), IPEndPoint.Parse("127.0.0.1:9"),
            mesh.Access, () => SyncServer.Bind(IPAddress.Loopback, 0), m => { lock (log) log.Add(m); }, roster: roster);
        sync.RestoreRoster();
        Assert.True(await sync.ConvergeAsync());
        Assert.Empty(mesh.Last);
        Assert.Equal(1, sync.RosterRefusals[RosterVerdict.Torn]);
        Assert.Equal(1, sync.Status().Refusals["RosterTorn"]);
        Assert.Equal(SyncStatus.NoSet, sync.Status().Source);
        lock (log) Assert.Single(log, l => l.StartsWith("the relay roster is refused (Torn: chunk 2 of 3 is missing", StringComparison.Ordinal));
    }

    [Fact]
    public void A_set_at_the_floor_is_taken_again_after_a_reboot_but_not_while_a_set_is_held()
    {
        using var authority = SyncVectorTests.Authority();
        var floor = new MemorySerialFloor();
        var set7 = PeerSet.Sign(7, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes;
        var before = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore(), floor: floor);
        Assert.Equal(SetVerdict.Accepted, before.Offer(set7, out _));
        Assert.Equal(7UL, before.RequestSince);
        Assert.Equal(SetVerdict.NotNewer, before.Offer(set7, out _));
        var after = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore(), floor: floor);
        Assert.Equal(6UL, after.RequestSince);
        Assert.Equal(SetVerdict.NotNewer, after.Offer(PeerSet.Sign(6, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes, out _));
        Assert.Equal(SetVerdict.Accepted, after.Offer(set7, out _));
        Assert.Equal(SetVerdict.NotNewer, after.Offer(set7, out _));
    }

    [Fact]
    public void A_roster_ahead_of_a_floor_whose_write_failed_raises_the_floor_so_an_older_set_is_not_taken_after_the_reboot()
    {
        using var hubKey = WireGuardPrivateKey.Generate();
        using var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
        using var authority = SyncVectorTests.Authority();
        var hub = hubKey.PublicKey().Bytes.ToArray();
        var roster = new MemoryRosterStore();
        RelayRosterKeeping.Save(roster, Roster(9, 3, hub)); // set 9's roster was kept; its floor write had failed at 5
        var floor = new MemorySerialFloor(5);
        var log = new List<string>();
        var state = new PeerSetState(authority.Trust, hub, new MemoryPeerSetStore(), floor: floor);
        var sync = new RelaySync(relayBase, state, IPEndPoint.Parse("127.0.0.1:9"), new RecordingMesh().Access,
            () => SyncServer.Bind(IPAddress.Loopback, 0), m => { lock (log) log.Add(m); }, roster: roster);
        sync.RestoreRoster();
        Assert.NotNull(sync.RestoredRoster);
        Assert.Equal(9UL, floor.Load());
        Assert.Equal(8UL, state.RequestSince); // the authority's answer is set 9 itself or newer
        Assert.Equal(SetVerdict.NotNewer, state.Offer(PeerSet.Sign(7, 0, hub, [], [], authority.SigningPrivateKey).Bytes, out _));
        Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(9, 0, hub, [], [], authority.SigningPrivateKey).Bytes, out _));
        lock (log) Assert.Contains("the serial floor 5 is below the roster's 9 (a floor write failed): raised to it", log);
    }

    [Fact]
    public async Task A_set_accepted_while_a_converge_runs_is_converged_and_its_roster_kept_at_once_not_at_the_next_interval()
    {
        using var hubKey = WireGuardPrivateKey.Generate();
        using var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
        var hub = hubKey.PublicKey().Bytes.ToArray();
        using var authority = SyncVectorTests.Authority(hub: hub);
        var grants = Enumerable.Range(2, 2).Select(i => authority.Grant(SyncVectorTests.NodeKey(i), (ulong)i, IPAddress.Parse($"10.8.0.{i}"), 0)).ToList();
        var state = new PeerSetState(authority.Trust, hub, new MemoryPeerSetStore(), floor: new MemorySerialFloor());
        var roster = new MemoryRosterStore();
        using var applyingSpokes = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int held = 0;
        // The first bring-up with spokes (set 2's) is held until set 3 has been accepted: two sets in quick succession.
        var access = new MeshAccess(config =>
        {
            if (config.Peers.Count > 0 && Interlocked.Exchange(ref held, 1) == 0)
            {
                applyingSpokes.Set();
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)));
            }
            return new BringUpReport("ppn0", "test", []);
        }, () => null, family => new Socket(family, SocketType.Stream, ProtocolType.Tcp));
        // An interval no test waits out: only the change signal can bring the second converge in time.
        var options = new SyncAgentOptions { ConvergeInterval = TimeSpan.FromHours(1), Backoff = TimeSpan.FromMinutes(10) };
        var sync = new RelaySync(relayBase, state, IPEndPoint.Parse("127.0.0.1:9"), access, () => SyncServer.Bind(IPAddress.Loopback, 0), _ => { }, options, roster);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var running = sync.RunAsync(stop.Token);
        await sync.Listening.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(2, 0, hub, grants, [], authority.SigningPrivateKey).Bytes, out _));
        Assert.True(applyingSpokes.Wait(TimeSpan.FromSeconds(30)), "set 2 was not converged");
        Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(3, 0, hub, grants, [], authority.SigningPrivateKey).Bytes, out _));
        release.Set();
        await SyncLab.Eventually(() => RelayRosterKeeping.Load(roster, hub, 0, out var kept, out _) == RosterVerdict.Accepted && kept!.Serial == 3,
            TimeSpan.FromSeconds(30), "set 3's roster is kept");
        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
