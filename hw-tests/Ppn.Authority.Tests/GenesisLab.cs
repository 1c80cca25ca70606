using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Ppn.Genesis;

namespace Ppn.Authority.Tests;

/// <summary>
/// Two network namespaces joined by a veth pair: <c>node0</c> in the node's (no IPv4 address, ever) and
/// <c>auth0</c> in the authority's (link-local, plus 192.0.2.1/24 so beacons also go out as IPv4 broadcast).
/// Node processes, namespaces and files are removed on Dispose, also after a failure.
/// </summary>
public sealed class GenesisLab : IDisposable
{
    public const string NodeInterface = "node0";
    public const string AuthorityInterface = "auth0";
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static int s_counter;
    private readonly List<NodeProcess> _nodes = [];

    /// <param name="authorityIPv4">Give auth0 192.0.2.1/24 (beacons then also go out as IPv4 broadcast); false: IPv6 link-local only.</param>
    public GenesisLab(bool authorityIPv4 = true)
    {
        var suffix = $"{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
        NodeNamespace = $"ppngen-n-{suffix}";
        AuthorityNamespace = $"ppngen-a-{suffix}";
        Directory = System.IO.Directory.CreateTempSubdirectory("ppn-genesis-lab-").FullName;
        try
        {
            Ip("netns", "add", NodeNamespace);
            Ip("netns", "add", AuthorityNamespace);
            Ip("-n", NodeNamespace, "link", "add", NodeInterface, "type", "veth", "peer", "name", AuthorityInterface, "netns", AuthorityNamespace);
            // One link with exactly two ends: duplicate address detection would only delay the first packet.
            // sh, not sysctl: procps is not among the packages a fresh machine gets (scripts/install-deps.sh).
            Ip("netns", "exec", NodeNamespace, "sh", "-c", $"echo 0 > /proc/sys/net/ipv6/conf/{NodeInterface}/accept_dad");
            Ip("netns", "exec", AuthorityNamespace, "sh", "-c", $"echo 0 > /proc/sys/net/ipv6/conf/{AuthorityInterface}/accept_dad");
            Ip("-n", NodeNamespace, "link", "set", "lo", "up");
            Ip("-n", AuthorityNamespace, "link", "set", "lo", "up");
            Ip("-n", NodeNamespace, "link", "set", NodeInterface, "up");
            Ip("-n", AuthorityNamespace, "link", "set", AuthorityInterface, "up");
            if (authorityIPv4) Ip("-n", AuthorityNamespace, "addr", "add", "192.0.2.1/24", "dev", AuthorityInterface);
            Network = AuthorityNetwork.InNamespace($"/var/run/netns/{AuthorityNamespace}");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string NodeNamespace { get; }
    public string AuthorityNamespace { get; }
    public string Directory { get; }
    public AuthorityNetwork Network { get; } = AuthorityNetwork.Host;

    /// <summary>A fresh authority (hub 203.0.113.7:51820, epoch 3) for this lab.</summary>
    public static AuthorityCredential NewAuthority() =>
        AuthorityCredential.Generate(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), Enumerable.Repeat((byte)7, 32).ToArray(), 3);

    public Task<AuthoritySimulator> StartAuthorityAsync(AuthorityCredential credential, string name = "registry") =>
        AuthoritySimulator.StartAsync(Path.Combine(Directory, name + ".db"), credential, new AuthoritySimulatorOptions { Network = Network });

    /// <summary>Starts a node process in the node namespace whose image pins <paramref name="pinned"/>.</summary>
    /// <param name="announceSeconds">After a claim, keep 9443 answering with the enrolled banner this long before exiting (0: exit at once).</param>
    public NodeProcess StartNode(AuthorityCredential pinned, int scanWindowSeconds, string name = "node", int announceSeconds = 0)
    {
        var config = Path.Combine(Directory, name + ".json");
        File.WriteAllBytes(config, pinned.NodeConfigFor(TimeSpan.FromSeconds(scanWindowSeconds), TimeSpan.FromSeconds(1)).ToJson());
        var node = NodeProcess.Start(NodeNamespace, Path.Combine(Directory, name + "-nvram"), config, announceSeconds);
        _nodes.Add(node);
        return node;
    }

    /// <summary>Adds link-local addresses fe80::f:1 … to auth0 (flood sources), in one `ip -batch`.</summary>
    public IReadOnlyList<IPAddress> AddAuthoritySourceAddresses(int count)
    {
        var batch = Path.Combine(Directory, "addresses.batch");
        var addresses = Enumerable.Range(1, count).Select(i => IPAddress.Parse($"fe80::f:{i:x}")).ToList();
        File.WriteAllLines(batch, addresses.Select(a => $"addr add {a}/64 dev {AuthorityInterface} nodad"));
        Ip("-n", AuthorityNamespace, "-batch", batch);
        int index = Network.InterfaceIndex(AuthorityInterface);
        return addresses.Select(a => new IPAddress(a.GetAddressBytes(), index)).ToList();
    }

    /// <summary>The node's holding endpoint as the authority reaches it: its link-local address (from its log) scoped to auth0.</summary>
    public IPEndPoint HoldingEndpoint(NodeProcess node)
    {
        var line = node.WaitForLine(new Regex(@"holding on \[(fe80::[0-9a-f:]+)%" + NodeInterface + @"\]:(\d+)"), Bound);
        var m = Regex.Match(line, @"\[(fe80::[0-9a-f:]+)%[^\]]+\]:(\d+)");
        var address = IPAddress.Parse(m.Groups[1].Value);
        return new IPEndPoint(new IPAddress(address.GetAddressBytes(), Network.InterfaceIndex(AuthorityInterface)), int.Parse(m.Groups[2].Value));
    }

    public static string Ip(params string[] args) => HostProcess.Run("ip", args);

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            try { node.Dispose(); } catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { } // the namespaces must go regardless
        }
        foreach (var ns in new[] { NodeNamespace, AuthorityNamespace })
        {
            try { Ip("netns", "del", ns); } catch (InvalidOperationException) { }
        }
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// `ip netns exec NS dotnet Ppn.Rig.GenesisNode.dll …`: the node's genesis as its own process. Its stdout lines
/// are collected; waits on them are bounded. Killed (by its own pid) on Dispose if still running.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly object _gate = new();

