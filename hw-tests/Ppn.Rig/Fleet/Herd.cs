using System.Diagnostics;
using System.Text.RegularExpressions;
using Ppn.Authority;
using Ppn.Genesis;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Fleet;

/// <summary>
/// A fleet of genesis nodes as host processes (hw-tests/Ppn.Rig.GenesisNode: the genesis library as PID 1 runs it,
/// over an emulated efivarfs directory), each in its own network namespace, all on one bridge in the authority's
/// namespace: <c>node0</c> in node <i>i</i>'s namespace is a veth whose peer <c>v<i>i</i></c> is a port of
/// <c>herd0</c>. Nothing is created in the root namespace. Namespaces are made in batches (`ip -batch`), so 253 of
/// them take seconds, not minutes. Dispose kills every node process (by its pid) and deletes every namespace and
/// file, also after a failure.
/// </summary>
public sealed class Herd : IDisposable
{
    public const string Bridge = "herd0";
    public const string NodeInterface = "node0";
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static int s_counter;
    private readonly List<HerdNode> _nodes = [];
    private readonly object _gate = new();
    private readonly List<string> _namespaces = [];

    private Herd(int size)
    {
        Size = size;
        _herd = Interlocked.Increment(ref s_counter);
        Directory = System.IO.Directory.CreateTempSubdirectory("ppn-herd-").FullName;
    }

    public int Size { get; }
    public string Directory { get; }
    private readonly int _herd;
    // Rig namespace names (ppnrig-<pid>-<n>, NetworkNamespace.TryParseOwner), numbered apart from NetworkNamespace.Create's:
    // the namespaces of a run that was killed are deleted by the next rig or herd (NetworkNamespace.DeleteStale).
    private string Namespace(int index) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{NetworkNamespace.NamePrefix}{Environment.ProcessId}-{(900 + _herd) * 1000 + index}");
    public string AuthorityNamespace => Namespace(0);
    public string NodeNamespace(int index) => Namespace(index);
    public AuthorityNetwork Network => AuthorityNetwork.InNamespace($"/var/run/netns/{AuthorityNamespace}");
    /// <summary>Since the herd was made: node events are stamped on it.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();
    public IReadOnlyList<HerdNode> Nodes
    {
        get { lock (_gate) return _nodes.ToList(); }
    }

    /// <summary>The authority namespace with its bridge and <paramref name="size"/> node namespaces plugged into it.</summary>
    public static Herd Create(int size)
    {
        if (size is < 1 or > 999) throw new ArgumentOutOfRangeException(nameof(size), size, "a herd has 1 to 999 nodes");
        NetworkNamespace.DeleteStale();
        var herd = new Herd(size);
        try
        {
            herd.Build();
            return herd;
        }
        catch
        {
            herd.Dispose();
            throw;
        }
    }

    private void Build()
    {
        var names = Enumerable.Range(1, Size).Select(NodeNamespace).ToList();
        // Listed before they exist, so a failure half-way still deletes whatever was made.
        _namespaces.Add(AuthorityNamespace);
        _namespaces.AddRange(names);
        var addNamespaces = Path.Combine(Directory, "netns.batch");
        File.WriteAllLines(addNamespaces, _namespaces.Select(n => $"netns add {n}"));
        Run("ip", "-batch", addNamespaces);
        // Duplicate address detection off before any link exists (links copy the namespace default): one bridge, no
        // duplicates possible, and DAD would only delay every node's first packet by a second. sh, not sysctl:
        // procps is not among the packages a fresh machine gets.
        var dad = string.Join('\n', _namespaces.Select(n =>
            $"ip netns exec {n} sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad; echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad' || exit 1"));
        Run("sh", "-c", dad);
        var links = Path.Combine(Directory, "links.batch");
        var lines = new List<string> { $"link add {Bridge} type bridge", $"link set lo up" };
        for (int i = 1; i <= Size; i++)
        {
            lines.Add($"link add v{i} type veth peer name {NodeInterface} netns {NodeNamespace(i)}");
            lines.Add($"link set v{i} master {Bridge}");
            lines.Add($"link set v{i} up");
        }
        lines.Add($"link set {Bridge} up");
        // Beacons also go out as IPv4 broadcast (as on GenesisLab's link); the node never gets an IPv4 address.
        lines.Add($"addr add 192.0.2.1/24 dev {Bridge}");
        File.WriteAllLines(links, lines);
        Run("ip", "-n", AuthorityNamespace, "-batch", links);
        var up = string.Join('\n', names.Select(n => $"ip -n {n} link set lo up && ip -n {n} link set {NodeInterface} up || exit 1"));
        Run("sh", "-c", up);
    }

    /// <summary>
    /// The genesis node as Native AOT (`make rig-native` publishes it to out/genesis-node/), as the node's own ppn is:
    /// 253 JIT-compiling runtimes on two cores would measure the JIT, not the protocol (in a measured run, 253 JIT
    /// processes took 43 s to start and 19 s to enrol). $PPN_GENESIS_NODE overrides the path.
    /// </summary>
    public static string GenesisNodeExecutable()
    {
        var path = Environment.GetEnvironmentVariable("PPN_GENESIS_NODE") is { Length: > 0 } set ? set
            : Path.Combine(RigEnvironment.RepoRoot, "out", "genesis-node", "Ppn.Rig.GenesisNode");
        return File.Exists(path) ? path
            : throw new RigInfrastructureException(RigFault.ImageMissing, $"no Native AOT genesis node at {path}; run `make rig-native`");
    }

