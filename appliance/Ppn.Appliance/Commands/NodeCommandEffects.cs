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
    // sequence of short ones with a stop check between; every port of the node blinks together slice by slice.
    private void Blink(string[] ports, int seconds, Thread? previous, CancellationToken cancel)
    {
        previous?.Join(TimeSpan.FromSeconds(IdentifySliceSeconds * 2));
        log($"identify: blinking {string.Join(", ", ports)} for {seconds} s");
        int left = seconds;
        while (left > 0 && !cancel.IsCancellationRequested)
        {
            uint slice = (uint)Math.Min(left, IdentifySliceSeconds);
            foreach (var port in ports)
            {
                try
                {
                    machine.Ethtool.IdentifyPort(port, slice);
                }
                catch (Exception e)
                {
                    log($"identify: {port}: {e.Message}");
                    return;
                }
            }
            left -= (int)slice;
        }
        log(cancel.IsCancellationRequested ? "identify: stopped" : "identify: done");
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
