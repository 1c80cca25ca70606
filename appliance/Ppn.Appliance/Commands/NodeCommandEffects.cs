using Ppn.Commands;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Appliance.Commands;

/// <summary>How PID 1 ends the node's run: reboot(2) after a flush, restarting or powering off.</summary>
public enum PowerAction
{
    PowerOff,
    Reboot,
}

/// <summary>What the node's machine does for each accepted intent; the OS parts come in as small delegates.</summary>
public sealed class NodeMachine
{
    public required IEthtool Ethtool { get; init; }
    public required INicDiscovery Nics { get; init; }
    /// <summary>Flush, then reboot or power off: PID 1's reboot(2).</summary>
    public required Action<PowerAction> Power { get; init; }
    /// <summary>Asks the genesis service to scan for a beacon and refresh the enrolment.</summary>
    public required Action RescanBeacon { get; init; }
    /// <summary>Erases identity, enrolment and command state (the caller reboots afterwards).</summary>
    public required Action EraseGenesis { get; init; }
}

/// <summary>
/// <see cref="ICommandEffects"/> for the appliance. Called on the listener's executor thread, one command at a
/// time: anything that takes long (an LED blink) runs on its own thread so the next command is not held up.
/// </summary>
public sealed class NodeCommandEffects(NodeMachine machine, Action<string> log) : ICommandEffects
{
    /// <summary>PHYS_ID is asked for in slices this long, so a stop (identify 0) takes effect within one slice.</summary>
    public const uint IdentifySliceSeconds = 5;

    private readonly Lock _identifyLock = new();
    private CancellationTokenSource? _identify;
    private Thread? _identifyThread;
    private long _probes;

    public long HealthProbes => Interlocked.Read(ref _probes);

    public void HealthProbe() => Interlocked.Increment(ref _probes);

    public void Identify(int seconds)
    {
        lock (_identifyLock)
        {
            _identify?.Cancel();
            _identify = null;
            if (seconds <= 0)
            {
                log("identify: stop requested");
                return;
            }
            var ports = machine.Nics.List().Where(n => n.IsPhysical).Select(n => n.Name).ToArray();
            if (ports.Length == 0)
            {
                log("identify: no physical NIC to blink");
                return;
            }
            var cancel = new CancellationTokenSource();
            _identify = cancel;
            var previous = _identifyThread;
            _identifyThread = new Thread(() => Blink(ports, seconds, previous, cancel.Token)) { IsBackground = true, Name = "identify" };
            _identifyThread.Start();
        }
    }

    // The kernel blinks for the asked seconds inside the ioctl (ethtool.h ETHTOOL_PHYS_ID), so a long blink is a
    // sequence of short ones with a stop check between. The ioctl blocks for its slice, so each port's slice runs on a
    // thread of its own and every port of the node blinks at the same time: identify n takes n×10 s however many ports
    // the node has. A port whose blink fails is logged once and left out; the others go on.
    private void Blink(string[] ports, int seconds, Thread? previous, CancellationToken cancel)
    {
        previous?.Join(TimeSpan.FromSeconds(IdentifySliceSeconds * 2));
        log($"identify: blinking {string.Join(", ", ports)} for {seconds} s");
        var blinking = ports.ToList();
        int left = seconds;
        while (left > 0 && blinking.Count > 0 && !cancel.IsCancellationRequested)
        {
            uint slice = (uint)Math.Min(left, IdentifySliceSeconds);
            var failed = new string?[blinking.Count];
            var others = new Thread[blinking.Count - 1];
            for (int i = 1; i < blinking.Count; i++)
            {
                int k = i;
                others[i - 1] = new Thread(() => failed[k] = BlinkSlice(blinking[k], slice)) { IsBackground = true, Name = "identify-" + blinking[k] };
                others[i - 1].Start();
            }
            failed[0] = BlinkSlice(blinking[0], slice);
            // The ioctl returns after its slice (the kernel bounds it); the join is bounded too, so a driver that hangs
            // cannot hold the identify thread for ever.
            foreach (var t in others) t.Join(TimeSpan.FromSeconds(slice * 4 + 5));
            for (int i = failed.Length - 1; i >= 0; i--)
            {
                if (failed[i] is { } message)
                {
                    log($"identify: {blinking[i]}: {message}");
                    blinking.RemoveAt(i);
                }
            }
            left -= (int)slice;
        }
        log(cancel.IsCancellationRequested ? "identify: stopped" : blinking.Count == 0 ? "identify: no port could blink" : "identify: done");
    }

    private string? BlinkSlice(string port, uint seconds)
    {
        try
        {
            machine.Ethtool.IdentifyPort(port, seconds);
            return null;
        }
        catch (Exception e)
        {
            return e.Message;
        }
    }

    public void Reboot()
    {
        log("reboot: by authority command");
        machine.Power(PowerAction.Reboot);
    }

    public void Poweroff()
    {
        log("poweroff: by authority command");
        machine.Power(PowerAction.PowerOff);
    }

    public void RetuneNic()
    {
        var report = NicTuner.TuneAll(machine.Ethtool, machine.Nics, message => log($"nic-retune: {message}"));
        log($"nic-retune: {report.Results.Count(r => r.Succeeded)} of {report.Results.Count} NIC(s) tuned");
    }

    public void RescanBeacon()
    {
        log("beacon-rescan: requested");
        machine.RescanBeacon();
    }

    public void GenesisReset()
    {
        log("genesis-reset: erasing identity, enrolment and command state, then rebooting");
        machine.EraseGenesis();
        machine.Power(PowerAction.Reboot);
    }
}
