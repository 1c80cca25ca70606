using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig;

/// <summary>
/// What a backend can do to a node beyond power, console and link (which every backend has). A scenario names
/// the abilities it needs (<see cref="Running.Scenario.Needs"/>); on a backend without one it is skipped, with the
/// missing ability's <see cref="NodeAbilitiesText.Why"/> in the report.
/// </summary>
[Flags]
public enum NodeAbilities
{
    None = 0,

    /// <summary>The rig reads and writes the node's NVRAM while it is off (an OVMF variable file).</summary>
    NvramFile = 1 << 0,

    /// <summary>The rig can make the node factory-new again (a fresh NVRAM).</summary>
    FactoryReset = 1 << 1,

    /// <summary>A reset without a power loss (the reset button).</summary>
    ResetButton = 1 << 2,

    /// <summary>The rig chooses what each boot runs: kernel command line, extra initramfs files, a disk image.</summary>
    BootControl = 1 << 3,

    /// <summary>The rig picks the NIC model (QEMU's e1000e for the NIC self-test).</summary>
    NicChoice = 1 << 4,

    /// <summary>Several nodes on one emulated LAN at once (a bridge with a port per node).</summary>
    Lan = 1 << 5,

    /// <summary>The node reports its own exit (the emulator ends on a panic or reboot under -no-reboot).</summary>
    SeesExit = 1 << 6,
}

public static class NodeAbilitiesText
{
    /// <summary>Why a scenario needing <paramref name="missing"/> cannot run on a backend lacking it (one line per ability).</summary>
    public static string Why(NodeAbilities missing) => string.Join("; ", Enum.GetValues<NodeAbilities>()
        .Where(a => a != NodeAbilities.None && missing.HasFlag(a))
        .Select(a => a switch
        {
            NodeAbilities.NvramFile => "needs the node's NVRAM as a file the rig can edit (an emulated node's OVMF vars)",
            NodeAbilities.FactoryReset => "needs a factory reset the rig can do (a fresh NVRAM)",
            NodeAbilities.ResetButton => "needs a reset button (QMP system_reset)",
            NodeAbilities.BootControl => "needs the rig to choose what the node boots (kernel command line, extra files, disk); a bench board boots what is flashed on it",
            NodeAbilities.NicChoice => "needs the rig to choose the NIC model (QEMU e1000e)",
            NodeAbilities.Lan => "needs several nodes on one emulated LAN at once",
            NodeAbilities.SeesExit => "needs to see the node stop by itself (the emulator's exit under -no-reboot)",
            _ => a.ToString(),
        }));
}

/// <summary>How the last power-off happened.</summary>
public enum PowerOffOutcome
{
    /// <summary>The node was already off (an emulator gone after a reboot/panic under -no-reboot, or crashed).</summary>
    AlreadyOff,
    /// <summary>QMP <c>quit</c>: the emulator stopped at once; a power cut to the guest.</summary>
    QmpQuit,
    /// <summary>The node's power switch cut the power and read back off, and the console went silent.</summary>
    PortSwitchedOff,
    /// <summary>The orderly cut did not end it in time; the process was killed.</summary>
    Killed,
}

/// <summary>
/// One node as a scenario drives it, on any backend: an emulated node (<see cref="QemuNode"/>) or a board on the
/// bench (<see cref="Power.BenchNode"/>). Power on, off and a hard cut at a chosen moment; the console of the
/// current boot, every line timestamped since power-on; the node's MAC on a rig link and the holding port at its
/// EUI-64 link-local address; NVRAM, reset button and factory reset where <see cref="Abilities"/> says so
/// (otherwise those members throw <see cref="NotSupportedException"/>).
/// </summary>
public interface IRigNode : IDisposable
{
    string Name { get; }

    /// <summary>"qemu", "bench" or "bench (emulated board)": for reports.</summary>
    string Backend { get; }

    NodeAbilities Abilities { get; }

    PhysicalAddress Mac { get; }

    /// <summary>The rig link the node's NIC is on (a tap, or a bench NIC moved into the rig's namespace).</summary>
    NodeNetwork? Network { get; }

    /// <summary>fe80:: + modified EUI-64 of the MAC: where the node listens (it keeps EUI-64 generation on).</summary>
    IPAddress LinkLocalAddress { get; }

    /// <summary>The node's state machine and its power-event log (for reports).</summary>
    NodeLifecycle Lifecycle { get; }

    NodeState State { get; }

    /// <summary>The console of the current (or last) boot.</summary>
    ConsoleLog Console { get; }

    /// <summary>The full console log, all boots.</summary>
    string? LogPath { get; }

    /// <summary>How many times this node was powered on.</summary>
    int BootCount { get; }

    /// <summary>True while the node has power.</summary>
    bool IsRunning { get; }

    /// <summary>Signalled while the node has no power.</summary>
    WaitHandle Exited { get; }

    /// <summary>The emulator's exit code after it ended (null on the bench, or while running).</summary>
    int? ExitCode { get; }

    /// <summary>Off → Booting. Throws <see cref="RigInfrastructureException"/> when the power cannot be switched on.</summary>
    void PowerOn();

    /// <summary>A power cut (nothing inside is shut down or flushed), confirmed; returns how it went.</summary>
    PowerOffOutcome PowerOff(TimeSpan? timeout = null);

    /// <summary>
    /// A power cut at <paramref name="sincePowerOn"/> on this boot's console clock (woken early when the node goes
    /// off by itself). Returns false when the node was already off before the moment came.
    /// </summary>
    bool HardCutAt(TimeSpan sincePowerOn);

    /// <summary>The power cut at once, without confirmation by console silence (cleanup; always safe).</summary>
    void Kill();

    /// <summary>The reset button (<see cref="NodeAbilities.ResetButton"/>).</summary>
    void Reset();

    /// <summary>Makes the node factory-new while it is off (<see cref="NodeAbilities.FactoryReset"/>).</summary>
    void FactoryReset();

    /// <summary>The node's NVRAM file (<see cref="NodeAbilities.NvramFile"/>).</summary>
    string NvramPath { get; }

    /// <summary>Raised for every console line of every boot, on a reader thread (live display).</summary>
    event Action<IRigNode, ConsoleLine>? ConsoleLine;

    /// <summary>Waits for a console line of the current boot; throws <see cref="NodeFailureException"/> with the console tail.</summary>
    ConsoleLine WaitForLine(Regex pattern, TimeSpan timeout, int fromIndex = 0);

    /// <summary>A <see cref="NodeFailureException"/> for this node with its console tail.</summary>
    NodeFailureException Failure(string what);

    /// <summary>
    /// The public key from the node's genesis banner on [fe80::EUI-64%link]:9443, read from inside the rig's
    /// namespace, retrying while it boots (Booting → Holding).
    /// </summary>
    string AwaitGenesisKey(TimeSpan? timeout = null);
}

/// <summary>Bounds every backend shares.</summary>
public static class NodeTimeouts
{
    /// <summary>How long a node may boot before its holding port must answer (240 s, or PPN_RIG_BOOT_TIMEOUT_S).</summary>
    public static readonly TimeSpan Holding = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("PPN_RIG_BOOT_TIMEOUT_S"), out var s) && s > 0 ? s : 240);
}
