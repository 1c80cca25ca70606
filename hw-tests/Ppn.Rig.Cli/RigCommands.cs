using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Power;
using Ppn.Rig.Running;

namespace Ppn.Rig.Cli;

/// <summary>
/// <c>ppn-rig power|console|run|scenarios</c>. Exit codes: 0 done; 1 the product failed a scenario; 2 the rig
/// cannot do it (infrastructure: no QEMU, no hub, console gone, no image, a bad rig file); 3 an error in the
/// rig's own code.
/// </summary>
public static class RigCommands
{
    public const int Ok = 0;
    public const int ProductFailed = 1;
    public const int RigBroken = 2;
    public const int RigCodeError = 3;
    public const int Skipped = 4;
    public const int Interrupted = 130;

    public const string ExitCodesText = "Exit codes: 0 ok, 1 product failure (the node failed), 2 rig infrastructure (no QEMU, no hub, no image, a bad rig file) or usage, 3 rig code error, 4 scenario skipped (the backend lacks what it needs), 130 interrupted (Ctrl-C or SIGTERM: nodes cut, rig cleaned up, no verdict).";

    /// <summary>
    /// The first SIGINT or SIGTERM stops the run instead of the process: without this the runtime ends the process
    /// at once, with no finally block run, leaving a bench board powered, its NIC in the rig's namespace and (on a
    /// SIGTERM from CI, which reaches only this process) QEMU and its helpers running. A second signal ends the
    /// process as usual.
    /// </summary>
    internal static IDisposable InterruptOnSignals(ScenarioRunner runner, TextWriter stderr)
    {
        int signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            if (Interlocked.Increment(ref signals) > 1)
            {
                return; // not cancelled: the default action ends the process
            }
            context.Cancel = true;
            stderr.WriteLine($"ppn-rig: {context.Signal}: cutting every node's power and cleaning up (again to quit at once, leaving them)");
            runner.Interrupt(context.Signal.ToString());
        }
        return new SignalRegistrations(
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
    }

