using Ppn.Commands;
using Ppn.Genesis.Enrolment;

namespace Ppn.Appliance.Lifecycle;

public enum NodeState
{
    Starting,
    /// <summary>Restore, scan and join, or hold on 9443 for a claim (genesis/).</summary>
    Genesis,
    /// <summary>Genesis ended without an enrolment (no identity, no pinned authority, cancelled): nothing more to run.</summary>
    NotEnrolled,
    /// <summary>Enrolled with <see cref="NodeLifecycle.Grant"/>: ppn0 re-converged every interval, the command intake kept running.</summary>
    Enrolled,
    /// <summary>A beacon-rescan in progress; the old grant stays served until a changed one is stored.</summary>
    Rescanning,
    Stopped,
}

public sealed class NodeLifecycleOptions
{
    /// <summary>
    /// How often an enrolled spoke re-converges ppn0 and checks its command intake: a deleted or drifted ppn0 is back
    /// within this interval plus one bring-up (docs/architecture.md, PID 1).
    /// </summary>
    public TimeSpan ConvergeInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The enrolled node's life as one state machine (Starting → Genesis → Enrolled ⇄ Rescanning → Stopped, or
/// NotEnrolled) over injected capabilities; the appliance composes the real ones (NodeServices), the tests twins.
/// Rules: an enrolment is persisted before anything uses it (genesis and rescan store it first); the replay rule of
/// docs/protocol/commands.md §Enrolment and the replay state runs before the command intake starts; a changed grant
/// stops the intake first, then moves ppn0, then starts the intake on the new address and keys, so the old address
/// or key is never served beside the new one; ppn0 and the intake are re-checked every interval and repaired.
/// </summary>
public sealed class NodeLifecycle(
    IGenesis genesis,
    IRescan rescan,
    ICommandState commandState,
    IMeshInterface mesh,
    ICommandIntake intake,
    ILifecycleSignals signals,
    Action<string, string> log,
    NodeLifecycleOptions? options = null)
{
    private readonly NodeLifecycleOptions _options = options ?? new();
    private readonly List<NodeState> _history = [];
    private IRunningIntake? _intake;
    private bool _meshUp;
    private bool _activated;
    private string? _lastMeshError;
    private string? _lastIntakeError;
    private CancellationToken _run;

    public NodeState State { get; private set; } = NodeState.Starting;
    public EnrolmentGrant? Grant { get; private set; }
    /// <summary>Every state entered, in order (for reports and tests).</summary>
    public IReadOnlyList<NodeState> History
    {
        get
        {
            lock (_history) return _history.ToArray();
        }
    }
    /// <summary>True while ppn0 matches the grant (the last convergence succeeded).</summary>
    public bool MeshUp => _meshUp;
    public bool IntakeRunning => _intake is { Failure: null };

    /// <summary>
    /// Called once, the first time ppn0 is up and the intake was started (the mesh sync agent starts here, the mesh-ping
    /// self-test hangs here). Its token is cancelled when <see cref="Run"/> ends, however it ends: what it started must
    /// not outlive this run (a supervisor that restarts the service after a failure would run it twice, the old one on
    /// a disposed identity).
    /// </summary>
    public Action<CancellationToken>? FirstActivation { get; init; }

    public void Run(CancellationToken stopping)
    {
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _run = run.Token;
        try
        {
            Enter(NodeState.Genesis);
            var enrolment = genesis.Run(stopping);
            if (enrolment is null || stopping.IsCancellationRequested)
            {
                if (!stopping.IsCancellationRequested) Enter(NodeState.NotEnrolled);
                // Stay until the node stops, so a supervisor does not run genesis again.
                stopping.WaitHandle.WaitOne();
                return;
            }
            if (enrolment.MadeThisRun)
            {
                ApplyReplayRule(enrolment.Grant);
            }
            Grant = enrolment.Grant;
            Enter(NodeState.Enrolled);
            Reconcile(stopping);
            while (true)
            {
                switch (signals.Wait(_options.ConvergeInterval, stopping))
                {
                    case LifecycleWake.Stop:
                        return;
                    case LifecycleWake.Rescan:
                        Rescan(stopping);
                        break;
                    default:
                        Reconcile(stopping);
                        break;
                }
            }
        }
        finally
        {
            try
            {
                run.Cancel();
            }
            catch (AggregateException e)
            {
                log("mesh", $"stopping what the first activation started: {e.InnerException?.Message ?? e.Message}");
            }
            StopIntake();
            Enter(NodeState.Stopped);
        }
    }

    private void Rescan(CancellationToken stopping)
    {
        var current = Grant!;
        Enter(NodeState.Rescanning);
        EnrolmentGrant? refreshed = null;
        try
        {
            refreshed = rescan.Rescan(stopping);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log("genesis", $"beacon rescan failed: {e.Message}; the enrolment stays as it is");
        }
        if (refreshed is not null && !refreshed.SameBindingAs(current))
        {
            log("genesis", $"enrolment changed by the rescan: {Describe(current)} -> {Describe(refreshed)}; the command listener and ppn0 follow");
            // The new grant is stored (IRescan's contract). Stop serving the old address and keys first.
            StopIntake();
            ApplyReplayRule(refreshed);
            Grant = refreshed;
            _meshUp = false;
        }
        else if (refreshed is not null)
        {
            log("genesis", "beacon rescan: the same binding; nothing to move");
        }
        Enter(NodeState.Enrolled);
        Reconcile(stopping);
    }

    // Idempotent: ppn0 to the grant, then the intake on it; each failure is logged once until it changes or heals.
    private void Reconcile(CancellationToken stopping)
    {
        var grant = Grant!;
        try
        {
            int changes = mesh.Converge(grant);
            if (!_meshUp || changes > 0)
            {
                log("mesh", $"ppn0 {(_meshUp ? "repaired" : "up")} as {grant.Address}/{EnrolmentGrant.PrefixLength}, hub {grant.HubEndpoint}: {changes} change(s)");
            }
            _meshUp = true;
            _lastMeshError = null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _meshUp = false;
            if (e.Message != _lastMeshError)
            {
                log("mesh", $"ppn0 bring-up failed: {e.Message}; retrying every {_options.ConvergeInterval.TotalSeconds:0} s");
                _lastMeshError = e.Message;
            }
        }
        if (_meshUp)
        {
            EnsureIntake(grant);
        }
        if (_meshUp && !_activated)
        {
            _activated = true;
            FirstActivation?.Invoke(_run);
        }
    }

    private void EnsureIntake(EnrolmentGrant grant)
    {
        if (_intake is { Failure: { } failure })
        {
            log("commands", $"the receive loop died ({failure.Message}); restarting the command listener");
            StopIntake();
        }
        else if (_intake is { InterfaceReplaced: true })
        {
            log("commands", "ppn0 was replaced since the command listener bound it; restarting the command listener");
            StopIntake();
        }
        if (_intake is not null) return;
        try
        {
            _intake = intake.Start(grant);
            _lastIntakeError = null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (e.Message != _lastIntakeError)
            {
                log("commands", $"not listening: {e.Message}; retrying every {_options.ConvergeInterval.TotalSeconds:0} s");
                _lastIntakeError = e.Message;
            }
        }
    }

    private void ApplyReplayRule(EnrolmentGrant grant)
    {
        try
        {
            var outcome = commandState.OnEnrolment(grant, out var state);
            log("commands", outcome switch
            {
                ReplayEnrolmentOutcome.FirstEnrolment => $"first enrolment of this identity: command epoch {state.Epoch}, floor 0",
                ReplayEnrolmentOutcome.Kept => $"replay state kept across the re-enrolment: epoch {state.Epoch}, floor {state.Floor} (grant epoch {grant.CommandKeyEpoch})",
                _ => $"replay state was lost: moved to command epoch {state.Epoch}, floor 0 (commands of earlier epochs can never verify again)",
            });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The intake's own startup applies §Lost replay state to whatever is (not) stored: fail closed, not open.
            log("commands", $"replay state not updated for the enrolment: {e.Message}");
        }
    }

    private void StopIntake()
    {
        var running = _intake;
        _intake = null;
        running?.Dispose();
    }

    private void Enter(NodeState state)
    {
        State = state;
        lock (_history) _history.Add(state);
    }

    private static string Describe(EnrolmentGrant g) => $"node {g.NodeId} {g.Address}/{EnrolmentGrant.PrefixLength} hub {g.HubEndpoint} epoch {g.CommandKeyEpoch}";
}
