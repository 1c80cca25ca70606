using System.Runtime.InteropServices;
using Ppn.Appliance.Commands;
using Ppn.Linux.Interop;

namespace Ppn.Appliance.Init;

/// <summary>A long-running part of the appliance, run on its own thread and restarted if it fails.</summary>
public interface IApplianceService
{
    string Name { get; }

    void Run(CancellationToken stopping);
}

/// <summary>
/// The node's PID 1. It must never return and never crash: when PID 1 exits the kernel panics and the
/// node is unreachable until someone walks to the rack. So every step is guarded, services run on their
/// own threads under supervision, and orphaned processes are reaped.
/// </summary>
public sealed class Pid1Host
{
    private const int WNOHANG = 1;
    private readonly ILog _log;
    private readonly List<PosixSignalRegistration> _signals = new();

    public Pid1Host(ILog log) => _log = log;

    public void InstallSignalHandlers(Action onPowerOffRequest)
    {
        // Ctrl-Alt-Del: deliver SIGINT to PID 1 instead of an immediate reboot (reboot(2) LINUX_REBOOT_CMD_CAD_OFF).
        LibC.reboot(RebootCommands.LINUX_REBOOT_CMD_CAD_OFF);
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx =>
        {
            ctx.Cancel = true;
            ReapChildren();
        }));
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                // The default action would end PID 1 (kernel panic): take over instead.
                ctx.Cancel = true;
                _log.Write("init", $"{ctx.Signal} received: powering off");
                onPowerOffRequest();
            }));
        }
    }

    public unsafe int ReapChildren()
    {
        int reaped = 0;
        int status;
        while (LibC.waitpid(-1, &status, WNOHANG) > 0)
        {
            reaped++;
        }
        return reaped;
    }

    /// <summary>Starts each service on a dedicated thread, restarting it with backoff if it throws or returns.</summary>
    public IReadOnlyList<Thread> Start(IEnumerable<IApplianceService> services, CancellationToken stopping)
    {
        var threads = new List<Thread>();
        foreach (var service in services)
        {
            var thread = new Thread(() => Supervise(service, stopping)) { IsBackground = true, Name = service.Name };
            thread.Start();
            threads.Add(thread);
        }
        return threads;
    }

    private void Supervise(IApplianceService service, CancellationToken stopping)
    {
        var backoff = new RestartBackoff();
        while (!stopping.IsCancellationRequested)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            string outcome;
            try
            {
                _log.Write(service.Name, "starting");
                service.Run(stopping);
                if (stopping.IsCancellationRequested)
                {
                    return;
                }
                outcome = "stopped on its own";
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                outcome = $"failed: {ex.GetType().Name}: {ex.Message}";
            }
            var wait = backoff.Next(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            _log.Write(service.Name, $"{outcome}; restarting in {wait.TotalSeconds:0} s");
            stopping.WaitHandle.WaitOne(wait);
        }
    }

    /// <summary>Flushes filesystems, then reboots or powers off; logs and returns if the kernel refuses.</summary>
    public void Power(PowerAction action)
    {
        LibC.sync();
        int rc = LibC.reboot(action == PowerAction.Reboot ? RebootCommands.LINUX_REBOOT_CMD_RESTART : RebootCommands.LINUX_REBOOT_CMD_POWER_OFF);
        if (rc != 0)
        {
            _log.Write("init", $"reboot(2) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>PID 1's last act: stay alive forever, whatever happened before.</summary>
    public void HoldForever()
    {
        while (true)
        {
            try
            {
                Thread.Sleep(Timeout.Infinite);
            }
            catch (Exception ex)
            {
                _log.Write("init", $"unexpected wake-up: {ex.Message}");
            }
        }
    }
}

/// <summary>
/// How long a supervised service waits before it is started again: 1 s after the first failure, doubling while it keeps
/// failing, at most 60 s. A run that lasted at least <see cref="Healthy"/> starts the count again, so a node whose
/// service failed a few times over months does not wait a minute for every later restart.
/// </summary>
public sealed class RestartBackoff
{
    public static readonly TimeSpan First = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(60);
    /// <summary>A run at least this long was healthy: the next wait is <see cref="First"/> again.</summary>
    public static readonly TimeSpan Healthy = TimeSpan.FromMinutes(5);

    private TimeSpan _next = First;

    /// <summary>The wait after a run that ended after <paramref name="ranFor"/>.</summary>
    public TimeSpan Next(TimeSpan ranFor)
    {
        if (ranFor >= Healthy) _next = First;
        var wait = _next;
        _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, Max.Ticks));
        return wait;
    }
}
