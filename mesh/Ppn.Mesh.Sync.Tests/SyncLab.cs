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
/// The lab of the sync namespace tests and benchmarks: the whole sync path on the host: an authority (the simulator with its SQLite pairing registry and sync port), a
/// relay whose configuration has no spoke at all, and three spokes, each in its own network namespace with a
/// wireguard-go ppn0 configured by our agents. Spokes a and b share a LAN with the relay; c has a link of its own.
/// <code>
///  auth 192.168.76.1 ── 192.168.76.2 relay 192.168.78.1 ── 192.168.78.2 c
///                                       192.168.79.1
///                                            │ bridge (ns lan)
///                              a 192.168.79.2 ┴ 192.168.79.3 b
/// </code>
/// </summary>
public sealed record Spoke(string Name, string Ns, string Iface, WireGuardPrivateKey Key, EnrolmentGrant Grant, SpokeSync Agent);

public sealed class SyncLab : IAsyncDisposable
{
    private static int _counter;
    private readonly string _suffix = $"{Environment.ProcessId % 10000}{Interlocked.Increment(ref _counter)}";
    private readonly List<string> _namespaces = [];
    private readonly List<WireGuardGoDaemon> _daemons = [];
    private readonly List<IDisposable> _disposables = [];
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(10));
    private readonly List<Task> _agents = [];
    private DirectoryInfo? _temp;
    private readonly List<string> _log = [];
    public string Log() { lock (_log) return string.Join("\n", _log.TakeLast(40)); }
    private AuthoritySimulator? _authority;


    public async ValueTask DisposeAsync()
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

    public static string Run(string file, params string[] args)
    {
        var (code, output) = TryRun(file, args);
        if (code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}: {output}");
        return output;
    }

    public static (int Code, string Output) TryRun(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(20_000)) { p.Kill(true); p.WaitForExit(5_000); return (-1, "timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>
    /// True when <paramref name="address"/> answers an echo from <paramref name="ns"/> within 5 s. iputils with a
    /// deadline (-w) keeps probing every 0.2 s until one reply (-c 1) or the deadline: one lost or slow packet on a
    /// loaded machine is not a failure, and the call stays bounded. A path that must stay shut is silent for all 5 s.
    /// </summary>
    public static bool Ping(string ns, string address) => TryRun("ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-i", "0.2", "-w", "5", address).Code == 0;

    /// <summary>Waits (bounded) for <paramref name="condition"/>, re-checking on each agent step.</summary>
    public static async Task Eventually(Func<bool> condition, TimeSpan bound, string what, Func<string>? detail = null, int pollMilliseconds = 200)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > bound) throw new TimeoutException($"{what}: not within {bound.TotalSeconds:0} s\n{detail?.Invoke()}");
            await Task.Delay(pollMilliseconds);
        }
    }

    public static MeshAccess Access(string ns, string iface) => new(
        config => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new MeshBringUp(new UapiWireGuard(), new RtnetlinkLinkConfigurator()).Up(iface, config)),
        () => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new UapiWireGuard().Get(iface)),
        family => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new Socket(family, SocketType.Stream, ProtocolType.Tcp)));

    public WireGuardDevice? Device(string ns, string iface) => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new UapiWireGuard().Get(iface));

    public bool RelayHasPeer(ReadOnlySpan<byte> key) => RelayHasPeer(Relay, RelayIface, key);

    public bool RelayHasPeer(string ns, string iface, ReadOnlySpan<byte> key)
    {
        var k = new WireGuardKey(key);
        using var device = Device(ns, iface);
        return device?.Peers.Any(p => p.PublicKey == k) == true;
    }

    /// <summary>
    /// A live ICMP capture on an interface (tshark, line-buffered: one "source TAB destination" line per packet, in
    /// the order the interface saw them). Stopped and reaped on dispose.
    /// </summary>
    public sealed class Capture : IDisposable
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

    public static int Between(IReadOnlyList<(string Source, string Destination)> packets, string x, string y) =>
        packets.Count(p => (p.Source == x && p.Destination == y) || (p.Source == y && p.Destination == x));

    public string Auth { get; private set; } = "";
    public string Relay { get; private set; } = "";
    public string Lan { get; private set; } = "";
    public string A { get; private set; } = "";
    public string B { get; private set; } = "";
    public string C { get; private set; } = "";
    public string RelayIface { get; private set; } = "";
    public AuthorityTrust Trust { get; private set; } = null!;
    public WireGuardPrivateKey HubKey { get; private set; } = null!;
    public RelaySync RelaySync { get; private set; } = null!;
    public FilePeerSetStore RelayStore { get; private set; } = null!;
    public AuthoritySimulator Authority => _authority!;
    public string TempPath => _temp!.FullName;
    public string Dev(string x) => $"{x}{_suffix}";

    /// <summary>Cuts (or heals) the LAN between two spokes with bridge port isolation; both keep the relay's port.</summary>
    public void Isolate(string ns1, string ns2, bool on)
    {
        // (A blackhole route is no cut: wireguard-go sends with IP_PKTINFO naming the interface, which skips it.)
        Run("ip", "netns", "exec", Lan, "bridge", "link", "set", "dev", Dev("l" + _namespaces.IndexOf(ns1)), "isolated", on ? "on" : "off");
        Run("ip", "netns", "exec", Lan, "bridge", "link", "set", "dev", Dev("l" + _namespaces.IndexOf(ns2)), "isolated", on ? "on" : "off");
    }

    public static async Task<SyncLab> StartAsync()
    {
        var lab = new SyncLab();
        try
        {
            await lab.InitAsync();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private async Task InitAsync()
    {
        _temp = Directory.CreateTempSubdirectory("ppn-sync-");
        var auth = Auth = Ns("auth");
        var relay = Relay = Ns("relay");
        var lan = Lan = Ns("lan");
        var a = A = Ns("a");
        var b = B = Ns("b");
        var c = C = Ns("c");
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
        Trust = credential.Trust;
        HubKey = hubKey;

        var relayIface = RelayIface = Dev("wr");
        _daemons.Add(WireGuardGoDaemon.Start(relay, relayIface, TimeSpan.FromSeconds(10)));
        var relayBase = new MeshConfig { PrivateKey = hubKey.Clone(), Address = IpPrefix.Parse("10.8.0.1/24"), ListenPort = 51820, Forwarding = true };
        _disposables.Add(relayBase);
        var relayStore = RelayStore = new FilePeerSetStore(Path.Combine(_temp.FullName, "relay", "peerset"));
        void LogRelay(string m) { lock (_log) _log.Add($"relay: {m}"); }
        var relaySync = RelaySync = new RelaySync(relayBase, new PeerSetState(Trust, hubKey.PublicKey().Bytes, relayStore, LogRelay), IPEndPoint.Parse("192.168.76.1:8091"),
            Access(relay, relayIface), () => NetworkNamespace.Run(NetworkNamespace.PathOf(relay), () => SyncServer.Bind(IPAddress.Parse("10.8.0.1"))), LogRelay);
        _agents.Add(Task.Run(() => relaySync.RunAsync(_stop.Token)));
        await relaySync.Listening.WaitAsync(TimeSpan.FromSeconds(30));

    }

    /// <summary>Enrols a spoke through the registry (the registrar's own assignment) and starts its wireguard-go and sync agent.</summary>
    public Spoke Enrol(string name, string ns)
    {
        var key = WireGuardPrivateKey.Generate();
        _disposables.Add(key);
        // The registrar's own assignment (Registrar calls exactly this after the Noise exchange).
        var grant = Authority.Registry.Assign(key.PublicKey().Bytes, BindingOrigin.Join, (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var iface = Dev("w" + name);
        _daemons.Add(WireGuardGoDaemon.Start(ns, iface, TimeSpan.FromSeconds(10)));
        MeshConfig Enrolled() => new()
        {
            PrivateKey = key.Clone(),
            Address = new IpPrefix(grant.Address, 24),
            Peers = [new MeshPeer(new WireGuardKey(grant.HubPublicKey), grant.HubEndpoint, [IpPrefix.Parse("10.8.0.0/24")], 25)],
        };
        var state = new PeerSetState(Trust, grant.HubPublicKey, new MemoryPeerSetStore());
        var agent = new SpokeSync(Enrolled, key.PublicKey(), state, new IPEndPoint(EnrolmentGrant.HubAddress, SyncWire.DefaultPort), Access(ns, iface), m => { lock (_log) _log.Add($"{name}: {m}"); }, new SyncAgentOptions { PolicyTick = TimeSpan.FromMilliseconds(500) },
            // A probe missed on a loaded machine (a handshake later than ProbeFor) is tried again well inside the tests'
            // bounds, not after the node's five minutes.
            new DirectPathOptions { RetryAfter = TimeSpan.FromSeconds(10) });
        _agents.Add(Task.Run(() => agent.RunAsync(_stop.Token)));
        return new Spoke(name, ns, iface, key, grant, agent);
    }

}
