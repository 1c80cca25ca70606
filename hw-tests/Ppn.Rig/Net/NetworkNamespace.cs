using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Rig.Net;

/// <summary>
/// A network namespace the rig owns: the emulated nodes' link lives here, so nothing the rig does
/// touches the host's interfaces. Named <c>ppnrig-&lt;pid&gt;-&lt;n&gt;</c> so a later run can tell
/// which ones an earlier, crashed run left behind (<see cref="DeleteStale"/>).
/// Deleted on Dispose, also when the test failed.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    public const string NamePrefix = "ppnrig-";
    private const string NetnsDirectory = "/var/run/netns";
    private static int s_sequence;
    private bool _disposed;

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>The bind-mounted namespace file <c>ip netns</c> keeps; setns(2) takes an fd of it.</summary>
    public string Path => $"{NetnsDirectory}/{Name}";

    public bool Exists => File.Exists(Path);

    /// <summary>Creates a namespace with a name no other live run uses.</summary>
    public static NetworkNamespace Create()
    {
        var name = string.Create(CultureInfo.InvariantCulture,
            $"{NamePrefix}{Environment.ProcessId}-{Interlocked.Increment(ref s_sequence)}");
        HostCommand.Run("ip", "netns", "add", name);
        return new NetworkNamespace(name);
    }

    /// <summary>
    /// Deletes <c>ppnrig-*</c> namespaces whose creating process is gone, ending the processes (QEMU)
    /// still inside them by pid. Returns the names deleted.
    /// </summary>
    public static IReadOnlyList<string> DeleteStale()
    {
        var deleted = new List<string>();
        var listing = HostCommand.Run("ip", ["netns", "list"], check: false);
        foreach (var raw in listing.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Lines read "name" or "name (id: 3)".
            var name = raw.Split(' ', 2)[0].Trim();
            if (!TryParseOwner(name, out int owner) || owner == Environment.ProcessId || Directory.Exists($"/proc/{owner}"))
            {
                continue;
            }
            var pids = HostCommand.Run("ip", ["netns", "pids", name], check: false);
            foreach (var pidText in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (int.TryParse(pidText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                {
                    try
                    {
                        using var leftover = System.Diagnostics.Process.GetProcessById(pid);
                        leftover.Kill();
                        leftover.WaitForExit(TimeSpan.FromSeconds(5));
                    }
                    catch (ArgumentException)
                    {
                        // Already gone.
                    }
                }
            }
            if (HostCommand.Run("ip", ["netns", "del", name], check: false).ExitCode == 0)
            {
                deleted.Add(name);
            }
        }
        return deleted;
    }

    /// <summary>The pid encoded in a rig namespace name, or false for names the rig did not make.</summary>
    public static bool TryParseOwner(string name, out int pid)
    {
        pid = 0;
        if (!name.StartsWith(NamePrefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = name.AsSpan(NamePrefix.Length);
        int dash = rest.IndexOf('-');
        return dash > 0
            && int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out pid)
            && int.TryParse(rest[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }

    /// <summary>Runs a command inside the namespace (<c>ip netns exec NAME ...</c>).</summary>
    public CommandResult Run(string file, params string[] arguments) =>
        HostCommand.Run("ip", ["netns", "exec", Name, file, .. arguments]);

    /// <summary>
    /// Creates a tap device inside the namespace and brings it up. Duplicate address detection is off on
    /// it: the link has exactly two ends (this tap and one emulated NIC), and a tentative source address
    /// would only delay the first connection.
    /// </summary>
    public string AddTap(string name)
    {
        HostCommand.Run("ip", "-n", Name, "tuntap", "add", "dev", name, "mode", "tap");
        RunInside(() =>
        {
            // /proc/sys/net resolves against the calling thread's namespace.
            File.WriteAllText($"/proc/sys/net/ipv6/conf/{name}/accept_dad", "0");
            return 0;
        }, TimeSpan.FromSeconds(10));
        HostCommand.Run("ip", "-n", Name, "link", "set", name, "up");
        return name;
    }

    /// <summary>Names of the links inside the namespace.</summary>
    public IReadOnlyList<string> Links()
    {
        var output = HostCommand.Run("ip", "-n", Name, "-o", "link", "show").StandardOutput;
        // "2: tap0: <...> ..." ; a name may carry "@peer".
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 3)[1].Trim().Split('@')[0])
            .ToArray();
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a dedicated thread that first joins this namespace (setns(2),
    /// CLONE_NEWNET). Sockets created there stay in the namespace for their whole life, whichever thread
    /// later uses them; the thread itself ends afterwards so no pool thread is left in a foreign namespace.
    /// </summary>
    public T RunInside<T>(Func<T> action, TimeSpan timeout) => Ppn.Linux.Netlink.NetworkNamespace.Run(Path, action, timeout);

    /// <summary>The interface index of <paramref name="interfaceName"/> as seen inside the namespace.</summary>
    public int InterfaceIndex(string interfaceName) => RunInside(() =>
    {
        uint index = LibC.if_nametoindex(interfaceName);
        if (index == 0)
        {
            throw new SyscallException("if_nametoindex", $"{interfaceName} in {Name}",
                System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        }
        return (int)index;
    }, TimeSpan.FromSeconds(10));

    /// <summary>A TCP socket that lives in this namespace (not yet connected).</summary>
    public Socket CreateTcpSocket(AddressFamily family = AddressFamily.InterNetworkV6) =>
        RunInside(() => new Socket(family, SocketType.Stream, ProtocolType.Tcp), TimeSpan.FromSeconds(10));

    /// <summary>
    /// One connection attempt from inside the namespace to [<paramref name="linkLocal"/>%<paramref name="interfaceName"/>]:port.
    /// Throws <see cref="SocketException"/> (refused, unreachable) or <see cref="TimeoutException"/>.
    /// </summary>
    public Socket ConnectTcp(IPAddress linkLocal, string interfaceName, int port, TimeSpan timeout)
    {
        var scoped = new IPAddress(linkLocal.GetAddressBytes(), InterfaceIndex(interfaceName));
        var socket = CreateTcpSocket();
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                socket.ConnectAsync(new IPEndPoint(scoped, port), cts.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException(
                    $"TCP connect to [{scoped}]:{port} in namespace {Name} got no answer within {BoundedWait.Format(timeout)}");
            }
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (Exists)
        {
            HostCommand.Run("ip", ["netns", "del", Name], check: false);
        }
    }
}