    private sealed class SignalRegistrations(params PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in registrations)
            {
                r.Dispose();
            }
        }
    }

    /// <summary>Every verb's help ends with the exit codes.</summary>
    public static void ListExitCodes(Command command)
    {
        foreach (var sub in command.Subcommands)
        {
            if (sub.Subcommands.Count > 0)
            {
                ListExitCodes(sub);
            }
            else if (!sub.Hidden && sub.Description?.Contains("Exit codes:", StringComparison.Ordinal) != true)
            {
                sub.Description = $"{sub.Description}\n\n{ExitCodesText}";
            }
        }
    }

    public static void Add(RootCommand root)
    {
        var rigFile = new Option<string>("--rig")
        {
            Description = "rig file (default: $PPN_RIG_FILE, else hw-tests/rigs/emulated.yaml)",
        };
        var node = new Argument<string>("NODE") { Description = "a node named in the rig file" };

        var power = new Command("power", "switch a node's power (USB hub port on the bench, QMP for emulated nodes); every change is read back");
        foreach (var (verb, what) in new[]
        {
            ("on", "power the node on (confirmed)"),
            ("off", "cut the node's power (confirmed by reading the port or QMP back)"),
            ("cycle", "off (confirmed), then on"),
            ("status", "print on or off"),
        })
        {
            var cmd = new Command(verb, what);
            cmd.Options.Add(rigFile);
            cmd.Arguments.Add(node);
            cmd.SetAction(pr => Guard(pr, () => Power(verb, LoadRig(pr.GetValue(rigFile)), pr.GetValue(node)!, pr.InvocationConfiguration.Output)));
            power.Subcommands.Add(cmd);
        }
        root.Subcommands.Add(power);

        var seconds = new Option<double?>("--for") { Description = "stop after this many seconds (default: until Ctrl-C)" };
        var console = new Command("console", "follow a node's console, timestamped, reconnecting when it goes away");
        console.Options.Add(rigFile);
        console.Options.Add(seconds);
        console.Arguments.Add(node);
        console.SetAction(pr => Guard(pr, () => Follow(LoadRig(pr.GetValue(rigFile)), pr.GetValue(node)!, pr.GetValue(seconds))));
        root.Subcommands.Add(console);

        var scenarioName = new Argument<string>("SCENARIO") { Description = "a name from `ppn-rig scenarios`" };
        var seed = new Option<int>("--seed") { Description = "seed for schedules such as power-cut times", DefaultValueFactory = _ => 8 };
        var cuts = new Option<int?>("--cuts") { Description = "number of power cuts (power-cuts-during-genesis)" };
        var full = new Option<bool>("--full") { Description = "full mode (as PPN_HIL=full / make hil)" };
        var image = new Option<string?>("--image") { Description = "node image directory (default: $PPN_IMAGE_DIR, else out/image)" };
        var backend = new Option<string>("--backend")
        {
            Description = $"where the nodes come from: {NodeBackendNames.Help}; a scenario needing what the backend lacks is skipped with the reason",
            DefaultValueFactory = _ => "qemu",
        };
        backend.AcceptOnlyFromAmong("qemu", "bench-emulated", "bench");
        var run = new Command("run", "run one scenario (any in `ppn-rig scenarios`) on emulated nodes or the bench; writes junit.xml and summary.txt to out/rig-reports/");
        run.Arguments.Add(scenarioName);
        run.Options.Add(backend);
        run.Options.Add(rigFile);
        run.Options.Add(seed);
        run.Options.Add(cuts);
        run.Options.Add(full);
        run.Options.Add(image);
        run.SetAction(pr => Guard(pr, () =>
        {
            var options = new ScenarioOptions
            {
                Seed = pr.GetValue(seed),
                Cuts = pr.GetValue(cuts),
                Full = pr.GetValue(full) || RigEnvironment.FullHil,
                ImageDirectory = pr.GetValue(image),
                Backend = NodeBackendNames.Parse(pr.GetValue(backend)!, () => LoadRig(pr.GetValue(rigFile))),
            };
            var scenario = ScenarioRunner.Find(pr.GetValue(scenarioName)!);
            var runner = new ScenarioRunner(pr.InvocationConfiguration.Output, options);
            ScenarioResult result;
            using (InterruptOnSignals(runner, pr.InvocationConfiguration.Error))
            {
                result = runner.Run(scenario);
            }
            if (result.Outcome == ScenarioOutcome.Interrupted)
            {
                pr.InvocationConfiguration.Error.WriteLine($"ppn-rig: interrupted ({result.InterruptReason}): no verdict; report: {result.ReportDirectory}");
                return Interrupted;
            }
            if (result.Error is { } e)
            {
                pr.InvocationConfiguration.Error.WriteLine(e.Message);
            }
            if (result.Outcome == ScenarioOutcome.Skipped)
            {
                return Skipped;
            }
            return result.Failure switch
            {
                null => Ok,
                FailureKind.Product => ProductFailed,
                FailureKind.Infrastructure => RigBroken,
                _ => RigCodeError,
            };
        }));
        root.Subcommands.Add(run);

        var probePort = new Option<string?>("--port") { Description = "a hub port (1-1.4:2) to switch off and on, each read back" };
        var probe = new Command("usb-probe", "show what the rig's USB code sees: devices, hub descriptors, port status, sysfs; optionally switch one port");
        probe.Options.Add(probePort);
        probe.SetAction(pr => Guard(pr, () =>
        {
            Ppn.Rig.Model.PowerPort? port = null;
            if (pr.GetValue(probePort) is { } text && !Ppn.Rig.Model.PowerPort.TryParse(text, out port, out var error))
            {
                throw new ArgumentException(error);
            }
            using var bus = Ppn.Rig.Power.Usb.LibUsbBus.Open();
            return Ppn.Rig.Power.Usb.UsbProbe.Run(bus, Console.Out, port);
        }));
        root.Subcommands.Add(probe);

        var device = new Argument<string>("DEVICE") { Description = "a serial device, e.g. /dev/ttyUSB0" };
        var baud = new Option<int>("--baud") { DefaultValueFactory = _ => 115200, Description = "baud rate" };
        var lines = new Option<int>("--lines") { DefaultValueFactory = _ => 1, Description = "stop after this many lines" };
        var serialFor = new Option<double>("--for") { DefaultValueFactory = _ => 60, Description = "stop after this many seconds" };
        var serialProbe = new Command("serial-probe", "capture a serial console like the rig does (raw mode, reconnecting) and print what happens, one line per event");
        serialProbe.Arguments.Add(device);
        serialProbe.Options.Add(baud);
        serialProbe.Options.Add(lines);
        serialProbe.Options.Add(serialFor);
        serialProbe.SetAction(pr => Guard(pr, () => SerialProbe(pr.GetValue(device)!, pr.GetValue(baud), pr.GetValue(lines), pr.GetValue(serialFor))));
        root.Subcommands.Add(serialProbe);

        var list = new Command("scenarios", "list every scenario `ppn-rig run` knows (quick: make test; full: make hil) and what it needs beyond power, console and link");
        list.SetAction(pr =>
        {
            foreach (var s in ScenarioCatalog.All)
            {
                pr.InvocationConfiguration.Output.WriteLine($"{s.Name,-28} {s.Set.ToString().ToLowerInvariant(),-5}  {NeedsText(s),-34} {s.Description}");
            }
            return Ok;
        });
        root.Subcommands.Add(list);
    }

    /// <summary>"needs: boot-control, nvram-file", "host only" or "any backend".</summary>
    public static string NeedsText(Scenario s)
    {
        if (s.HostOnly)
        {
            return "host only";
        }
        var needs = Enum.GetValues<NodeAbilities>().Where(a => a != NodeAbilities.None && s.Needs.HasFlag(a))
            .Select(a => a switch
            {
                NodeAbilities.NvramFile => "nvram-file",
                NodeAbilities.FactoryReset => "factory-reset",
                NodeAbilities.ResetButton => "reset-button",
                NodeAbilities.BootControl => "boot-control",
                NodeAbilities.NicChoice => "nic-choice",
                NodeAbilities.Lan => "lan",
                NodeAbilities.SeesExit => "sees-exit",
                _ => a.ToString(),
            }).ToList();
        if (s.Machines > 1)
        {
            needs.Add(string.Create(CultureInfo.InvariantCulture, $"{s.Machines} machines"));
        }
        return needs.Count == 0 ? "any backend" : "needs " + string.Join(", ", needs);
    }

    private static RigConfig LoadRig(string? path)
    {
        path ??= Environment.GetEnvironmentVariable("PPN_RIG_FILE") is { Length: > 0 } env
            ? env
            : Path.Combine(RigEnvironment.RepoRoot, "hw-tests", "rigs", "emulated.yaml");
        var kind = Ppn.Linux.FileNode.Stat(path).Kind;
        if (kind != Ppn.Linux.FileNodeKind.Regular)
        {
            throw new RigInfrastructureException(RigFault.ConfigInvalid, kind == Ppn.Linux.FileNodeKind.Missing
                ? $"rig file {path} does not exist; give a rig YAML file (hw-tests/rigs/)"
                : $"rig file {path} is {Ppn.Linux.FileNode.Describe(kind)}; give a rig YAML file (hw-tests/rigs/)");
        }
        try
        {
            return RigConfig.Load(path);
        }
        catch (Exception e) when (Ppn.Linux.FileErrors.IsFileError(e))
        {
            throw new RigInfrastructureException(RigFault.ConfigInvalid, $"cannot read rig file {Ppn.Linux.FileErrors.Describe(e, path)}", e);
        }
    }

    private static int Power(string verb, RigConfig rig, string nodeName, TextWriter stdout)
    {
        var spec = rig.Node(nodeName);
        var power = RigBackends.PowerFor(rig, spec);
        switch (verb)
        {
            case "on":
                power.Set(PortPower.On);
                break;
            case "off":
                power.Set(PortPower.Off);
                break;
            case "cycle":
                power.Cycle();
                break;
        }
        var state = power.Status();
        stdout.WriteLine($"{spec.Name}: {state.ToString().ToLowerInvariant()} ({power.Describe})");
        return Ok;
    }

    private static int Follow(RigConfig rig, string nodeName, double? seconds)
    {
        var spec = rig.Node(nodeName);
        var port = RigBackends.ConsoleFor(spec);
        using var stop = new ManualResetEventSlim(false);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Set();
        };
        using var log = new ConsoleLog(null, spec.Name);
        log.LineReceived += line => Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{DateTimeOffset.Now:HH:mm:ss.fff} {spec.Name}: {line.Text}"));
        Console.Error.WriteLine($"following {port.Describe} (Ctrl-C to stop)");
        using (var capture = new ConsoleCapture(port, log, start: false))
        {
            capture.ConnectedChanged += n => Console.Error.WriteLine(n == 1 ? "connected" : $"reconnected ({n})");
            capture.Disconnected += why => Console.Error.WriteLine($"disconnected: {why}");
            capture.Start();
            stop.Wait(seconds is { } s ? TimeSpan.FromSeconds(s) : Timeout.InfiniteTimeSpan);
        }
        return Ok;
    }

    private static int SerialProbe(string device, int baud, int lines, double seconds)
    {
        // The capture waits for a device that comes back (an adapter re-enumerating), so a mistyped path would
        // otherwise end as "0 lines" after --for seconds, read as the board's fault.
        var kind = Ppn.Linux.FileNode.Stat(device).Kind;
        if (kind != Ppn.Linux.FileNodeKind.CharacterDevice)
        {
            throw new RigInfrastructureException(RigFault.ConsoleGone, kind == Ppn.Linux.FileNodeKind.Missing
                ? $"serial device {device} does not exist: plug the USB serial adapter in, or name it by its link in /dev/serial/by-id/ (ls -l /dev/serial/by-id/)"
                : $"{device} is {Ppn.Linux.FileNode.Describe(kind)}, not a serial device: give the adapter's tty, e.g. /dev/ttyUSB0 or its /dev/serial/by-id/ link");
        }
        using var log = new ConsoleLog(null, device);
        using var done = new ManualResetEventSlim(false);
        int seen = 0;
        log.LineReceived += line =>
        {
            Console.Out.WriteLine($"serial-probe: line {line.Text}");
            if (Interlocked.Increment(ref seen) >= lines)
            {
                done.Set();
            }
        };
        using (var capture = new ConsoleCapture(new SerialConsole(device, baud), log, TimeSpan.FromMilliseconds(100), start: false))
        {
            capture.Disconnected += why => Console.Out.WriteLine($"serial-probe: disconnected: {why}");
            capture.ConnectedChanged += n =>
            {
                var (speed, raw) = SerialConsole.ReadBack(device);
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"serial-probe: capturing {device} connection {n} speed 0x{speed:x} (B{baud} = 0x{Ppn.Linux.Interop.LibC.BaudConstant(baud):x}) raw {raw}"));
            };
            capture.Start();
            done.Wait(TimeSpan.FromSeconds(seconds));
        }
        Console.Out.WriteLine($"serial-probe: done {seen} line(s)");
        if (seen < lines)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ppn-rig: serial-probe: {seen} of {lines} line(s) from {device} within {seconds} s: is the board powered, TX wired to the adapter's RX, and --baud {baud} its rate?"));
        }
        return seen >= lines ? Ok : ProductFailed;
    }

    /// <summary>One line for the operator: infrastructure failures say which part of the rig, never a stack trace.</summary>
    internal static int Guard(ParseResult parse, Func<int> action)
    {
        var stderr = parse.InvocationConfiguration.Error;
        try
        {
            return action();
        }
        catch (RigConfigException e)
        {
            stderr.WriteLine($"ppn-rig: rig file: {e.Message}");
            return RigBroken;
        }
        catch (RigInfrastructureException e)
        {
            stderr.WriteLine($"ppn-rig: rig infrastructure ({e.Fault}): {e.Message}");
            return RigBroken;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"ppn-rig: {e.Message}");
            return RigBroken;
        }
        catch (Exception e) when (Ppn.Linux.FileErrors.IsFileError(e))
        {
            stderr.WriteLine($"ppn-rig: rig infrastructure: {Ppn.Linux.FileErrors.Describe(e, "a rig file")}");
            return RigBroken;
        }
        catch (Exception e)
        {
            // Exit 1 means "the product failed": an unexpected exception is the rig's own bug, never that.
            stderr.WriteLine($"ppn-rig: rig code error: {e.GetType().Name}: {e.Message} (a bug in the rig; report it)");
            return RigCodeError;
        }
    }
}
