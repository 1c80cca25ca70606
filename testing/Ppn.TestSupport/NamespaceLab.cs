namespace Ppn.TestSupport;

/// <summary>
/// Network namespaces a test makes, each with a name no other live test uses (<c>PREFIX-ROLE-PIDn</c>), loopback up,
/// deleted on Dispose also after a failure (the suite's leak check fails on any left behind). Links and addresses
/// live only inside them; nothing touches the host's interfaces.
/// </summary>
public class NamespaceLab : IDisposable
{
    private static int s_counter;
    private readonly List<string> _namespaces = [];
    private readonly List<IDisposable> _owned = [];
    private readonly string _prefix;

    public NamespaceLab(string prefix = "ppnt") => _prefix = prefix;

    /// <summary>Distinguishes this lab's names from every other live lab's (pid and a per-process counter).</summary>
    public string Suffix { get; } = $"{Environment.ProcessId % 10000}{Interlocked.Increment(ref s_counter)}";

    public IReadOnlyList<string> Namespaces => _namespaces;

    /// <summary>Creates <c>PREFIX-ROLE-SUFFIX</c> with loopback up; removed with the lab. The name fits IFNAMSIZ-free limits of ip netns.</summary>
    public string AddNamespace(string role)
    {
        var name = $"{_prefix}-{role}-{Suffix}";
        HostProcess.Run("ip", "netns", "add", name);
        _namespaces.Add(name);
        HostProcess.Run("ip", "-n", name, "link", "set", "lo", "up");
        return name;
    }

    /// <summary>A veth pair from <paramref name="leftNs"/>/<paramref name="left"/> to <paramref name="rightNs"/>/<paramref name="right"/>, both up.</summary>
    /// <param name="noDad">Switch duplicate address detection off on both ends: a link with exactly two ends, where a tentative address would only delay the first packet.</param>
    public void AddVeth(string leftNs, string left, string rightNs, string right, bool noDad = false)
    {
        HostProcess.Run("ip", "-n", leftNs, "link", "add", left, "type", "veth", "peer", "name", right, "netns", rightNs);
        if (noDad)
        {
            // sh, not sysctl: procps is not among the packages a fresh machine gets (scripts/install-deps.sh).
            HostProcess.RunIn(leftNs, "sh", "-c", $"echo 0 > /proc/sys/net/ipv6/conf/{left}/accept_dad");
            HostProcess.RunIn(rightNs, "sh", "-c", $"echo 0 > /proc/sys/net/ipv6/conf/{right}/accept_dad");
        }
        HostProcess.Run("ip", "-n", leftNs, "link", "set", left, "up");
        HostProcess.Run("ip", "-n", rightNs, "link", "set", right, "up");
    }

    /// <summary>The bind-mounted namespace file setns(2) takes (<c>ip netns add</c> makes it).</summary>
    public static string PathOf(string ns) => $"/var/run/netns/{ns}";

    /// <summary>Something the lab disposes before its namespaces go (a daemon, a process inside one).</summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    public virtual void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try
            {
                _owned[i].Dispose();
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception or TimeoutException)
            {
                // The namespaces must go regardless.
            }
        }
        _owned.Clear();
        foreach (var ns in _namespaces)
        {
            HostProcess.Run("ip", ["netns", "del", ns], check: false);
        }
        _namespaces.Clear();
        GC.SuppressFinalize(this);
    }
}
