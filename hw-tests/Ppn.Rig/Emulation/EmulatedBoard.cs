using System.Globalization;
using System.Text.Json;
using Ppn.Rig.Consoles;
using Ppn.Rig.Model;
using Ppn.Rig.Net;
using Ppn.Rig.Power;

namespace Ppn.Rig.Emulation;

/// <summary>
/// A board for the bench backend with no bench hardware: a QEMU machine whose power is the process itself and
/// whose console is a real serial line. <see cref="Set"/>(On) starts QEMU with its CPU stopped (<c>-S</c>) and its
/// first UART on a pseudo-terminal (<c>-chardev pty</c>), holds the line open in raw mode (so what the board prints
/// before the rig's reader attaches waits in the tty instead of being dropped, as a USB serial adapter that stays
/// plugged in), points <see cref="SerialLink"/> at the pty (as udev's /dev/serial/by-id/ link follows an adapter),
/// then lets the CPU run. <see cref="Set"/>(Off) is SIGKILL: the process, its devices and the pty vanish at once —
/// nothing inside is shut down or flushed, a cut of the supply. Both are read back: On = QMP says running, Off = the
/// process was reaped. The rig reads the console through <see cref="SerialConsole"/> on <see cref="SerialLink"/>,
/// the same termios code as a USB serial. QEMU runs without -no-reboot: like a board, a panic reboots it, and the
/// rig sees only its console.
/// </summary>
public sealed class EmulatedBoard : IPowerSwitch, IDisposable
{
    private static readonly TimeSpan QmpConnectTimeout = TimeSpan.FromSeconds(30);

    private readonly QemuMachine _machine;
    private readonly NetworkNamespace? _namespace;
    private readonly ConsoleLog _log;
    private EmulatorProcess? _process;
    private EmulatorSlot? _slot;
    private IConsoleConnection? _line;

    /// <param name="name">The board's name.</param>
    /// <param name="boot">What the board boots (its "flash").</param>
    /// <param name="nvramPath">The board's own NVRAM; the rig's scenarios never touch it.</param>
    /// <param name="network">The rig link its NIC is on.</param>
    /// <param name="mac">Its NIC's MAC.</param>
    /// <param name="workDirectory">Where the serial link and the board's own log (<c>&lt;name&gt;.board.log</c>: QEMU's stderr, power events) go.</param>
    public EmulatedBoard(string name, BootSource boot, string nvramPath, NodeNetwork? network,
        System.Net.NetworkInformation.PhysicalAddress mac, string workDirectory)
    {
        _machine = new QemuMachine
        {
            Name = name,
            Boot = boot,
            NvramPath = nvramPath,
            QmpPath = QemuArguments.NewQmpPath(),
            Mac = mac,
            Network = network,
            Console = QemuConsole.Pty,
            ExitOnReboot = false,
            StartPaused = true,
        };
        _namespace = network?.Namespace;
        SerialLink = Path.Combine(workDirectory, $"{name}.serial");
        _log = new ConsoleLog(Path.Combine(workDirectory, $"{name}.board.log"), $"emulated board {name}");
    }

    /// <summary>The board's "USB serial": a symlink to the current pty, present only while the board has power.</summary>
    public string SerialLink { get; }

    public string Describe => $"emulated board {_machine.Name} (power: its QEMU process{(_process is { } p && !p.HasExited ? $", pid {p.Pid}" : "")})";

    /// <summary>The pty the board's UART is on while powered (null when off).</summary>
    public string? PtyPath { get; private set; }

    public PortPower Status()
    {
        if (_process is not { HasExited: false })
        {
            return PortPower.Off;
        }
        using var qmp = QmpClient.Connect(_machine.QmpPath, TimeSpan.FromSeconds(5));
        return qmp.QueryStatus() == "running" ? PortPower.On : PortPower.Off;
    }

    public void Set(PortPower power)
    {
        if (power == PortPower.On)
        {
            On();
        }
        else
        {
            Off();
        }
    }

