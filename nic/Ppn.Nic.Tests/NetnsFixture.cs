using Ppn.Linux.Netlink;

namespace Ppn.Nic.Tests;

/// <summary>
/// A network namespace this test run creates with one veth pair (va, vb), deleted on dispose even when a
/// test failed. Our ioctls run inside it on a dedicated thread that setns(CLONE_NEWNET)s first; a socket
/// belongs to the namespace of the thread that opened it.
/// </summary>
public sealed class NetnsFixture : IDisposable
{
    public string Namespace { get; } = $"ppn-nic-{Environment.ProcessId}-{Guid.NewGuid():N}"[..24];

    public NetnsFixture()
    {
        try
        {
            Run("ip", "netns", "add", Namespace);
            Run("ip", "-n", Namespace, "link", "add", "va", "type", "veth", "peer", "name", "vb");
            Run("ip", "-n", Namespace, "link", "set", "va", "up");
            Run("ip", "-n", Namespace, "link", "set", "vb", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose() => Run("ip", "netns", "del", Namespace, check: false);

    /// <summary>Runs <paramref name="body"/> on a fresh thread inside the namespace; waits at most 30 s.</summary>
    public T InNamespace<T>(Func<T> body) => NetworkNamespace.Run(NetworkNamespace.PathOf(Namespace), body);

    /// <summary>Debian's ethtool in the namespace; its stdout.</summary>
    public string Ethtool(params string[] args) => Run(["ip", "netns", "exec", Namespace, "ethtool", .. args]);

    public static string Run(params string[] argv) => HostProcess.Run(argv[0], argv[1..]);

    private static void Run(string a, string b, string c, string d, bool check) => HostProcess.Run(a, [b, c, d], check);

    /// <summary>"key: value" lines (ethtool -i, ethtool IFACE, ethtool -k), trimmed; later duplicates win.</summary>
    public static Dictionary<string, string> KeyValues(string text)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            map[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return map;
    }
}
