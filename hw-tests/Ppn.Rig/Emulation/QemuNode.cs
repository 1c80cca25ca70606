using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Emulation;

/// <summary>The link a node's NIC is on: a tap (or a bench NIC) inside the rig's namespace.</summary>
public sealed record NodeNetwork(NetworkNamespace Namespace, string Tap);

/// <summary>
/// The NIC QEMU gives the node. VirtioNet is the default (fast under TCG); E1000e is Intel's 82574L, driven in
/// the guest by the real e1000e driver, which implements rings, coalescing and pause through ethtool
/// (the NIC self-test needs a real driver; virtio-net implements almost none of it).
/// </summary>
public enum NicModel
{
    VirtioNet,
    E1000e,
}

public sealed class QemuNodeOptions
{
    public required string Name { get; init; }
    public required BootSource Boot { get; init; }

    /// <summary>The node's NVRAM (a copy of OVMF_VARS); the same file across boots is the same node.</summary>
    public required string NvramPath { get; init; }

    /// <summary>Console logs go here as &lt;name&gt;.console.log.</summary>
    public required string LogDirectory { get; init; }

    public PhysicalAddress Mac { get; init; } = MacAddress.NewEmulated();
    public NodeNetwork? Network { get; init; }
    public NicModel Nic { get; init; } = NicModel.VirtioNet;
    /// <summary>The rig holds the machine's emulator slot for all its nodes (an emulated LAN of several nodes).</summary>
    public bool SlotHeldByRig { get; init; }
    public int MemoryMiB { get; init; } = 512;
}

/// <summary>
/// The emulated backend of a node: QEMU (<see cref="QemuArguments"/>: q35, TCG, OVMF with the node's own NVRAM
/// file) in an <see cref="EmulatorProcess"/>, its serial console on stdout read by <see cref="EmulatorOutput"/>,
/// its NIC on a tap inside the rig's namespace, power through <see cref="QmpClient"/>, states in
/// <see cref="NodeLifecycle"/>, the banner read by <see cref="HoldingPortProbe"/>. A node can be powered on again
/// after a power-off; it keeps its NVRAM and MAC (the same machine). Dispose always kills a running emulator.
/// </summary>
public sealed class QemuNode : IRigNode
{
    public static TimeSpan DefaultHoldingTimeout => NodeTimeouts.Holding;

    private static readonly TimeSpan QmpConnectTimeout = TimeSpan.FromSeconds(30);

    private readonly QemuNodeOptions _options;
    private readonly string _qmpPath = QemuArguments.NewQmpPath();
    private EmulatorProcess? _process;
    private QmpClient? _qmp;
    private EmulatorSlot? _slot;
    private ManualResetEventSlim _exited = new(true);
    private bool _disposed;

    public QemuNode(QemuNodeOptions options)
    {
        _options = options;
        Console = new ConsoleLog(null, "not powered on yet");
        Lifecycle = new NodeLifecycle(options.Name, NodeTimeouts.Holding);
    }

    public NodeLifecycle Lifecycle { get; }
    public string Name => _options.Name;
    public string Backend => "qemu";

    public NodeAbilities Abilities => NodeAbilities.NvramFile | NodeAbilities.FactoryReset | NodeAbilities.ResetButton
        | NodeAbilities.BootControl | NodeAbilities.NicChoice | NodeAbilities.SeesExit
        | (_options.SlotHeldByRig ? NodeAbilities.Lan : NodeAbilities.None);

    public PhysicalAddress Mac => _options.Mac;
    public string NvramPath => _options.NvramPath;
    public NodeNetwork? Network => _options.Network;
    public string LogPath => Path.Combine(_options.LogDirectory, $"{Name}.console.log");
    public IPAddress LinkLocalAddress => Eui64.LinkLocalFromMac(Mac);
    public int BootCount { get; private set; }
    public ConsoleLog Console { get; private set; }
    public event Action<IRigNode, ConsoleLine>? ConsoleLine;
    public NodeState State => Lifecycle.State;
    public bool IsRunning => !_exited.IsSet;
    public WaitHandle Exited => _exited.WaitHandle;
    public int? ExitCode => _process?.ExitCode;