    private void On()
    {
        if (_process is { HasExited: false })
        {
            return;
        }
        try
        {
            _slot = EmulatorSlot.Acquire();
        }
        catch (TimeoutException e)
        {
            throw new RigInfrastructureException(RigFault.EmulatorSlotBusy, $"board {_machine.Name}: {e.Message}", e);
        }
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_machine.QmpPath)!);
            File.Delete(_machine.QmpPath);
            _log.Note($"power on: {HostCommand.Describe("", QemuArguments.For(_machine)).Trim()}");
            _process = EmulatorProcess.Start(_machine.Name, QemuArguments.For(_machine), _namespace, _log, stdoutIsConsole: false,
                code => _log.Note(string.Create(CultureInfo.InvariantCulture, $"QEMU exited with code {code}")));
            using var qmp = Connect();
            PtyPath = PtyOf(qmp);
            // The line held open from before the CPU runs: output queues in the tty, nothing is lost to a late reader.
            _line = new SerialConsole(PtyPath, 115200).Open();
            PublishLink(PtyPath);
            qmp.Execute("cont");
            var status = qmp.QueryStatus();
            if (status != "running")
            {
                throw new RigInfrastructureException(RigFault.PowerNotConfirmed, $"board {_machine.Name}: QMP reads '{status}' after cont, not running");
            }
            _log.Note($"power on confirmed: pid {_process.Pid}, QMP running, console {PtyPath} behind {SerialLink}");
        }
        catch
        {
            Off();
            throw;
        }
    }

    private QmpClient Connect()
    {
        try
        {
            return QmpClient.Connect(_machine.QmpPath, QmpConnectTimeout);
        }
        catch (QmpException e)
        {
            throw new RigInfrastructureException(RigFault.EmulatorDidNotStart,
                $"board {_machine.Name}: QEMU did not come up ({e.Message}); stderr: {_process?.Output.StandardError}", e);
        }
    }

    /// <summary>The pty QEMU allocated for the console chardev (QMP query-chardev: filename "pty:/dev/pts/N").</summary>
    private string PtyOf(QmpClient qmp)
    {
        foreach (var chardev in qmp.Execute("query-chardev").EnumerateArray())
        {
            if (chardev.GetProperty("label").GetString() == "console"
                && chardev.GetProperty("filename").GetString() is { } filename
                && filename.StartsWith("pty:", StringComparison.Ordinal))
            {
                return filename["pty:".Length..];
            }
        }
        throw new RigInfrastructureException(RigFault.EmulatorDidNotStart, $"board {_machine.Name}: QMP query-chardev names no pty for the console");
    }

    /// <summary>Points the serial link at the new pty in one rename, so a reader never sees a half-made link.</summary>
    private void PublishLink(string pty)
    {
        var temporary = SerialLink + ".new";
        File.Delete(temporary);
        File.CreateSymbolicLink(temporary, pty);
        File.Move(temporary, SerialLink, overwrite: true);
    }

    private void Off()
    {
        if (_process is { } process)
        {
            if (!process.Kill(TimeSpan.FromSeconds(15)))
            {
                throw new RigInfrastructureException(RigFault.PowerNotConfirmed,
                    $"board {_machine.Name}: QEMU (pid {process.Pid}) survived SIGKILL for 15 s");
            }
            _log.Note(string.Create(CultureInfo.InvariantCulture, $"power cut: SIGKILL, pid {process.Pid} reaped"));
            process.Dispose();
            _process = null;
        }
        _line?.Dispose();
        _line = null;
        PtyPath = null;
        File.Delete(SerialLink);
        File.Delete(_machine.QmpPath);
        _slot?.Dispose();
        _slot = null;
    }

    public void Dispose()
    {
        try
        {
            Off();
        }
        finally
        {
            _log.Dispose();
            Emulation.QemuNode.TryRemoveEmptyDirectory(Path.GetDirectoryName(_machine.QmpPath)!);
        }
    }
}
