using System.CommandLine;
using Ppn.Appliance.Commands;
using Ppn.Appliance.Init;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Appliance.Cli;

/// <summary>`ppn init`: what runs as PID 1 (/init in the image). Refuses to run as anything else.</summary>
public static class InitVerb
{
    public static Command Build()
    {
        var command = new Command("init", "Run as the node's PID 1 (/init in the image): mounts, modules, links, genesis. Refuses unless PID 1.");
        Verb.Run(command, (_, output) =>
        {
            if (Environment.ProcessId != 1)
            {
                throw new CliError(ExitCodes.BadInput,
                    $"ppn init must run as PID 1 (this is PID {Environment.ProcessId}); it mounts filesystems and loads modules. Boot the node image instead.");
            }
            RunAsPid1(new ConsoleLog(output.Out));
            return ExitCodes.Ok;
        }, json: false);
        return command;
    }

    /// <summary>Never returns.</summary>
    public static void RunAsPid1(ILog log)
    {
        var host = new Pid1Host(log);
        // Lives as long as PID 1: the services wait on its token for the whole life of the node.
        var stopping = new CancellationTokenSource();
        // Each step on its own: one that fails unexpectedly is reported and the later ones still run, so a NIC
        // tuning or signal set-up failure never leaves the node without genesis and its services.
        Step(log, "init", () =>
        {
            var (version, commit) = Telemetry.BuildInfo.Stamped();
            log.Write("init", $"ppn {version} (commit {commit}) starting as PID 1"); // as `ppn version` says it
            // A crash of PID 1 panics the kernel; at least say why on the console before it happens.
            AppDomain.CurrentDomain.UnhandledException += (_, e) =>
                log.Write("init", $"FATAL unhandled exception (kernel panic follows): {e.ExceptionObject}");
        });
        Step(log, "signals", () => host.InstallSignalHandlers(() =>
        {
            stopping.Cancel();
            host.Power(PowerAction.PowerOff);
        }));
        EarlyBootReport? report = null;
        Step(log, "early boot", () => report = new InitSequence(log, new SystemMounter(), new FinitModuleLoader(), new SystemLinkControl(), InitPaths.System).Run());
        // The NIC profile goes on before genesis, so the beacon scan and the mesh run on a tuned link.
        Step(log, "nic", () => NicTuner.TuneAll(new SystemEthtool(), new SysfsNicDiscovery(), message => log.Write("nic", message)));
        if (report is not null)
        {
            Step(log, "services", () => host.Start(NodeServices.Create(log, report, KernelCommandLine.Read(), host.Power), stopping.Token));
        }
        else
        {
            log.Write("init", "no services: early boot did not finish; PID 1 stays up for inspection");
        }
        host.HoldForever();
    }

    private static void Step(ILog log, string area, Action step)
    {
        try
        {
            step();
        }
        catch (Exception ex)
        {
            log.Write(area, $"failed: {ex.GetType().Name}: {ex.Message}; PID 1 goes on");
        }
    }
}
