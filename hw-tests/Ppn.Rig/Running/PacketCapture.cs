using System.Diagnostics;
using System.Globalization;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Running;

/// <summary>dumpcap on an interface inside a namespace, started and confirmed capturing before the run begins.</summary>
public sealed class PacketCapture : IDisposable
{
    private static readonly TimeSpan CaptureStart = TimeSpan.FromSeconds(20);

    /// <summary>How many frames of <paramref name="pcap"/> match the display filter.</summary>
    public static int Count(string pcap, string filter) =>
        Tshark(pcap, filter, "frame.number").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>The Info column of the matching frames, for failure messages.</summary>
    public static string Frames(string pcap, string filter) => Tshark(pcap, filter, "_ws.col.Info");

    private static string Tshark(string pcap, string filter, string field)
    {
        try
        {
            return HostCommand.Run("tshark", ["-n", "-r", pcap, "-Y", filter, "-T", "fields", "-e", field], TimeSpan.FromSeconds(60)).StandardOutput;
        }
        catch (Exception e) when (e is RigCommandException or System.ComponentModel.Win32Exception)
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed, $"tshark could not read {pcap}: {e.Message} (install tshark: scripts/install-deps.sh)", e);
        }
    }

    private readonly Process _process;
    private readonly string _file;
    private readonly ManualResetEventSlim _capturing = new(false);
    private readonly List<string> _stderr = [];

    private PacketCapture(Process process, string file)
    {
        _process = process;
        _file = file;
    }

    public static PacketCapture Start(NetworkNamespace ns, string iface, string file)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns.Name, "dumpcap", "-i", iface, "-w", file })
        {
            info.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed, $"cannot start dumpcap: {e.Message}", e);
        }
        var capture = new PacketCapture(process, file);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                capture._capturing.Set(); // stderr closed: dumpcap ended; the check below says why
                return;
            }
            lock (capture._stderr)
            {
                capture._stderr.Add(e.Data);
            }
            if (e.Data.StartsWith("Capturing on", StringComparison.Ordinal))
            {
                capture._capturing.Set();
            }
        };
        process.BeginErrorReadLine();
        if (!capture._capturing.Wait(CaptureStart) || process.HasExited)
        {
            capture.Dispose();
            throw new RigInfrastructureException(RigFault.CaptureFailed,
                $"dumpcap did not start capturing on {iface} in {ns.Name} within {CaptureStart.TotalSeconds:0} s: {capture.StandardError}");
        }
        return capture;
    }

    private string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.Count == 0 ? "(nothing on stderr)" : string.Join(" | ", _stderr);
            }
        }
    }

    /// <summary>Waits (bounded) until a frame matching <paramref name="filter"/> is in the capture file.</summary>
    public void WaitFor(string filter, TimeSpan timeout)
    {
        // The file is still being written: tshark may call it cut short, and still print what it read.
        if (!BoundedWait.TryUntil(() => File.Exists(_file) && HostCommand.Run("tshark", ["-n", "-r", _file, "-Y", filter, "-T", "fields", "-e", "frame.number"],
                TimeSpan.FromSeconds(30), check: false).StandardOutput.Trim().Length > 0, timeout, TimeSpan.FromMilliseconds(500)))
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed,
                $"the rig's marker frame ({filter}) did not reach {_file} within {BoundedWait.Format(timeout)}: {StandardError}");
        }
    }

    /// <summary>SIGINT (dumpcap then writes its last packets and closes the file), bounded; SIGKILL otherwise.</summary>
    public void Stop()
    {
        if (_process.HasExited)
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed, $"dumpcap ended during the run: {StandardError}");
        }
        // `ip netns exec` execs dumpcap in place, so this pid is dumpcap's.
        HostCommand.Run("kill", "-INT", _process.Id.ToString(CultureInfo.InvariantCulture));
        if (!_process.WaitForExit(TimeSpan.FromSeconds(15)))
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed, "dumpcap did not stop within 15 s of SIGINT");
        }
        if (!File.Exists(_file))
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed, $"dumpcap wrote no {_file}: {StandardError}");
        }
    }

    public void Dispose()
    {
        HostCommand.Stop(_process, TimeSpan.FromSeconds(5));
        _capturing.Dispose();
    }
}
