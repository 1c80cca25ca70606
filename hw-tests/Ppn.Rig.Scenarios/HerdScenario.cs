using System.Globalization;
using System.Net;
using Ppn.Authority;
using Ppn.Genesis;
using Ppn.Genesis.Join;
using Ppn.Rig.Fleet;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// Runs wherever network namespaces can be made (root, iproute2); needs no QEMU. `make test` runs the short form
/// (<see cref="HerdScenario.ShortSize"/> nodes against a registry whose pool has exactly that many free addresses),
/// `make hil` (PPN_HIL=full) the full /24: 253 nodes.
/// </summary>
public sealed class HerdFactAttribute : FactAttribute
{
    public HerdFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root for network namespaces";
        else if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip")) Skip = "needs iproute2 (scripts/install-deps.sh)";
    }
}

/// <summary>
/// The fleet at full size (issue: 253 nodes as one herd): genesis node processes, each in its own network namespace on
/// one bridge, enrol with one authority simulator (beacon emitter, registrar, SQLite pairing registry). Figures
/// (time until all enrolled, join attempts per node) are printed, never asserted: they are noisy on a shared machine.
/// </summary>
public class HerdScenario(ITestOutputHelper output)
{
    /// <summary>The short form's herd: enough processes to contend for the registrar, few enough to add seconds to `make test`.</summary>
    public const int ShortSize = 12;
    public const int PoolSize = 253; // 10.8.0.2 .. 10.8.0.254
    private const ushort RegistrarPort = 7443;
    private static readonly TimeSpan BeaconPeriod = TimeSpan.FromSeconds(1);

    private static int Size => RigEnvironment.FullHil ? PoolSize : ShortSize;

    private void Say(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { }
        Console.Out.WriteLine(line);
    }

