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

/// <summary>Runs only as root with wireguard-go, wg, ip, ping and dumpcap/tshark present; skipped elsewhere.</summary>
public sealed class SyncNamespaceFactAttribute : FactAttribute
{
    public SyncNamespaceFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root for network namespaces";
        else if (new[] { "/usr/bin/wireguard-go", "/usr/bin/ping", "/usr/bin/dumpcap", "/usr/bin/tshark" }.Any(f => !File.Exists(f)))
            Skip = "needs wireguard-go, iputils-ping and tshark (scripts/install-deps.sh)";
    }
}

/// <summary>
/// The whole sync path on the host: an authority (the simulator with its SQLite pairing registry and sync port), a
/// relay whose configuration has no spoke at all, and three spokes, each in its own network namespace with a
/// wireguard-go ppn0 configured by our agents. Spokes a and b share a LAN with the relay; c has a link of its own.
/// <code>
///  auth 192.168.76.1 ── 192.168.76.2 relay 192.168.78.1 ── 192.168.78.2 c
///                                       192.168.79.1
///                                            │ bridge (ns lan)
///                              a 192.168.79.2 ┴ 192.168.79.3 b
/// </code>
/// </summary>
[Collection("sync-namespaces")]
public sealed class MeshSyncNamespaceTests : IAsyncLifetime
{
    private static int _counter;
    private readonly string _suffix = $"{Environment.ProcessId % 10000}{Interlocked.Increment(ref _counter)}";
    private readonly List<string> _namespaces = [];
    private readonly List<WireGuardGoDaemon> _daemons = [];
    private readonly List<IDisposable> _disposables = [];
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(5));
    private readonly List<Task> _agents = [];
    private DirectoryInfo? _temp;
    private readonly List<string> _log = [];
    private string Log() { lock (_log) return string.Join("\n", _log.TakeLast(40)); }
    private AuthoritySimulator? _authority;

    private sealed record Spoke(string Name, string Ns, string Iface, WireGuardPrivateKey Key, EnrolmentGrant Grant, SpokeSync Agent);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        foreach (var agent in _agents)
        {
            try { await agent.WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception e) when (e is OperationCanceledException or TimeoutException) { }
        }
        if (_authority is not null) await _authority.DisposeAsync();
        foreach (var d in _daemons) d.Dispose();
        foreach (var ns in _namespaces) TryRun("ip", "netns", "del", ns);
        foreach (var d in _disposables) d.Dispose();
        _temp?.Delete(recursive: true);
        _stop.Dispose();
    }

    private string Ns(string role)
    {
        var name = $"ppns-{role}-{_suffix}";
        Run("ip", "netns", "add", name);
        _namespaces.Add(name);
        Run("ip", "-n", name, "link", "set", "lo", "up");
        return name;
    }

    private static string Run(string file, params string[] args)
    {
        var (code, output) = TryRun(file, args);
        if (code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}: {output}");
        return output;
    }

    private static (int Code, string Output) TryRun(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(20_000)) { p.Kill(true); p.WaitForExit(5_000); return (-1, "timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static bool Ping(string ns, string address) => TryRun("ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", "1", address).Code == 0;

    /// <summary>Waits (bounded) for <paramref name="condition"/>, re-checking on each agent step.</summary>
    private static async Task Eventually(Func<bool> condition, TimeSpan bound, string what, Func<string>? detail = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > bound) throw new TimeoutException($"{what}: not within {bound.TotalSeconds:0} s\n{detail?.Invoke()}");
            await Task.Delay(200);
        }
    }

    private static MeshAccess Access(string ns, string iface) => new(
        config => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new MeshBringUp(new UapiWireGuard(), new RtnetlinkLinkConfigurator()).Up(iface, config)),
        () => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new UapiWireGuard().Get(iface)),
        family => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new Socket(family, SocketType.Stream, ProtocolType.Tcp)));

    private WireGuardDevice? Device(string ns, string iface) => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new UapiWireGuard().Get(iface));

    private bool RelayHasPeer(string ns, string iface, ReadOnlySpan<byte> key)
    {
        var k = new WireGuardKey(key);
        using var device = Device(ns, iface);
        return device?.Peers.Any(p => p.PublicKey == k) == true;
    }

    /// <summary>
    /// A live ICMP capture on an interface (tshark, line-buffered: one "source TAB destination" line per packet, in
    /// the order the interface saw them). Stopped and reaped on dispose.
    /// </summary>
    private sealed class Capture : IDisposable
    {
        private readonly Process _tshark;
        private readonly List<(string Source, string Destination)> _packets = [];

        public Capture(string ns, string iface)
        {
            _tshark = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns, "tshark", "-i", iface, "-f", "icmp", "-l", "-n", "-T", "fields", "-e", "ip.src", "-e", "ip.dst"])
                { RedirectStandardError = true, RedirectStandardOutput = true })!;
            _tshark.OutputDataReceived += (_, e) =>
            {
                var f = e.Data?.Split('\t');
                if (f is { Length: 2 }) lock (_packets) _packets.Add((f[0], f[1]));
            };
            _tshark.ErrorDataReceived += (_, _) => { };
            _tshark.BeginErrorReadLine();
            _tshark.BeginOutputReadLine();
        }

        public IReadOnlyList<(string Source, string Destination)> Packets { get { lock (_packets) return _packets.ToList(); } }

        public void Clear() { lock (_packets) _packets.Clear(); }

        public void Dispose()
        {
            try { if (!_tshark.HasExited) _tshark.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _tshark.WaitForExit(10_000);
            _tshark.Dispose();
        }
    }

    private static int Between(IReadOnlyList<(string Source, string Destination)> packets, string x, string y) =>
        packets.Count(p => (p.Source == x && p.Destination == y) || (p.Source == y && p.Destination == x));

    [SyncNamespaceFact]
    public async Task The_relay_learns_spokes_from_signed_sets_spokes_go_direct_on_a_shared_lan_fall_back_when_cut_and_a_revoked_spoke_loses_every_path()
    {
        _temp = Directory.CreateTempSubdirectory("ppn-sync-");
        var auth = Ns("auth");
        var relay = Ns("relay");
        var lan = Ns("lan");
        var a = Ns("a");
        var b = Ns("b");
        var c = Ns("c");
        string Dev(string x) => $"{x}{_suffix}";
        Run("ip", "link", "add", Dev("au"), "netns", auth, "type", "veth", "peer", "name", "up0", "netns", relay);
        Run("ip", "-n", auth, "addr", "add", "192.168.76.1/30", "dev", Dev("au"));
        Run("ip", "-n", relay, "addr", "add", "192.168.76.2/30", "dev", "up0");
        Run("ip", "-n", lan, "link", "add", "br0", "type", "bridge");
        foreach (var (ns, address) in new[] { (relay, "192.168.79.1/24"), (a, "192.168.79.2/24"), (b, "192.168.79.3/24") })
        {
            var port = Dev("l" + _namespaces.IndexOf(ns));
            Run("ip", "link", "add", port, "netns", lan, "type", "veth", "peer", "name", "lan0", "netns", ns);
            Run("ip", "-n", lan, "link", "set", port, "master", "br0", "up");
            Run("ip", "-n", ns, "addr", "add", address, "dev", "lan0");
            Run("ip", "-n", ns, "link", "set", "lan0", "up");
        }
        Run("ip", "-n", lan, "link", "set", "br0", "up");
        Run("ip", "link", "add", Dev("rc"), "netns", relay, "type", "veth", "peer", "name", "up0", "netns", c);
        Run("ip", "-n", relay, "addr", "add", "192.168.78.1/30", "dev", Dev("rc"));
        Run("ip", "-n", c, "addr", "add", "192.168.78.2/30", "dev", "up0");
        foreach (var (ns, dev) in new[] { (auth, Dev("au")), (relay, "up0"), (relay, Dev("rc")), (c, "up0") }) Run("ip", "-n", ns, "link", "set", dev, "up");
        // c reaches the relay's LAN address (the grants' hub endpoint) through the relay, which forwards nothing on the underlay.
        Run("ip", "-n", c, "route", "add", "192.168.79.0/24", "via", "192.168.78.1");

        // The relay: its own key and address, forwarding, not one spoke.
        var hubKey = WireGuardPrivateKey.Generate();
        _disposables.Add(hubKey);
        var credential = AuthorityCredential.Generate(IPEndPoint.Parse("192.168.79.1:51820"), hubKey.PublicKey().Bytes, 1);
        _disposables.Add(credential);
        _authority = await AuthoritySimulator.StartAsync(Path.Combine(_temp.FullName, "registry.db"), credential,
            new() { Network = AuthorityNetwork.InNamespace(NetworkNamespace.PathOf(auth)), SyncListen = IPEndPoint.Parse("192.168.76.1:8091") });
        var trust = credential.Trust;

        var relayIface = Dev("wr");
        _daemons.Add(WireGuardGoDaemon.Start(relay, relayIface, TimeSpan.FromSeconds(10)));
        var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
        _disposables.Add(relayBase);
        var relayStore = new FilePeerSetStore(Path.Combine(_temp.FullName, "relay", "peerset"));
        var relayLog = new List<string>();
        void LogRelay(string m) { lock (relayLog) relayLog.Add(m); }
        var relaySync = new RelaySync(relayBase, new PeerSetState(trust, hubKey.PublicKey().Bytes, relayStore, LogRelay), IPEndPoint.Parse("192.168.76.1:8091"),
            Access(relay, relayIface), () => NetworkNamespace.Run(NetworkNamespace.PathOf(relay), () => SyncServer.Bind(IPAddress.Parse("10.8.0.1"))), LogRelay);
        _agents.Add(Task.Run(() => relaySync.RunAsync(_stop.Token)));
        await relaySync.Listening.WaitAsync(TimeSpan.FromSeconds(30));

        var options = new SyncAgentOptions { PolicyTick = TimeSpan.FromMilliseconds(500) };
        Spoke Enrol(string name, string ns)
        {
            var key = WireGuardPrivateKey.Generate();
            _disposables.Add(key);
            // The registrar's own assignment (Registrar calls exactly this after the Noise exchange).
            var grant = _authority!.Registry.Assign(key.PublicKey().Bytes, BindingOrigin.Join, (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            var iface = Dev("w" + name);
            _daemons.Add(WireGuardGoDaemon.Start(ns, iface, TimeSpan.FromSeconds(10)));
            MeshConfig Enrolled() => new()
            {
                PrivateKey = key.Clone(),
                Address = new IpPrefix(grant.Address, 24),
                Peers = [new MeshPeer(new WireGuardKey(grant.HubPublicKey), grant.HubEndpoint, [IpPrefix.Parse("10.8.0.0/24")], 25)],
            };
            var state = new PeerSetState(trust, grant.HubPublicKey, new MemoryPeerSetStore());
            var agent = new SpokeSync(Enrolled, key.PublicKey(), state, new IPEndPoint(EnrolmentGrant.HubAddress, SyncWire.DefaultPort), Access(ns, iface), m => { lock (_log) _log.Add($"{name}: {m}"); }, options);
            _agents.Add(Task.Run(() => agent.RunAsync(_stop.Token)));
            return new Spoke(name, ns, iface, key, grant, agent);
        }

        var sa = Enrol("a", a);
        var sb = Enrol("b", b);
        await Eventually(() => RelayHasPeer(relay, relayIface, sa.Key.PublicKey().Bytes) && RelayHasPeer(relay, relayIface, sb.Key.PublicKey().Bytes), TimeSpan.FromSeconds(10), "the relay adds a and b from the published set");
        await Eventually(() => Ping(a, "10.8.0.1"), TimeSpan.FromSeconds(20), "a reaches the relay");
        var earlySet = relaySync.State.Current!.Bytes;

        // Late enrolment: c is granted after the relay is running; nothing about the relay is rebuilt or restarted.
        var sc = Enrol("c", c);
        await Eventually(() => RelayHasPeer(relay, relayIface, sc.Key.PublicKey().Bytes), TimeSpan.FromSeconds(10), "the relay adds the late spoke c");
        await Eventually(() => Ping(c, sa.Grant.Address.ToString()), TimeSpan.FromSeconds(30), "c reaches a through the relay");
        await Eventually(() => sa.Agent.State.Serial == relaySync.State.Serial && sc.Agent.State.Serial == relaySync.State.Serial, TimeSpan.FromSeconds(30), "the spokes pull the relay's set");

        // a and b share a LAN: they probe the endpoints the relay observed and go direct.
        var akey = sa.Key.PublicKey();
        var bkey = sb.Key.PublicKey();
        await Eventually(() => sa.Agent.StateOf(bkey) == DirectState.Direct && sb.Agent.StateOf(akey) == DirectState.Direct, TimeSpan.FromSeconds(60), "a and b go direct");
        Assert.NotEqual(DirectState.Direct, sa.Agent.StateOf(sc.Key.PublicKey())); // c is not on their LAN
        using (var capture = new Capture(relay, relayIface))
        {
            string A = sa.Grant.Address.ToString(), B = sb.Grant.Address.ToString(), C = sc.Grant.Address.ToString();
            // The capture is live once it shows relayed a <-> c traffic; then a pings b five times and c three times.
            await Eventually(() => Ping(a, C) && Between(capture.Packets, A, C) > 0, TimeSpan.FromSeconds(20), "the relay's capture sees relayed traffic");
            capture.Clear();
            for (int i = 0; i < 5; i++) Assert.True(Ping(a, B), "a pings b directly");
            for (int i = 0; i < 3; i++) Assert.True(Ping(a, C), "a pings c through the relay");
            // Packets are reported in the order the interface saw them: once c's six are in, any a <-> b would be too.
            await Eventually(() => Between(capture.Packets, A, C) >= 6, TimeSpan.FromSeconds(20), "the capture reports the relayed pings");
            Assert.Equal(0, Between(capture.Packets, A, B));
        }

        // Cut the direct link; the hub's path stays: a and b fall back within the stale bound.
        // Bridge port isolation: isolated ports (a's, b's) cannot reach each other, both still reach the relay's port.
        // (A blackhole route is no cut: wireguard-go sends with IP_PKTINFO naming the interface, which skips it.)
        Run("ip", "netns", "exec", lan, "bridge", "link", "set", "dev", Dev("l" + _namespaces.IndexOf(a)), "isolated", "on");
        Run("ip", "netns", "exec", lan, "bridge", "link", "set", "dev", Dev("l" + _namespaces.IndexOf(b)), "isolated", "on");
        await Eventually(() => sa.Agent.StateOf(bkey) != DirectState.Direct && sb.Agent.StateOf(akey) != DirectState.Direct, TimeSpan.FromSeconds(40), "a and b fall back to the relay", () => Log() + TryRun("ip", "netns", "exec", a, "wg", "show", sa.Iface, "dump").Output + TryRun("ip", "-n", a, "route").Output + TryRun("ip", "netns", "exec", a, "ss", "-uanp").Output);
        using (var capture = new Capture(relay, relayIface))
        {
            string A = sa.Grant.Address.ToString(), B = sb.Grant.Address.ToString();
            await Eventually(() => Ping(a, "10.8.0.1") && Between(capture.Packets, A, "10.8.0.1") > 0, TimeSpan.FromSeconds(20), "the relay's capture is live");
            await Eventually(() => Ping(a, B), TimeSpan.FromSeconds(20), "a reaches b through the relay again");
            for (int i = 0; i < 3; i++) Assert.True(Ping(a, B));
            await Eventually(() => Between(capture.Packets, A, B) >= 6, TimeSpan.FromSeconds(20), "a <-> b now crosses the relay");
        }

        // Revoke c: the relay drops it, so does every spoke; a and b keep their path.
        Assert.NotNull(_authority.Revoke(sc.Key.PublicKey().Bytes));
        await Eventually(() => !RelayHasPeer(relay, relayIface, sc.Key.PublicKey().Bytes), TimeSpan.FromSeconds(10), "the relay removes the revoked c");
        await Eventually(() => sa.Agent.State.Current?.IsRevoked(sc.Key.PublicKey().Bytes) == true && sb.Agent.State.Current?.IsRevoked(sc.Key.PublicKey().Bytes) == true,
            TimeSpan.FromSeconds(30), "a and b apply the revocation");
        Assert.False(Ping(c, "10.8.0.1"));
        Assert.False(Ping(c, sa.Grant.Address.ToString()));
        Assert.False(Ping(c, sb.Grant.Address.ToString()));
        Assert.True(Ping(a, sb.Grant.Address.ToString()));
        Assert.True(Ping(b, "10.8.0.1"));
        using (var device = Device(a, sa.Iface)) Assert.DoesNotContain(device!.Peers, p => p.PublicKey == sc.Key.PublicKey());
        Assert.Equal(BindingOrigin.Join, Assert.Single(_authority.Registry.Bindings(), x => x.Address.Equals(sa.Grant.Address)).Origin);
        Assert.Equal(GrantStatus.Refused, _authority.Registry.Assign(sc.Key.PublicKey().Bytes, BindingOrigin.Join, 0).Status); // no way back in

        // A hostile server on the mesh replays the older set and forges one: a refuses both over the wire and counts them.
        var forged = relaySync.State.Current!.Bytes.ToArray();
        forged[PeerSet.HeaderSize + 19] ^= 0x40;
        var serialBefore = sa.Agent.State.Serial;
        foreach (var (document, verdict) in new[] { (earlySet, SetVerdict.NotNewer), (forged, SetVerdict.BadSetSignature) })
        {
            var rogueSource = new FixedSource(document);
            await using var rogue = new SyncServer(NetworkNamespace.Run(NetworkNamespace.PathOf(relay), () => SyncServer.Bind(IPAddress.Parse("10.8.0.1"), 8099)), rogueSource);
            var reply = await SyncClient.ExchangeAsync(IPEndPoint.Parse("10.8.0.1:8099"), 0, Access(a, sa.Iface).CreateSocket, null, _stop.Token);
            Assert.Equal(verdict, sa.Agent.State.Offer(reply.Set, out _));
        }
        Assert.Equal(serialBefore, sa.Agent.State.Serial);
        Assert.True(sa.Agent.State.Refusals[SetVerdict.NotNewer] >= 1 && sa.Agent.State.Refusals[SetVerdict.BadSetSignature] >= 1);

        // The relay's set is persisted: a new state over its store restores it.
        var restored = new PeerSetState(trust, hubKey.PublicKey().Bytes, relayStore);
        Assert.Equal(relaySync.State.Serial, restored.Serial);
    }

    private sealed class FixedSource(byte[] document) : IPeerSetSource
    {
        // Serves these bytes (parsed, not verified: a hostile relay forwards whatever it likes) to a request since 0.
        public PeerSet? Current { get; } = PeerSet.TryParse(document, out var s, out _) ? s : null;
        public Task Changed { get; } = new TaskCompletionSource().Task;
    }
}
