using System.Diagnostics;
using Ppn.Mesh.Testing;

namespace Ppn.Mesh.Tests;

/// <summary>Runs only as root with wireguard-go, wg and ip present (the dev host and CI); skipped elsewhere.</summary>
public sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (Environment.UserName != "root" && !Environment.IsPrivilegedProcess)
            Skip = "needs root for network namespaces";
        else if (!File.Exists("/usr/bin/wireguard-go") || !File.Exists("/usr/bin/wg") || !File.Exists("/usr/bin/ping") || !(File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip")))
            Skip = "needs wireguard-go, wireguard-tools, iputils-ping and iproute2 (scripts/install-deps.sh)";
    }
}

/// <summary>
/// Network namespaces and wireguard-go daemons this test made, removed on dispose (also after a failure).
/// Underlay addresses live only inside these namespaces.
/// </summary>
public sealed class NamespaceLab : IDisposable
{
    private static int _counter;
    private readonly List<string> _namespaces = [];
    private readonly List<WireGuardGoDaemon> _daemons = [];

    public string Suffix { get; } = $"{Environment.ProcessId % 10000}{Interlocked.Increment(ref _counter)}";

    public string AddNamespace(string role)
    {
        var name = $"ppnt-{role}-{Suffix}";
        Run("ip", "netns", "add", name);
        _namespaces.Add(name);
        Run("ip", "-n", name, "link", "set", "lo", "up");
        return name;
    }

    /// <summary>Starts `wireguard-go -f IFACE` inside the namespace and waits (bounded) for its UAPI socket.</summary>
    public void StartWireGuardGo(string ns, string iface) => _daemons.Add(WireGuardGoDaemon.Start(ns, iface, TimeSpan.FromSeconds(10)));

    public static string Run(string file, params string[] args) => RunIn(null, file, args);

    public static string RunIn(string? ns, string file, params string[] args)
    {
        var all = ns is null ? args : ["netns", "exec", ns, file, .. args];
        var start = new ProcessStartInfo(ns is null ? file : "ip", all)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(20_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 20 s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}{stdout.Result}");
        }
        return stdout.Result;
    }

    public static string Pipe(string input, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(input);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(10_000), $"{file} did not finish");
        return output;
    }

    public void Dispose()
    {
        foreach (var daemon in _daemons)
        {
            daemon.Dispose();
        }
        foreach (var ns in _namespaces)
        {
            try { Run("ip", "netns", "del", ns); } catch (InvalidOperationException) { }
        }
    }
}