    private static AuthorityCredential NewAuthority() =>
        AuthorityCredential.Generate(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), Enumerable.Repeat((byte)7, 32).ToArray(), 3);

    /// <summary>Fills the /24 but for <paramref name="free"/> addresses with bindings of keys no node holds.</summary>
    private static void Prefill(PairingRegistry registry, int free)
    {
        for (int i = 0; i < PoolSize - free; i++)
        {
            var key = new byte[32];
            BitConverter.TryWriteBytes(key, i);
            key[31] = 0x5a;
            registry.Assign(key, BindingOrigin.Join, 1_700_000_000);
        }
    }

    private static Registrar StartRegistrar(AuthorityCredential keys, PairingRegistry registry, Herd herd) =>
        new(keys, registry, herd.Network, RegistrarPort, new GenesisTimeouts(), () => (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private static async Task<Task> StartBeaconsAsync(AuthorityCredential keys, Herd herd, CancellationToken stop)
    {
        var network = herd.Network;
        IPAddress? linkLocal = null;
        herd.WaitUntil(() => (linkLocal = network.LinkLocalAddress(Herd.Bridge)) is not null, TimeSpan.FromSeconds(10), () => $"{Herd.Bridge} has no link-local address");
        await Task.Yield();
        return new BeaconEmitter(keys, network).RunAsync(Herd.Bridge, linkLocal!, RegistrarPort, BeaconPeriod, stop);
    }

    private static string Histogram(IEnumerable<HerdNode> nodes) => string.Join(", ",
        nodes.GroupBy(n => n.JoinAttempts ?? 0).OrderBy(g => g.Key).Select(g => $"{g.Count()} node(s) {g.Key} attempt(s)"));

    private static string Transcripts(IEnumerable<HerdNode> nodes, int max = 3) => string.Join("\n\n", nodes.Take(max).Select(n => n.Transcript));

    [HerdFact]
    public async Task A_herd_enrols_with_one_authority_and_the_node_past_a_full_pool_gets_a_signed_refusal_saying_so()
    {
        int size = Size;
        using var herd = Herd.Create(size + 1);
        using var keys = NewAuthority();
        using var registry = PairingRegistry.Open(Path.Combine(herd.Directory, "registry.db"), keys);
        Prefill(registry, free: size);
        var config = herd.WriteConfig(keys, scanWindow: TimeSpan.FromSeconds(30 + size), BeaconPeriod);
        using var stop = new CancellationTokenSource();
        Task? beacons = null;
        Registrar? registrar = null;
        try
        {
            var spawn = herd.Clock.Elapsed;
            for (int i = 1; i <= size; i++) herd.Start(i, config);
            var nodes = herd.Nodes;
            herd.WaitUntil(() => nodes.All(n => n.Scanning is not null), TimeSpan.FromSeconds(30 + size),
                () => $"not every node started scanning:\n{Transcripts(nodes.Where(n => n.Scanning is null))}");
            var scanning = herd.Clock.Elapsed;
            Say($"herd: {size} node processes started and scanning {(scanning - spawn).TotalSeconds:0.0} s after the first spawn");

            registrar = StartRegistrar(keys, registry, herd);
            var first = herd.Clock.Elapsed;
            beacons = await StartBeaconsAsync(keys, herd, stop.Token);
            herd.WaitUntil(() => nodes.All(n => n.Enrolled is not null || n.SelfGenesis is not null || n.Exited), TimeSpan.FromSeconds(60 + size),
                () => $"not every node enrolled:\n{Transcripts(nodes.Where(n => n.Enrolled is null))}");
            var failed = nodes.Where(n => n.Enrolled is null).ToList();
            Assert.True(failed.Count == 0, $"{failed.Count} node(s) did not enrol:\n{Transcripts(failed)}");
            var all = nodes.Max(n => n.Enrolled!.Value) - first;
            var form = size < PoolSize ? $" (short form; `make hil` runs all {PoolSize})" : "";
            Say(string.Create(CultureInfo.InvariantCulture,
                $"herd: {size} nodes enrolled {all.TotalSeconds:0.00} s after the authority came up (median {Median(nodes.Select(n => (n.Enrolled!.Value - first).TotalSeconds)):0.00} s); join attempts: {Histogram(nodes)}{form}"));
            Assert.Equal(size, nodes.Select(n => n.Address).Distinct().Count());
            Assert.Equal(PoolSize, registry.Bindings().Count);

            // The pool is full now: the next node gets a signed refusal that says so, and self-geneses.
            var extra = herd.Start(size + 1, config);
            herd.WaitUntil(() => extra.SelfGenesis is not null || extra.Enrolled is not null || extra.Exited, TimeSpan.FromSeconds(60), () => $"the extra node neither enrolled nor self-genesed:\n{extra.Transcript}");
            Assert.Null(extra.Enrolled);
            Assert.True(extra.Refusal?.StartsWith("the authority refused this node: the address pool is full", StringComparison.Ordinal) == true, extra.Transcript);
            Say($"herd: node {size + 1} on a full pool: \"{extra.Lines.First(l => l.Contains("the authority refused this node", StringComparison.Ordinal))}\"");
            Assert.Equal(PoolSize, registry.Bindings().Count);
        }
        finally
        {
            await stop.CancelAsync();
            if (beacons is not null) await beacons.WaitAsync(Herd.Bound).ContinueWith(_ => { });
            if (registrar is not null) await registrar.DisposeAsync();
        }
    }

    [HerdFact]
    public async Task After_a_power_restore_with_the_registrar_down_no_node_self_geneses_while_it_comes_back_within_the_scan_window()
    {
        int size = Size;
        using var herd = Herd.Create(size);
        using var keys = NewAuthority();
        using var registry = PairingRegistry.Open(Path.Combine(herd.Directory, "registry.db"), keys);
        Prefill(registry, free: size);
        // The scan window bounds how long a node keeps retrying its join (docs/protocol/genesis.md §Join retries).
        var window = TimeSpan.FromSeconds(60 + size / 4);
        var config = herd.WriteConfig(keys, window, BeaconPeriod);
        using var stop = new CancellationTokenSource();
        Task? beacons = null;
        Registrar? registrar = StartRegistrar(keys, registry, herd);
        try
        {
            beacons = await StartBeaconsAsync(keys, herd, stop.Token);
            // The power comes back: the registrar's host is still booting while every node starts in the same second.
            await registrar.DisposeAsync();
            registrar = null;
            var down = herd.Clock.Elapsed;
            for (int i = 1; i <= size; i++) herd.Start(i, config);
            var nodes = herd.Nodes;
            // Mid-way: once every node has found the registrar down at least once, it comes back.
            herd.WaitUntil(() => nodes.All(n => n.FirstJoinFailure is not null || n.SelfGenesis is not null || n.Exited), TimeSpan.FromSeconds(30 + size),
                () => $"not every node tried to join:\n{Transcripts(nodes.Where(n => n.FirstJoinFailure is null))}");
            registrar = StartRegistrar(keys, registry, herd);
            var up = herd.Clock.Elapsed;
            Say($"herd: registrar down for {(up - down).TotalSeconds:0.0} s while {size} nodes started (all had failed a join attempt)");
            herd.WaitUntil(() => nodes.All(n => n.Enrolled is not null || n.SelfGenesis is not null || n.Exited), window + TimeSpan.FromSeconds(30),
                () => $"not every node ended its genesis:\n{Transcripts(nodes.Where(n => n.Enrolled is null))}");
            var selfGenesis = nodes.Where(n => n.SelfGenesis is not null || n.Enrolled is null).ToList();
            Assert.True(selfGenesis.Count == 0, $"{selfGenesis.Count} node(s) fell back to self-genesis:\n{Transcripts(selfGenesis)}");
            var all = nodes.Max(n => n.Enrolled!.Value) - up;
            Say(string.Create(CultureInfo.InvariantCulture,
                $"herd: power restore: all {size} enrolled {all.TotalSeconds:0.00} s after the registrar came back; join attempts: {Histogram(nodes)}"));
            Assert.Equal(size, nodes.Select(n => n.Address).Distinct().Count());
        }
        finally
        {
            await stop.CancelAsync();
            if (beacons is not null) await beacons.WaitAsync(Herd.Bound).ContinueWith(_ => { });
            if (registrar is not null) await registrar.DisposeAsync();
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }
}