    /// <summary>The QEMU command this node runs, as a readable line (for logs and failure messages).</summary>
    public string CommandLine => HostCommand.Describe("", BuildArguments()).Trim();

    internal IReadOnlyList<string> BuildArguments() => QemuArguments.For(new QemuMachine
    {
        Name = Name,
        Boot = _options.Boot,
        NvramPath = NvramPath,
        QmpPath = _qmpPath,
        Mac = Mac,
        Network = _options.Network,
        Nic = _options.Nic,
        MemoryMiB = _options.MemoryMiB,
    });

    /// <summary>What QEMU printed on stderr during this boot.</summary>
    public string StandardError => _process?.Output.StandardError ?? "(nothing)";

    /// <summary>
    /// Starts the emulator (Off → Booting). Takes the machine's emulator slot first, so this may wait while
    /// another rig's node runs. Throws <see cref="RigInfrastructureException"/> when QEMU does not come up.
    /// </summary>
    public void PowerOn()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsRunning)
        {
            throw new InvalidOperationException($"node {Name} is {State}; power it off first");
        }
        if (!File.Exists(NvramPath))
        {
            throw new FileNotFoundException($"node {Name} has no NVRAM file at {NvramPath}", NvramPath);
        }
        try
        {
            _slot = _options.SlotHeldByRig ? null : EmulatorSlot.Acquire();
        }
        catch (TimeoutException e)
        {
            throw new RigInfrastructureException(RigFault.EmulatorSlotBusy, $"node {Name}: {e.Message}", e);
        }
        try
        {
            Start();
        }
        catch
        {
            Kill();
            throw;
        }
    }

    private void Start()
    {
        BootCount++;
        Console.Dispose();
        var console = new ConsoleLog(LogPath, string.Create(CultureInfo.InvariantCulture, $"node {Name} boot {BootCount}: {CommandLine}"));
        console.LineReceived += line =>
        {
            if (line.Text.StartsWith("ppn: genesis: enrolled by ", StringComparison.Ordinal))
            {
                Lifecycle.TryMoveTo(NodeState.Joined, line.Text);
            }
            ConsoleLine?.Invoke(this, line);
        };
        Console = console;
        Directory.CreateDirectory(Path.GetDirectoryName(_qmpPath)!);
        File.Delete(_qmpPath);

        _exited = new ManualResetEventSlim(false);
        Lifecycle.MoveTo(NodeState.Booting, string.Create(CultureInfo.InvariantCulture, $"power on (boot {BootCount})"));
        EmulatorProcess process;
        try
        {
            process = EmulatorProcess.Start(Name, BuildArguments(), _options.Network?.Namespace, console, stdoutIsConsole: true, OnExited);
        }
        catch (RigInfrastructureException)
        {
            console.End("the emulator never started");
            Lifecycle.MoveTo(NodeState.Off, "the emulator never started");
            _exited.Set();
            throw;
        }
        _process = process;
        _exited = process.Exited;
        console.Note($"pid {process.Pid}");
        Lifecycle.Note($"emulator pid {process.Pid}");
        try
        {
            _qmp = QmpClient.Connect(_qmpPath, QmpConnectTimeout);
        }
        catch (QmpException e)
        {
            process.Exited.Wait(TimeSpan.FromSeconds(2));
            throw new RigInfrastructureException(RigFault.EmulatorDidNotStart,
                $"node {Name}: QEMU did not come up ({e.Message}); exit code {(process.HasExited ? process.ExitCode : "(still running)")}; stderr: {StandardError}", e);
        }
    }

    private void OnExited(int code)
    {
        Console.End(string.Create(CultureInfo.InvariantCulture, $"emulator exited with code {code}"));
        Lifecycle.MoveTo(NodeState.Off, string.Create(CultureInfo.InvariantCulture, $"emulator exited (code {code})"));
        _slot?.Dispose();
        _slot = null;
    }

    /// <summary>QEMU's run state via QMP query-status ("running", "paused", ...).</summary>
    public string QueryStatus() => RequireQmp().QueryStatus();

    /// <summary>The reset button (QMP system_reset): the guest restarts without shutting down.</summary>
    public void Reset()
    {
        RequireQmp().SystemReset();
        Console.Note("system_reset");
        if (!Lifecycle.TryMoveTo(NodeState.Booting, "reset button (QMP system_reset)"))
        {
            Lifecycle.Note("reset button (QMP system_reset)");
        }
    }

    /// <summary>Another factory-new machine in the same slot: a fresh NVRAM file (the node must be off).</summary>
    public void FactoryReset()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"node {Name} is {State}; power it off before a factory reset");
        }
        NvramFile.CreateFactoryNew(NvramPath);
        Lifecycle.Note("factory reset: NVRAM made factory-new");
    }

    private QmpClient RequireQmp() =>
        IsRunning && _qmp is { } qmp ? qmp : throw new InvalidOperationException($"node {Name} is not running");

    /// <summary>
    /// Hard power-off: QMP quit (the guest gets no warning; what it had not written is lost), the process
    /// killed if it does not end within <paramref name="timeout"/>. Returns once the emulator is gone.
    /// </summary>
    public PowerOffOutcome PowerOff(TimeSpan? timeout = null)
    {
        var budget = timeout ?? TimeSpan.FromSeconds(15);
        if (!IsRunning)
        {
            Cleanup();
            return PowerOffOutcome.AlreadyOff;
        }
        Console.Note("power off (QMP quit)");
        Lifecycle.Note("power cut (QMP quit)");
        var outcome = PowerOffOutcome.QmpQuit;
        try
        {
            _qmp?.Quit(budget);
        }
        catch (QmpException e)
        {
            Console.Note($"QMP quit failed: {e.Message}");
        }
        if (!_exited.Wait(budget))
        {
            outcome = PowerOffOutcome.Killed;
            Kill();
        }
        Cleanup();
        return outcome;
    }

    public bool HardCutAt(TimeSpan sincePowerOn)
    {
        if (!ScheduledCut.WaitFor(Console, Exited, sincePowerOn))
        {
            PowerOff();
            return false;
        }
        Lifecycle.Note(string.Create(CultureInfo.InvariantCulture, $"scheduled hard cut at +{sincePowerOn.TotalSeconds:0.000}s"));
        PowerOff();
        return true;
    }

    /// <summary>Kills the emulator (SIGKILL) and waits, bounded, until it is reaped.</summary>
    private readonly object _killGate = new();

    public void Kill()
    {
        // Also called from another thread (an interrupted run cuts every node while the scenario still runs).
        lock (_killGate)
        {
            KillLocked();
        }
    }

    private void KillLocked()
    {
        if (_process is { } process && IsRunning)
        {
            Console.Note("kill");
            Lifecycle.Note("SIGKILL to the emulator");
            if (!process.Kill(TimeSpan.FromSeconds(15)))
            {
                // A process stuck in the kernel is the host's trouble, never the node's.
                throw new RigInfrastructureException(RigFault.PowerNotConfirmed,
                    $"node {Name}: QEMU (pid {process.Pid}) survived SIGKILL for 15 s (stuck in the kernel? see /proc/{process.Pid}/stack); it still holds the emulator slot");
            }
        }
        Cleanup();
    }

    private void Cleanup()
    {
        _qmp?.Dispose();
        _qmp = null;
        if (!IsRunning)
        {
            _process?.Dispose();
            _slot?.Dispose();
            _slot = null;
            if (File.Exists(_qmpPath))
            {
                File.Delete(_qmpPath);
            }
        }
    }

    public ConsoleLine WaitForLine(Regex pattern, TimeSpan timeout, int fromIndex = 0) =>
        Console.WaitForLine(pattern, timeout, Name, fromIndex);

    /// <summary>A <see cref="NodeFailureException"/> for this node with its console tail and stderr.</summary>
    public NodeFailureException Failure(string what) =>
        new(Name, what, $"{Console.FormatTail()}\n  qemu stderr: {StandardError}");

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
            _qmp?.Dispose();
            _slot?.Dispose();
            Console.Dispose();
            TryRemoveEmptyDirectory(Path.GetDirectoryName(_qmpPath)!);
        }
    }

    internal static void TryRemoveEmptyDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any())
            {
                Directory.Delete(path);
            }
        }
        catch (IOException)
        {
            // Another node of this process still has its socket there; the last one out removes it.
        }
    }
}
