using System.Diagnostics;
using Ppn.Rig.Model;
using Ppn.Rig.Power;

namespace Ppn.Rig.Emulation;

/// <summary>
/// An emulated node that outlives the command that started it, for <c>ppn-rig power on|off|status</c> and
/// <c>ppn-rig console</c>: QEMU runs detached (its own session, under <c>flock</c> on the emulator slot for as
/// long as it lives), with its console on the rig file's socket and QMP on a socket in the rig's state
/// directory (out/rig-state/&lt;rig&gt;/), where its NVRAM file also stays between power cycles. It has no
/// network (the scenarios' in-process nodes get the namespace and tap). Power is QMP: status is "does QMP
/// answer", off is QMP quit confirmed by QMP going silent.
/// </summary>
public sealed class DetachedQemuNode : IPowerSwitch
{
    private static readonly TimeSpan StartBudget = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopBudget = TimeSpan.FromSeconds(15);

    private readonly NodeSpec _spec;
    private readonly string _stateDirectory;

    public DetachedQemuNode(NodeSpec spec, string rigName)
    {
        if (spec.Backend != NodeBackend.Qemu || spec.Console is not ConsoleEndpoint.QemuSocket)
        {
            throw new ArgumentException($"node {spec.Name} is not a qemu node with a socket console", nameof(spec));
        }
        _spec = spec;
        _stateDirectory = Path.Combine(RigEnvironment.RepoRoot, "out", "rig-state", rigName);
    }

    public string QmpPath => Path.Combine(Path.GetTempPath(), $"ppn-rig-{_spec.Name}.qmp"); // sun_path: keep it short
    public string NvramPath => Path.Combine(_stateDirectory, $"{_spec.Name}.OVMF_VARS.fd");
    public string LogPath => Path.Combine(_stateDirectory, $"{_spec.Name}.qemu.log");
    public string ConsoleSocket => ((ConsoleEndpoint.QemuSocket)_spec.Console).Path;
    public string Describe => $"QMP {QmpPath} (detached QEMU for {_spec.Name})";

    public PortPower Status()
    {
        if (!File.Exists(QmpPath))
        {
            return PortPower.Off;
        }
        try
        {
            using var qmp = QmpClient.Connect(QmpPath, TimeSpan.FromSeconds(2));
            qmp.QueryStatus();
            return PortPower.On;
        }
        catch (QmpException)
        {
            return PortPower.Off;
        }
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
        if (Status() == PortPower.On)
        {
            return;
        }
        RigEnvironment.RequireEmulation();
        var image = NodeImage.Locate(Path.IsPathRooted(_spec.Image) ? _spec.Image : Path.Combine(RigEnvironment.RepoRoot, _spec.Image));
        Directory.CreateDirectory(_stateDirectory);
        if (!File.Exists(NvramPath))
        {
            NvramFile.CreateFactoryNew(NvramPath);
        }
        // Fail at once, not after a silent wait, when another rig's VM holds the slot.
        try
        {
            EmulatorSlot.Acquire(TimeSpan.Zero).Dispose();
        }
        catch (TimeoutException e)
        {
            throw new RigInfrastructureException(RigFault.EmulatorSlotBusy, $"node {_spec.Name}: {e.Message}; try again when it is free", e);
        }
        File.Delete(QmpPath);
        File.Delete(ConsoleSocket);
        static string Esc(string v) => v.Replace(",", ",,", StringComparison.Ordinal);
        // sh only redirects; the arguments pass through "$@" unquoted by us.
        var info = new ProcessStartInfo("sh") { UseShellExecute = false };
        foreach (var a in new[]
        {
            "-c", "exec \"$@\" >>\"$PPN_RIG_QEMU_LOG\" 2>&1 </dev/null", "sh",
            "setsid", "-f", "flock", "-w", "5", EmulatorSlot.LockPath, RigEnvironment.QemuBinary,
            "-name", _spec.Name, "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", "512",
            "-display", "none", "-no-reboot", "-nodefaults",
            "-drive", $"if=pflash,format=raw,unit=0,readonly=on,file={Esc(RigEnvironment.OvmfCode)}",
            "-drive", $"if=pflash,format=raw,unit=1,file={Esc(NvramPath)}",
            "-kernel", image.Kernel, "-initrd", image.Initramfs, "-append", NodeImage.CommandLine,
            "-chardev", $"socket,id=console,path={Esc(ConsoleSocket)},server=on,wait=off", "-serial", "chardev:console",
            "-qmp", $"unix:{Esc(QmpPath)},server=on,wait=off",
            "-nic", "none",
        })
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["PPN_RIG_QEMU_LOG"] = LogPath;
        File.AppendAllText(LogPath, $"---- {DateTimeOffset.UtcNow:O} power on\n");
        using (var starter = Process.Start(info) ?? throw new RigInfrastructureException(RigFault.EmulatorMissing, "could not start sh"))
        {
            starter.WaitForExit(StartBudget);
        }
        if (!BoundedWait.TryUntil(() => Status() == PortPower.On, StartBudget, TimeSpan.FromMilliseconds(250)))
        {
            throw new RigInfrastructureException(RigFault.EmulatorDidNotStart,
                $"node {_spec.Name}: QEMU's QMP did not answer within {StartBudget.TotalSeconds:0} s; its log ({LogPath}) ends:\n{Tail(LogPath)}");
        }
    }

    private void Off()
    {
        if (Status() == PortPower.Off)
        {
            return;
        }
        try
        {
            using var qmp = QmpClient.Connect(QmpPath, TimeSpan.FromSeconds(5));
            qmp.Quit(StopBudget);
        }
        catch (QmpException)
        {
            // Gone between the status and the quit; the read-back below decides.
        }
        if (!BoundedWait.TryUntil(() => Status() == PortPower.Off, StopBudget, TimeSpan.FromMilliseconds(250)))
        {
            throw new RigInfrastructureException(RigFault.PowerNotConfirmed, $"node {_spec.Name}: QMP still answers {StopBudget.TotalSeconds:0} s after quit");
        }
        File.AppendAllText(LogPath, $"---- {DateTimeOffset.UtcNow:O} power off (QMP quit), confirmed\n");
    }

    private static string Tail(string path) =>
        File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(10).Select(l => "    " + l)) : "    (no log)";
}
