using System.Diagnostics;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Testing;

/// <summary>
/// One wireguard-go (Debian's userspace WireGuard; build hosts have no kernel module) running inside a network
/// namespace with its interface and UAPI socket, for the mesh's namespace tests and the rig's hub. The one home of
/// the rules learned the hard way: the socket directory exists only once some wireguard-go ran on the machine, a
/// SIGKILLed daemon leaves its socket behind (removed before the start, so the wait cannot pass on a stale file),
/// and the interface itself is waited for, not just the socket.
/// </summary>
public sealed class WireGuardGoDaemon : IDisposable
{
    private readonly Process _process;

    private WireGuardGoDaemon(Process process, string iface)
    {
        _process = process;
        Interface = iface;
    }

    public string Interface { get; }
    public string SocketPath => SocketPathOf(Interface);

    public static string SocketPathOf(string iface) => Path.Combine(UapiWireGuard.DefaultSocketDirectory, iface + ".sock");

    /// <summary>
    /// Starts <c>ip netns exec NS wireguard-go -f IFACE</c> and waits, bounded by <paramref name="timeout"/>, until its
    /// UAPI socket exists and <paramref name="interfaceReady"/> (when given) says the interface does.
    /// </summary>
    public static WireGuardGoDaemon Start(string namespaceName, string iface, TimeSpan timeout, Func<bool>? interfaceReady = null)
    {
        DeleteSocket(SocketPathOf(iface));
        var process = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", namespaceName, "wireguard-go", "-f", iface])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("wireguard-go could not be started (install Debian's wireguard-go)");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var daemon = new WireGuardGoDaemon(process, iface);
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(daemon.SocketPath) || interfaceReady?.Invoke() == false)
            {
                if (process.HasExited) throw new InvalidOperationException($"wireguard-go {iface} exited with {process.ExitCode}");
                if (clock.Elapsed > timeout)
                {
                    throw new TimeoutException($"wireguard-go {iface} in {namespaceName}: no interface and UAPI socket {daemon.SocketPath} within {timeout.TotalSeconds:0} s");
                }
                process.WaitForExit(50); // returns early if the daemon dies
            }
            return daemon;
        }
        catch
        {
            daemon.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        // A killed wireguard-go leaves its UAPI socket file behind.
        DeleteSocket(SocketPath);
    }

    private static void DeleteSocket(string socket)
    {
        try
        {
            File.Delete(socket); // a missing file is no error; a missing directory is
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
