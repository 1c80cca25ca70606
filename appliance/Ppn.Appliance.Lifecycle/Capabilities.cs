using Ppn.Commands;
using Ppn.Genesis.Enrolment;

namespace Ppn.Appliance.Lifecycle;

/// <summary>An enrolment the node holds: the verified, stored grant, and whether this boot made it (join or claim).</summary>
public sealed record Enrolment(EnrolmentGrant Grant, bool MadeThisRun, string How);

/// <summary>
/// The Genesis Protocol up to an enrolment: restore the identity and a stored enrolment, else scan and join, else
/// hold on 9443 until claimed (genesis/GenesisProtocol). Persists the enrolment before it returns it.
/// </summary>
public interface IGenesis
{
    /// <summary>The enrolment, or null when genesis ended without one (cancelled, no identity, no pinned authority).</summary>
    Enrolment? Run(CancellationToken stopping);
}

/// <summary>Scan for a beacon and join again (beacon-rescan): the refreshed grant, stored before it is returned, or null.</summary>
public interface IRescan
{
    EnrolmentGrant? Rescan(CancellationToken stopping);
}

/// <summary>The command replay state in the node's variable store (docs/protocol/commands.md §Enrolment and the replay state).</summary>
public interface ICommandState
{
    ReplayEnrolmentOutcome OnEnrolment(EnrolmentGrant grant, out ReplayState state);
}

/// <summary>ppn0 as the grant says: idempotent (a correct interface is left alone), cheap enough to run every few seconds.</summary>
public interface IMeshInterface
{
    /// <summary>Changes made (0 when ppn0 already matched); throws when the interface cannot be brought to the grant.</summary>
    int Converge(EnrolmentGrant grant);
}

/// <summary>The UDP 8090 command intake for one grant: bound to its mesh address, keyed for its node id.</summary>
public interface ICommandIntake
{
    /// <summary>Binds and starts receiving; throws when it cannot (address not yet on ppn0, node id too large).</summary>
    IRunningIntake Start(EnrolmentGrant grant);
}

/// <summary>A started intake. <see cref="Failure"/> is set when its receive loop died (it is then restarted).</summary>
public interface IRunningIntake : IDisposable
{
    Exception? Failure { get; }
    /// <summary>
    /// The interface the intake is bound to was replaced (ppn0 deleted, or deleted and created again): it hears
    /// nothing more, so the lifecycle starts it again.
    /// </summary>
    bool InterfaceReplaced => false;
}

public enum LifecycleWake
{
    /// <summary>The re-convergence interval passed.</summary>
    Tick,
    /// <summary>An authority beacon-rescan command asked for a rescan.</summary>
    Rescan,
    /// <summary>The node is stopping.</summary>
    Stop,
}

/// <summary>What wakes the enrolled node: a tick, a rescan request, or stop. The real one waits on handles; the twin is scripted.</summary>
public interface ILifecycleSignals
{
    LifecycleWake Wait(TimeSpan interval, CancellationToken stopping);
    void RequestRescan();
}

/// <summary>Real signals: a rescan event and the stopping token, with the interval as the wait's timeout.</summary>
public sealed class WaitHandleSignals : ILifecycleSignals, IDisposable
{
    private readonly AutoResetEvent _rescan = new(false);

    public LifecycleWake Wait(TimeSpan interval, CancellationToken stopping)
    {
        if (stopping.IsCancellationRequested) return LifecycleWake.Stop;
        return WaitHandle.WaitAny([stopping.WaitHandle, _rescan], interval) switch
        {
            0 => LifecycleWake.Stop,
            1 => LifecycleWake.Rescan,
            _ => LifecycleWake.Tick,
        };
    }

    public void RequestRescan() => _rescan.Set();

    public void Dispose() => _rescan.Dispose();
}