    private NodeProcess(Process process) => _process = process;

    public static NodeProcess Start(string ns, string nvram, string config, int announceSeconds = 0)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ppn.Rig.GenesisNode.dll");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns, dotnet, dll, "--nvram", nvram, "--config", config, "--announce-seconds", announceSeconds.ToString() }) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var node = new NodeProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (node._gate) { node._lines.Add(e.Data); Monitor.PulseAll(node._gate); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (node._gate) { node._lines.Add("stderr: " + e.Data); Monitor.PulseAll(node._gate); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    public IReadOnlyList<string> Lines
    {
        get { lock (_gate) return _lines.ToList(); }
    }

    public string Transcript => string.Join('\n', Lines);

    /// <summary>The first line matching <paramref name="pattern"/>, waiting at most <paramref name="timeout"/> for it.</summary>
    public string WaitForLine(Regex pattern, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            while (true)
            {
                var hit = _lines.FirstOrDefault(pattern.IsMatch);
                if (hit is not null) return hit;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) throw new TimeoutException($"the node did not log /{pattern}/ within {timeout.TotalSeconds} s; it said:\n{string.Join('\n', _lines)}");
                Monitor.Wait(_gate, left);
            }
        }
    }

    public bool Logged(string fragment) => Lines.Any(l => l.Contains(fragment, StringComparison.Ordinal));

    /// <summary>Waits (bounded) for the process to end; its exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) throw new TimeoutException($"the node process did not exit within {timeout.TotalSeconds} s; it said:\n{Transcript}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }
}
