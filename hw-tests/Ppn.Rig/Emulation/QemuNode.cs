using Ppn.Genesis.Holding;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Emulation;

/// <summary>The link a node's NIC is on: a tap inside the rig's namespace.</summary>
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

/// <summary>How the last power-off happened.</summary>
public enum PowerOffOutcome
{
    /// <summary>The emulator was already gone (the guest rebooted/panicked under -no-reboot, or it crashed).</summary>
    AlreadyOff,
    /// <summary>QMP <c>quit</c>: the emulator stopped at once; a power cut to the guest.</summary>
    QmpQuit,
    /// <summary>QMP did not end it in time; the process was killed.</summary>
    Killed,
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
/// The emulated backend of a node: QEMU (q35, TCG, OVMF with the node's own NVRAM file) booting a
/// kernel and initramfs directly, its serial console captured line by line, its NIC (virtio-net or e1000e, a
/// MAC the rig picks) on a tap inside the rig's namespace, and a QMP socket for power control.
/// A node can be powered on again after a power-off; it keeps its NVRAM and MAC (the same machine).
/// Dispose always kills a running emulator.
/// </summary>
public sealed class QemuNode : IDisposable
{
    public static readonly TimeSpan DefaultHoldingTimeout = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("PPN_RIG_BOOT_TIMEOUT_S"), out var s) && s > 0 ? s : 240);

    private static readonly TimeSpan QmpConnectTimeout = TimeSpan.FromSeconds(30);
    private static int s_sequence;

    private readonly QemuNodeOptions _options;
    private readonly string _qmpPath;
    private Process? _process;
    private QmpClient? _qmp;
    private EmulatorSlot? _slot;
    private ManualResetEventSlim _exited = new(true);
    private Thread? _stdoutReader;
    private Thread? _stderrReader;
    private readonly StringBuilder _stderr = new();
    private readonly NodeLifecycle _lifecycle;
    private bool _disposed;

    public QemuNode(QemuNodeOptions options)
    {
        _options = options;
        var runtime = Path.Combine(Path.GetTempPath(), $"ppnrig-{Environment.ProcessId}");
        // sun_path holds 108 bytes: keep the QMP socket short and out of deep work directories.
        _qmpPath = Path.Combine(runtime, string.Create(CultureInfo.InvariantCulture, $"{Interlocked.Increment(ref s_sequence)}.qmp"));
        Console = new ConsoleLog(null, "not powered on yet");
        _lifecycle = new NodeLifecycle(options.Name, DefaultHoldingTimeout);
    }

    /// <summary>The node's state machine and its power-event log (for reports).</summary>
    public NodeLifecycle Lifecycle => _lifecycle;

    public string Name => _options.Name;
    public PhysicalAddress Mac => _options.Mac;
    public string NvramPath => _options.NvramPath;
    public NodeNetwork? Network => _options.Network;
    public string LogPath => Path.Combine(_options.LogDirectory, $"{Name}.console.log");

    /// <summary>fe80:: + modified EUI-64 of the MAC: where the node listens (it keeps EUI-64 generation on).</summary>
    public IPAddress LinkLocalAddress => Eui64.LinkLocalFromMac(Mac);

    /// <summary>How many times this node was powered on.</summary>
    public int BootCount { get; private set; }

    /// <summary>The console of the current (or last) boot.</summary>
    public ConsoleLog Console { get; private set; }

    /// <summary>Raised for every console line of every boot, on the reader thread (live display).</summary>
    public event Action<QemuNode, ConsoleLine>? ConsoleLine;

    public NodeState State => _lifecycle.State;

    public bool IsRunning => !_exited.IsSet;

    /// <summary>Signalled while no emulator runs.</summary>
    public WaitHandle Exited => _exited.WaitHandle;

    public int? ExitCode { get; private set; }

    /// <summary>The QEMU command this node runs, as a readable line (for logs and failure messages).</summary>
    public string CommandLine => HostCommand.Describe("", BuildArguments()).Trim();

    /// <summary>
    /// A factory-new NVRAM: a fresh copy of the OVMF variable store template, mode 0600 from the first byte on
    /// (the node writes its private key into it; File.Copy would keep the template's 0644).
    /// </summary>
    public static void CreateFactoryNewNvram(string path, string template = RigEnvironment.OvmfVarsTemplate)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using (var source = File.OpenRead(template))
        using (var target = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            // An existing file keeps its mode through FileMode.Create: narrow it before any byte is written.
            File.SetUnixFileMode(target.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            source.CopyTo(target);
        }
    }

    /// <summary>
    /// Starts the emulator (Off → Booting). Takes the machine's emulator slot first, so this may wait while
    /// another rig's node runs. Throws <see cref="NodeFailureException"/> when QEMU does not come up.
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
        var console = new ConsoleLog(LogPath, string.Create(CultureInfo.InvariantCulture,
            $"node {Name} boot {BootCount}: {CommandLine}"));
        console.LineReceived += line =>
        {
            if (line.Text.StartsWith("ppn: genesis: enrolled by ", StringComparison.Ordinal))
            {
                _lifecycle.TryMoveTo(NodeState.Joined, line.Text);
            }
            ConsoleLine?.Invoke(this, line);
        };
        Console = console;
        Directory.CreateDirectory(Path.GetDirectoryName(_qmpPath)!);
        File.Delete(_qmpPath);
        lock (_stderr)
        {
            _stderr.Clear();
        }
        ExitCode = null;

        var info = new ProcessStartInfo(_options.Network is null ? RigEnvironment.QemuBinary : "ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_options.Network is { } network)
        {
            // `ip netns exec` execs QEMU in place (no fork), so the pid we hold is QEMU's own.
            foreach (var a in new[] { "netns", "exec", network.Namespace.Name, RigEnvironment.QemuBinary })
            {
                info.ArgumentList.Add(a);
            }
        }
        foreach (var a in BuildArguments())
        {
            info.ArgumentList.Add(a);
        }

        var exited = new ManualResetEventSlim(false);
        _exited = exited;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.Exited += (_, _) => OnExited(process, exited);
        _lifecycle.MoveTo(NodeState.Booting, string.Create(CultureInfo.InvariantCulture, $"power on (boot {BootCount})"));
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            console.End("the emulator never started");
            _lifecycle.MoveTo(NodeState.Off, "the emulator never started");
            exited.Set();
            throw new RigInfrastructureException(RigFault.EmulatorMissing, $"node {Name}: QEMU did not start: {e.Message}", e);
        }
        _process = process;
        process.StandardInput.Close();
        console.Note($"pid {process.Id}");
        _lifecycle.Note($"emulator pid {process.Id}");
        _stdoutReader = StartReader($"{Name} console", process.StandardOutput.BaseStream, console, stderr: false);
        _stderrReader = StartReader($"{Name} stderr", process.StandardError.BaseStream, console, stderr: true);

        try
        {
            _qmp = QmpClient.Connect(_qmpPath, QmpConnectTimeout);
        }
        catch (QmpException e)
        {
            process.WaitForExit(TimeSpan.FromSeconds(2));
            throw new RigInfrastructureException(RigFault.EmulatorDidNotStart,
                $"node {Name}: QEMU did not come up ({e.Message}); exit code {(process.HasExited ? process.ExitCode : "(still running)")}; stderr: {StandardError}", e);
        }
    }

    /// <summary>What QEMU printed on stderr during this boot.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.Length == 0 ? "(nothing)" : _stderr.ToString().Trim();
            }
        }
    }

    internal IReadOnlyList<string> BuildArguments()
    {
        static string Esc(string value) => value.Replace(",", ",,", StringComparison.Ordinal); // QEMU option syntax
        var args = new List<string>
        {
            "-name", Name,
            "-machine", "q35", "-accel", "tcg", "-cpu", "max",
            "-m", _options.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-nographic", "-no-reboot", "-nodefaults",
            "-drive", $"if=pflash,format=raw,unit=0,readonly=on,file={Esc(RigEnvironment.OvmfCode)}",
            "-drive", $"if=pflash,format=raw,unit=1,file={Esc(Path.GetFullPath(NvramPath))}",
        };
        if (_options.Boot.Disk is { } disk)
        {
            // No -kernel: the firmware boots the disk's ESP like a real machine.
            args.AddRange(["-drive", Directory.Exists(disk)
                ? $"file=fat:{Esc(disk)},format=raw,if=virtio,readonly=on"
                : $"file={Esc(disk)},format=raw,if=virtio,snapshot=on"]);
        }
        else
        {
            args.AddRange(["-kernel", _options.Boot.Kernel]);
            if (_options.Boot.Initramfs is { } initrd)
            {
                args.AddRange(["-initrd", initrd]);
            }
            args.AddRange(["-append", _options.Boot.CommandLine]);
        }
        // The first UART on the rig's pipe; signal=off so a stray ^C in the stream cannot kill QEMU.
        args.AddRange(["-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"]);
        args.AddRange(["-qmp", $"unix:{Esc(_qmpPath)},server=on,wait=off"]);
        if (_options.Network is { } network)
        {
            args.AddRange([
                "-netdev", $"tap,id=n0,ifname={network.Tap},script=no,downscript=no",
                "-device", $"{DeviceName(_options.Nic)},netdev=n0,mac={MacAddress.Format(Mac)}",
            ]);
        }
        return args;
    }

    /// <summary>QEMU's -device name for the NIC model.</summary>
    public static string DeviceName(NicModel nic) => nic switch
    {
        NicModel.E1000e => "e1000e",
        _ => "virtio-net-pci",
    };

    private Thread StartReader(string name, Stream stream, ConsoleLog console, bool stderr)
    {
        var thread = new Thread(() =>
        {
            var splitter = new ConsoleLog.LineSplitter(line =>
            {
                if (stderr)
                {
                    lock (_stderr)
                    {
                        _stderr.AppendLine(line);
                    }
                    console.Note($"qemu stderr: {line}");
                }
                else
                {
                    console.Append(line);
                }
            });
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    splitter.Feed(buffer.AsSpan(0, n));
                }
            }
            catch (IOException)
            {
                // The pipe broke because the process was killed; what was read is kept.
            }
            catch (ObjectDisposedException)
            {
            }
            splitter.Flush();
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return thread;
    }

    private void OnExited(Process process, ManualResetEventSlim exited)
    {
        int code;
        try
        {
            code = process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }
        ExitCode = code;
        // Let the readers drain what QEMU wrote before it died, so the console ends with its last words.
        _stdoutReader?.Join(TimeSpan.FromSeconds(5));
        _stderrReader?.Join(TimeSpan.FromSeconds(5));
        Console.End(string.Create(CultureInfo.InvariantCulture, $"emulator exited with code {code}"));
        _lifecycle.MoveTo(NodeState.Off, string.Create(CultureInfo.InvariantCulture, $"emulator exited (code {code})"));
        _slot?.Dispose();
        _slot = null;
        exited.Set();
    }

    /// <summary>QEMU's run state via QMP query-status ("running", "paused", ...).</summary>
    public string QueryStatus() => RequireQmp().QueryStatus();

    /// <summary>The reset button (QMP system_reset): the guest restarts without shutting down.</summary>
    public void Reset()
    {
        RequireQmp().SystemReset();
        Console.Note("system_reset");
        if (!_lifecycle.TryMoveTo(NodeState.Booting, "reset button (QMP system_reset)"))
        {
            _lifecycle.Note("reset button (QMP system_reset)");
        }
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
        _lifecycle.Note("power cut (QMP quit)");
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

    /// <summary>
    /// A power cut at a chosen moment: waits until <paramref name="sincePowerOn"/> has passed on this boot's
    /// console clock (the schedule itself, not a synchronisation; woken early if the emulator ends), then QMP
    /// quit. Returns false when the node was already off before the moment came.
    /// </summary>
    public bool HardCutAt(TimeSpan sincePowerOn)
    {
        var exited = _exited;
        var wait = sincePowerOn - Console.Elapsed;
        if (wait > TimeSpan.Zero && exited.Wait(wait))
        {
            PowerOff();
            return false;
        }
        if (!IsRunning)
        {
            PowerOff();
            return false;
        }
        _lifecycle.Note(string.Create(CultureInfo.InvariantCulture, $"scheduled hard cut at +{sincePowerOn.TotalSeconds:0.000}s"));
        PowerOff();
        return true;
    }

    /// <summary>Kills the emulator (SIGKILL) and waits, bounded, until it is reaped.</summary>
    public void Kill()
    {
        var process = _process;
        if (process is not null && IsRunning)
        {
            try
            {
                Console.Note("kill");
                _lifecycle.Note("SIGKILL to the emulator");
                process.Kill();
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }
            if (!_exited.Wait(TimeSpan.FromSeconds(15)))
            {
                throw new NodeFailureException(Name, $"QEMU (pid {process.Id}) survived SIGKILL for 15 s", Console.FormatTail());
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
            _process = null;
            _slot?.Dispose();
            _slot = null;
            if (File.Exists(_qmpPath))
            {
                File.Delete(_qmpPath);
            }
        }
    }

    /// <summary>Waits for a console line of the current boot; throws <see cref="NodeFailureException"/> with the console tail.</summary>
    public ConsoleLine WaitForLine(Regex pattern, TimeSpan timeout, int fromIndex = 0) =>
        Console.WaitForLine(pattern, timeout, Name, fromIndex);

    /// <summary>A <see cref="NodeFailureException"/> for this node with its console tail and stderr.</summary>
    public NodeFailureException Failure(string what) =>
        new(Name, what, $"{Console.FormatTail()}\n  qemu stderr: {StandardError}");

    /// <summary>
    /// Connects to the node's holding port [fe80::EUI-64%tap]:9443 from inside the rig's namespace, retrying
    /// while the node boots, and returns the public key from its genesis banner (Booting → Up). Fails at once
    /// when the emulator exits, and with the console tail when the deadline passes.
    /// </summary>
    public string AwaitGenesisKey(TimeSpan? timeout = null)
    {
        var network = _options.Network ?? throw new InvalidOperationException($"node {Name} has no network");
        var budget = timeout ?? DefaultHoldingTimeout;
        var deadline = Deadline.After(budget);
        var exited = _exited;
        string lastError = "no attempt made";
        int attempts = 0;
        while (true)
        {
            if (exited.IsSet)
            {
                throw Failure($"the emulator exited (code {ExitCode}) before the holding port answered");
            }
            attempts++;
            try
            {
                using var socket = network.Namespace.ConnectTcp(LinkLocalAddress, network.Tap, HoldingOptions.DefaultPort,
                    deadline.Slice(TimeSpan.FromSeconds(5)));
                var line = ReadLine(socket, deadline.Slice(TimeSpan.FromSeconds(15)));
                if (!GenesisBanner.TryParse(line, out var keyBytes))
                {
                    _lifecycle.TryMoveTo(NodeState.Failed, $"holding port answered '{Printable(line)}'");
                    throw Failure($"the holding port answered '{Printable(line)}', which is not a PPN-GENESIS/1 banner");
                }
                var key = Convert.ToBase64String(keyBytes);
                _lifecycle.TryMoveTo(NodeState.Holding, $"holding port answered: PPN-GENESIS/1 {key}");
                Console.Note($"holding port answered after {attempts} attempt(s): PPN-GENESIS/1 {key}");
                return key;
            }
            catch (Exception e) when (e is SocketException or TimeoutException or IOException)
            {
                lastError = e is SocketException se ? $"{se.SocketErrorCode}: {se.Message}" : e.Message;
            }
            if (deadline.HasPassed)
            {
                _lifecycle.TryMoveTo(NodeState.Failed, $"holding port silent for {BoundedWait.Format(budget)}");
                throw Failure(string.Create(CultureInfo.InvariantCulture,
                    $"holding port [{LinkLocalAddress}%{network.Tap}]:{HoldingOptions.DefaultPort} in {network.Namespace.Name} did not answer within {BoundedWait.Format(budget)} ({attempts} attempts; last: {lastError})"));
            }
            // Between attempts: woken early if the emulator exits, never past the deadline.
            exited.Wait(deadline.Slice(TimeSpan.FromMilliseconds(500)));
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

    private static void TryRemoveEmptyDirectory(string path)
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
