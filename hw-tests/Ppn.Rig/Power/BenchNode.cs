using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Power;

public sealed record BenchNodeOptions
{
    /// <summary>The rig link the board's NIC is cabled to (a NIC in the rig's namespace); null: no link (power and console only).</summary>
    public NodeNetwork? Network { get; init; }

    /// <summary>Console logs go here as &lt;name&gt;.console.log; null: in memory only.</summary>
    public string? LogDirectory { get; init; }

    /// <summary>Lines the UART had buffered when the power went may still drain in this window.</summary>
    public TimeSpan DrainGrace { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the console must stay silent after the port reads off for a power-off to count.</summary>
    public TimeSpan Silence { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Abilities of the board beyond power, console and link (an emulated board: <see cref="NodeAbilities.BootControl"/>).</summary>
    public NodeAbilities Abilities { get; init; }

    /// <summary>For reports: "bench", or "bench (emulated board)".</summary>
    public string Backend { get; init; } = "bench";

    /// <summary>Disposed with the node (the libusb context behind its hub switch).</summary>
    public IDisposable? Owned { get; init; }

    /// <summary>How often the console is reopened while it is away.</summary>
    public TimeSpan ReopenInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// A board on the bench as a scenario drives it: its power switch (a USB hub port, <see cref="IPowerSwitch"/>),
/// its serial console captured continuously (<see cref="ConsoleCapture"/>: the adapter stays plugged in while the
/// board is off, each boot gets its own timestamped <see cref="ConsoleLog"/>), and its MAC on a rig link. A
/// power-off counts only when the port reads back off and the console then stays silent for a bounded time (a
/// board still printing is still powered, whatever the hub says: a second supply, a back-powering adapter).
/// No NVRAM file, no reset button, no factory reset: the rig has only power, console and link.
/// </summary>
public sealed class BenchNode : IRigNode
{
    private static readonly Regex AnyLine = new("");

    private readonly IPowerSwitch _power;
    private readonly ConsoleCapture _capture;
    private readonly BenchNodeOptions _options;
    private readonly ManualResetEventSlim _off = new(true);
    private bool _disposed;
    private int _disconnectsAtPowerOn;
    private readonly object _powerGate = new();

    /// <summary>Starts capturing the console at once; the board is not powered (the port is switched off first when it reads on).</summary>
    public BenchNode(string name, PhysicalAddress mac, IPowerSwitch power, IConsolePort console, BenchNodeOptions? options = null)
    {
        Name = name;
        Mac = mac;
        _power = power;
        _options = options ?? new BenchNodeOptions();
        LogPath = _options.LogDirectory is { } dir ? Path.Combine(dir, $"{name}.console.log") : null;
        Lifecycle = new NodeLifecycle(name, NodeTimeouts.Holding);
        Console = new ConsoleLog(LogPath, $"node {name}: console {console.Describe} attached, not powered on yet");
        try
        {
            // Start from a known state: a board left powered by an earlier run is cut (read back) before the first boot.
            if (power.Status() == PortPower.On)
            {
                power.Set(PortPower.Off);
                Lifecycle.Note($"port read on at start ({power.Describe}): switched off");
            }
        }
        catch
        {
            Console.Dispose();
            throw;
        }
        // Only now: a hub that cannot be read must not leave a reader thread holding the serial device open.
        _capture = new ConsoleCapture(console, Console, _options.ReopenInterval);
    }

    /// <summary>A board from a rig file (<see cref="NodeSpec"/>): its name and MAC.</summary>
    public BenchNode(NodeSpec spec, IPowerSwitch power, IConsolePort console, BenchNodeOptions? options = null)
        : this(spec.Name, spec.Mac, power, console, options)
    {
    }

    public string Name { get; }
    public string Backend => _options.Backend;
    public NodeAbilities Abilities => _options.Abilities;
    public PhysicalAddress Mac { get; }
    public NodeNetwork? Network => _options.Network;
    public IPAddress LinkLocalAddress => Eui64.LinkLocalFromMac(Mac);
    public NodeLifecycle Lifecycle { get; }
    public NodeState State => Lifecycle.State;
    public ConsoleLog Console { get; private set; }
    public string? LogPath { get; }
    public int BootCount { get; private set; }
    public bool IsRunning => !_off.IsSet;
    public WaitHandle Exited => _off.WaitHandle;
    public int? ExitCode => null;
    public IPowerSwitch Power => _power;

    /// <summary>The console capture (connects, disconnects), for probes and tests.</summary>
    public ConsoleCapture Capture => _capture;

    public event Action<IRigNode, ConsoleLine>? ConsoleLine;

    public void PowerOn()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_powerGate)
        {
            PowerOnLocked();
        }
    }

    private void PowerOnLocked()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"node {Name} is {State}; power it off first");
        }
        if (_capture.Fault is { } fault)
        {
            throw new RigInfrastructureException(RigFault.ConsoleGone,
                $"node {Name}: the console capture of {_capture.Describe} stopped ({fault.Message}); without a console nothing the board does can be checked", fault);
        }
        BootCount++;
        _disconnectsAtPowerOn = _capture.Disconnects;
        var log = new ConsoleLog(LogPath, string.Create(CultureInfo.InvariantCulture, $"node {Name} boot {BootCount}: power on via {_power.Describe}"));
        log.LineReceived += line =>
        {
            if (line.Text.StartsWith("ppn: genesis: enrolled by ", StringComparison.Ordinal))
            {
                Lifecycle.TryMoveTo(NodeState.Joined, line.Text);
            }
            ConsoleLine?.Invoke(this, line);
        };
        var previous = Console;
        Console = log;
        _capture.Log = log;
        previous.Dispose();
        _off.Reset();
        Lifecycle.MoveTo(NodeState.Booting, string.Create(CultureInfo.InvariantCulture, $"power on (boot {BootCount}) via {_power.Describe}"));
        try
        {
            _power.Set(PortPower.On);
        }
        catch (Exception failed)
        {
            // The switch may have got half way (one half of a USB 3 hub on, the other refusing; a port on but not read
            // back): a node that counts as off is never cut at cleanup, so cut it now.
            bool cut;
            try
            {
                _power.Set(PortPower.Off);
                cut = true;
            }
            catch (Exception e)
            {
                // Still counted as powered, so the cleanup after the scenario cuts (and reports) it again.
                Lifecycle.Note($"the power did not come on ({failed.Message}), and switching it back off failed: {e.Message}");
                cut = false;
            }
            if (cut)
            {
                log.End("the power did not come on (port switched back off)");
                Lifecycle.MoveTo(NodeState.Off, $"the power did not come on: {failed.Message} (port switched back off)");
                _off.Set();
            }
            throw;
        }
        log.Note($"power on ({_power.Describe}, read back on)");
        Lifecycle.Note($"port reads on ({_power.Describe})");
    }

    /// <summary>Cuts the power, confirmed by the port status and then by <see cref="BenchNodeOptions.Silence"/> of console silence.</summary>
    public PowerOffOutcome PowerOff(TimeSpan? timeout = null)
    {
        if (!IsRunning)
        {
            return PowerOffOutcome.AlreadyOff;
        }
        var silence = timeout ?? _options.Silence;
        var log = Console;
        var cutAt = log.Elapsed;
        lock (_powerGate)
        {
            if (!IsRunning)
            {
                return PowerOffOutcome.AlreadyOff;
            }
            _power.Set(PortPower.Off);
        }
        log.Note($"power cut ({_power.Describe}, read back off)");
        Lifecycle.Note($"power cut ({_power.Describe}, read back off)");
        var window = Deadline.After(silence);
        int from = log.Count;
        ConsoleLine? spoke;
        while ((spoke = log.TryWaitForLine(AnyLine, window.Remaining, from)) is not null && spoke.SincePowerOn < cutAt + _options.DrainGrace)
        {
            from = spoke.Index + 1; // drained from the UART's buffer, not printed after the cut
        }
        if (spoke is not null)
        {
            Lifecycle.Note($"console still printing after the cut: {spoke.Text}");
            throw new RigInfrastructureException(RigFault.PowerNotConfirmed,
                $"node {Name}: the hub reads port {_power.Describe} off, but the console still printed after the cut: '{spoke.Text}'. " +
                "Is the board powered from elsewhere (barrel jack, back-powering serial adapter)?");
        }
        lock (_powerGate)
        {
            if (IsRunning) // not cut meanwhile by Kill
            {
                log.End("power cut");
                Lifecycle.MoveTo(NodeState.Off, $"power off confirmed: port reads off, console silent for {BoundedWait.Format(silence)}");
                _off.Set();
            }
        }
        return PowerOffOutcome.PortSwitchedOff;
    }

    public bool HardCutAt(TimeSpan sincePowerOn)
    {
        if (!ScheduledCut.WaitFor(Console, Exited, sincePowerOn))
        {
            return false;
        }
        Lifecycle.Note(string.Create(CultureInfo.InvariantCulture, $"scheduled hard cut at +{sincePowerOn.TotalSeconds:0.000}s"));
        PowerOff();
        return true;
    }

    /// <summary>The port switched off (read back) without waiting for console silence: cleanup after a scenario.</summary>
    public void Kill()
    {
        // Also called from another thread (an interrupted run cuts every node while the scenario still runs).
        lock (_powerGate)
        {
            if (!IsRunning)
            {
                return;
            }
            _power.Set(PortPower.Off);
            Console.Note($"power cut at cleanup ({_power.Describe}, read back off)");
            Console.End("power cut");
            Lifecycle.MoveTo(NodeState.Off, $"power cut at cleanup ({_power.Describe})");
            _off.Set();
        }
    }

    public void Reset() => throw new NotSupportedException($"node {Name}: {NodeAbilitiesText.Why(NodeAbilities.ResetButton)}; a bench node has only its power switch");

    public void FactoryReset() => throw new NotSupportedException($"node {Name}: {NodeAbilitiesText.Why(NodeAbilities.FactoryReset)}");

    public string NvramPath => throw new NotSupportedException($"node {Name}: {NodeAbilitiesText.Why(NodeAbilities.NvramFile)}");

    /// <summary>
    /// A missing line is the board's failure only when the console was there all along: an adapter that went away
    /// during this boot (unplugged, re-enumerated, its capture failed) may have lost the very line, so that is
    /// <see cref="RigFault.ConsoleGone"/>. (The adapter is powered by the rig host: a board losing power does not
    /// unplug it.)
    /// </summary>
    public ConsoleLine WaitForLine(Regex pattern, TimeSpan timeout, int fromIndex = 0)
    {
        var log = Console;
        if (log.TryWaitForLine(pattern, timeout, fromIndex) is { } line)
        {
            return line;
        }
        var failure = log.NoLine(pattern, timeout, Name);
        if (ConsoleLost() is { } lost)
        {
            Lifecycle.Note($"console lost during the boot: {lost}");
            throw new RigInfrastructureException(RigFault.ConsoleGone,
                $"node {Name}: no console line matching /{pattern}/, but {lost}: lines may be lost, so this is no verdict on the board. " +
                $"Check the USB serial adapter and its cable (ls -l /dev/serial/by-id/).\n{log.FormatTail()}", failure);
        }
        throw failure;
    }

    /// <summary>Why this boot's console may be incomplete, or null when it was connected throughout.</summary>
    private string? ConsoleLost()
    {
        if (_capture.Fault is { } fault)
        {
            return $"the console capture of {_capture.Describe} failed ({fault.Message})";
        }
        int away = _capture.Disconnects - _disconnectsAtPowerOn;
        if (away > 0)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"the console {_capture.Describe} was disconnected {away} time(s) during this boot (last: {_capture.LastDisconnect})");
        }
        return _capture.Connected ? null : $"the console {_capture.Describe} is not connected";
    }

    public NodeFailureException Failure(string what) =>
        new(Name, what, $"{Console.FormatTail()}\n  power: {_power.Describe}");

    public string AwaitGenesisKey(TimeSpan? timeout = null) => HoldingPortProbe.AwaitGenesisKey(this, timeout);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            Kill();
        }
        finally
        {
            _capture.Dispose();
            Console.Dispose();
            (_power as IDisposable)?.Dispose();
            _options.Owned?.Dispose();
        }
    }
}
