using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Ppn.Genesis.Holding;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig;

/// <summary>
/// Reads a node's genesis banner: connects to [fe80::EUI-64%link]:9443 from inside the rig's namespace (a socket
/// made on a thread that setns-ed there), retrying every ~0.5 s while the node boots, reads one line (at most the
/// banner's length and a little slack) and parses it with <see cref="GenesisBanner.TryParse"/>. The same probe
/// for every backend: the bench and the emulator only differ in what is behind the link.
/// </summary>
public static class HoldingPortProbe
{
    public static string AwaitGenesisKey(IRigNode node, TimeSpan? timeout = null)
    {
        var network = node.Network ?? throw new InvalidOperationException($"node {node.Name} has no network");
        var budget = timeout ?? NodeTimeouts.Holding;
        var deadline = Deadline.After(budget);
        var off = node.Exited;
        var lifecycle = node.Lifecycle;
        string lastError = "no attempt made";
        int attempts = 0;
        while (true)
        {
            if (off.WaitOne(0))
            {
                throw node.Failure(node.Abilities.HasFlag(NodeAbilities.SeesExit)
                    ? $"the emulator exited (code {node.ExitCode}) before the holding port answered"
                    : "the node lost power before the holding port answered");
            }
            attempts++;
            try
            {
                using var socket = network.Namespace.ConnectTcp(node.LinkLocalAddress, network.Tap, HoldingOptions.DefaultPort,
                    deadline.Slice(TimeSpan.FromSeconds(5)));
                var line = ReadLine(socket, deadline.Slice(TimeSpan.FromSeconds(15)));
                if (!GenesisBanner.TryParse(line, out var keyBytes))
                {
                    lifecycle.TryMoveTo(NodeState.Failed, $"holding port answered '{Printable(line)}'");
                    throw node.Failure($"the holding port answered '{Printable(line)}', which is not a PPN-GENESIS/1 banner");
                }
                var key = Convert.ToBase64String(keyBytes);
                lifecycle.TryMoveTo(NodeState.Holding, $"holding port answered: PPN-GENESIS/1 {key}");
                node.Console.Note($"holding port answered after {attempts} attempt(s): PPN-GENESIS/1 {key}");
                return key;
            }
            catch (Ppn.Linux.SyscallException e) when (e.Call == "if_nametoindex")
            {
                // The link itself is gone from the rig's namespace (a USB NIC unplugged; it comes back in the host's
                // namespace, never in ours): waiting out the boot budget would end as "the node did not answer".
                lifecycle.Note($"the rig link {network.Tap} is gone: {e.Message}");
                throw new RigInfrastructureException(RigFault.LinkMissing,
                    $"node {node.Name}: the rig link {network.Tap} is gone from {network.Namespace.Name} ({e.Message}); " +
                    "was the NIC unplugged? Plug it back and rerun (the rig moves it into a fresh namespace)", e);
            }
            catch (Exception e) when (e is SocketException or TimeoutException or IOException)
            {
                lastError = e is SocketException se ? $"{se.SocketErrorCode}: {se.Message}" : e.Message;
            }
            if (deadline.HasPassed)
            {
                lifecycle.TryMoveTo(NodeState.Failed, $"holding port silent for {BoundedWait.Format(budget)}");
                throw node.Failure(string.Create(CultureInfo.InvariantCulture,
                    $"holding port [{node.LinkLocalAddress}%{network.Tap}]:{HoldingOptions.DefaultPort} in {network.Namespace.Name} did not answer within {BoundedWait.Format(budget)} ({attempts} attempts; last: {lastError})"));
            }
            // Between attempts: woken early if the node goes off, never past the deadline.
            off.WaitOne(deadline.Slice(TimeSpan.FromMilliseconds(500)));
        }
    }

    /// <summary>Reads one line (up to the banner's length and a little slack), bounded by <paramref name="timeout"/>.</summary>
    private static string ReadLine(Socket socket, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        var received = new List<byte>();
        var buffer = new byte[256];
        while (received.Count < GenesisBanner.MaxLength + 64)
        {
            if (!socket.Poll(deadline.Remaining, SelectMode.SelectRead))
            {
                throw new TimeoutException($"connected, but no banner line within {BoundedWait.Format(timeout)}");
            }
            int n = socket.Receive(buffer);
            if (n == 0)
            {
                break;
            }
            received.AddRange(buffer.AsSpan(0, n));
            int newline = received.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                received.RemoveRange(newline + 1, received.Count - newline - 1);
                break;
            }
        }
        return Encoding.ASCII.GetString(received.ToArray());
    }

    private static string Printable(string text) =>
        new(text.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
}

/// <summary>The schedule of a hard cut, shared by every backend: the moment on the boot's console clock.</summary>
public static class ScheduledCut
{
    /// <summary>
    /// Waits until <paramref name="sincePowerOn"/> has passed on <paramref name="console"/>'s clock (the schedule
    /// itself, not a synchronisation), woken early if <paramref name="off"/> is signalled. True: the moment came
    /// with the node still powered.
    /// </summary>
    public static bool WaitFor(ConsoleLog console, WaitHandle off, TimeSpan sincePowerOn)
    {
        var wait = sincePowerOn - console.Elapsed;
        if (wait > TimeSpan.Zero && off.WaitOne(wait))
        {
            return false;
        }
        return !off.WaitOne(0);
    }
}
