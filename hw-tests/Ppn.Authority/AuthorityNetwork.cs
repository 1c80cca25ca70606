using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Ppn.Genesis.Holding;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Authority;

/// <summary>
/// Where the simulator's sockets live: the test process's own network namespace, or one the test (or the rig)
/// made. A socket created on a thread that joined a namespace (setns(2)) stays there for its whole life,
/// whichever thread uses it later; so every socket, interface lookup and address listing goes through
/// <see cref="Run{T}"/>.
/// </summary>
public sealed class AuthorityNetwork
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private AuthorityNetwork(string? namespacePath) => NamespacePath = namespacePath;

    /// <summary>The calling process's namespace.</summary>
    public static AuthorityNetwork Host { get; } = new(null);

    /// <summary>A namespace by its file, e.g. <c>/var/run/netns/NAME</c> as <c>ip netns add</c> makes it.</summary>
    public static AuthorityNetwork InNamespace(string path) => new(path);

    public string? NamespacePath { get; }

    public T Run<T>(Func<T> action) =>
        NamespacePath is null ? action() : Ppn.Linux.Netlink.NetworkNamespace.Run(NamespacePath, action, Bound);

    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => Run(() => new Socket(family, type, protocol));

    public int InterfaceIndex(string name) => Run(() =>
    {
        uint index = LibC.if_nametoindex(name);
        return index != 0 ? (int)index : throw new ArgumentException($"no interface {name} in {NamespacePath ?? "this namespace"}");
    });

    /// <summary>The usable (not tentative) IPv6 link-local address of <paramref name="interfaceName"/>, scoped to it; null if none yet.</summary>
    public IPAddress? LinkLocalAddress(string interfaceName) => Run(() =>
    {
        // /proc/thread-self/net follows this thread's namespace; /proc/net would follow the process's.
        var text = File.ReadAllText("/proc/thread-self/net/if_inet6");
        var a = ProcNetIfInet6.Parse(text).FirstOrDefault(a => a.InterfaceName == interfaceName && a.IsLinkLocal && !a.IsTentative && !a.DadFailed);
        return a is null ? null : new IPAddress(a.Address.GetAddressBytes(), a.InterfaceIndex);
    });

    /// <summary>The usable link-local address of <paramref name="interfaceName"/> once DAD has finished (polled, bounded).</summary>
    public async Task<IPAddress> WaitForLinkLocalAsync(string interfaceName, TimeSpan bound, CancellationToken cancellation = default)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            if (LinkLocalAddress(interfaceName) is { } address) return address;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{interfaceName} has no usable IPv6 link-local address after {bound.TotalSeconds} s (link down, or DAD not finished)");
            await Task.Delay(50, cancellation);
        }
    }

    /// <summary>The first IPv4 address of <paramref name="interfaceName"/>, or null (the beacon then goes over IPv6 only).</summary>
    public IPAddress? IPv4Address(string interfaceName) => Run(() =>
        NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == interfaceName)?
            .GetIPProperties().UnicastAddresses.Select(u => u.Address).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork));
}