    /// <summary>Writes the image configuration every node of the herd boots with: <paramref name="pinned"/> as its authority.</summary>
    public string WriteConfig(AuthorityCredential pinned, TimeSpan scanWindow, TimeSpan beaconPeriod, string name = "node")
    {
        var path = Path.Combine(Directory, name + ".json");
        File.WriteAllBytes(path, pinned.NodeConfigFor(scanWindow, beaconPeriod).ToJson());
        return path;
    }

    /// <summary>Starts node <paramref name="index"/> (1..Size) with a factory-new NVRAM; returns at once.</summary>
    public HerdNode Start(int index, string config)
    {
        var node = HerdNode.Start(this, index, NodeNamespace(index), Path.Combine(Directory, $"nvram-{index}"), config, Pulse);
        lock (_gate) _nodes.Add(node);
        return node;
    }

    private void Pulse()
    {
        lock (_gate) Monitor.PulseAll(_gate);
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds, re-checking whenever any node logs a line.</summary>
    public void WaitUntil(Func<bool> condition, TimeSpan timeout, Func<string> whatFailed)
    {
        var deadline = Clock.Elapsed + timeout;
        lock (_gate)
        {
            while (!condition())
            {
                var left = deadline - Clock.Elapsed;
                if (left <= TimeSpan.Zero) throw new TimeoutException(whatFailed());
                // Lines pulse; the timeout only bounds a wait for a condition that changes without one (a process exit).
                Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            }
        }
    }

    private static void Run(string file, params string[] args)
    {
        HostCommand.Run(file, args, Bound); // throws RigCommandException with the command's stderr
    }

    public void Dispose()
    {
        foreach (var node in Nodes)
        {
            try { node.Dispose(); } catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { } // the namespaces go regardless
        }
        if (_namespaces.Count > 0)
        {
            var batch = Path.Combine(Directory, "netns-del.batch");
            try
            {
                // -force: one namespace that is already gone must not keep the others.
                File.WriteAllLines(batch, _namespaces.Select(n => $"netns del {n}"));
                HostCommand.Run("ip", ["-force", "-batch", batch], Bound, check: false);
            }
            catch (Exception e) when (e is IOException or RigCommandException)
            {
            }
            foreach (var n in _namespaces.Where(n => File.Exists($"/var/run/netns/{n}")))
            {
                try { HostCommand.Run("ip", ["netns", "del", n], Bound, check: false); } catch (RigCommandException) { }
            }
        }
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// One node of the herd: `ip netns exec NS out/genesis-node/Ppn.Rig.GenesisNode` (ip execs, so the pid is the node's).
/// Its console lines are kept, and the moments it started scanning, failed a join attempt, enrolled or fell back to
/// self-genesis are stamped on the herd's clock.
/// </summary>
public sealed partial class HerdNode : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Herd _herd;
    private readonly Action _pulse;

    private HerdNode(Herd herd, int index, Process process, Action pulse)
    {
        _herd = herd;
        Index = index;
        _process = process;
        _pulse = pulse;
    }

    public int Index { get; }
    public TimeSpan? Scanning { get; private set; }
    public TimeSpan? FirstJoinFailure { get; private set; }
    public TimeSpan? Enrolled { get; private set; }
    public TimeSpan? SelfGenesis { get; private set; }
    public int? JoinAttempts { get; private set; }
    public string? Address { get; private set; }
    public string? Refusal { get; private set; }
    /// <summary>The process ended and both its output streams were read to the end (every line it wrote is in <see cref="Lines"/>).</summary>
    public bool Exited => Volatile.Read(ref _streamsClosed) == 2 && _process.HasExited;
    private int _streamsClosed;

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return _lines.ToList(); }
    }

    public string Transcript => $"node {Index}:\n" + string.Join('\n', Lines);

    [GeneratedRegex(@"RESULT enrolled origin=\w+ node=\d+ address=(\S+) .* join-attempts=(\d+)")]
    private static partial Regex ResultLine();

    internal static HerdNode Start(Herd herd, int index, string ns, string nvram, string config, Action pulse)
    {
        var executable = Herd.GenesisNodeExecutable();
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = false };
        foreach (var a in new[] { "netns", "exec", ns, executable, "--nvram", nvram, "--config", config }) psi.ArgumentList.Add(a);
        // 253 runtimes on two cores: a small GC budget per process.
        psi.Environment["DOTNET_GCgen0size"] = "0x400000";
        var process = Process.Start(psi)!;
        var node = new HerdNode(herd, index, process, pulse);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) node.Saw(e.Data); else node.Closed(); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) node.Saw("stderr: " + e.Data); else node.Closed(); };
        process.Exited += (_, _) => pulse();
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    private void Closed()
    {
        Interlocked.Increment(ref _streamsClosed);
        _pulse();
    }

    private void Saw(string line)
    {
        var now = _herd.Clock.Elapsed;
        lock (_lines) _lines.Add(line);
        if (Scanning is null && line.Contains("scanning for an authority beacon", StringComparison.Ordinal)) Scanning = now;
        if (FirstJoinFailure is null && line.Contains(": genesis: join attempt 1/", StringComparison.Ordinal)) FirstJoinFailure = now;
        if (line.Contains("the authority refused this node: ", StringComparison.Ordinal))
        {
            int at = line.IndexOf("the authority refused this node: ", StringComparison.Ordinal);
            Refusal = line[at..];
        }
        if (SelfGenesis is null && (line.Contains("): self-genesis", StringComparison.Ordinal) || line.Contains("scan window: self-genesis", StringComparison.Ordinal))) SelfGenesis = now;
        if (Enrolled is null && ResultLine().Match(line) is { Success: true } m)
        {
            Address = m.Groups[1].Value;
            JoinAttempts = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            Enrolled = now;
        }
        _pulse();
    }

    public void Dispose() => HostCommand.Stop(_process);
}
