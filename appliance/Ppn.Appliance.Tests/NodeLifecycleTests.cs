using System.Net;
using Ppn.Appliance.Lifecycle;
using Ppn.Appliance.Testing;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;

namespace Ppn.Appliance.Tests;

/// <summary>The enrolled node's life (appliance/Ppn.Appliance.Lifecycle) over twins: every transition, every capability failing.</summary>
public class NodeLifecycleTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly LifecycleJournal _journal = new();
    private readonly List<string> _log = [];
    private readonly RescanTwin _rescan;
    private readonly CommandStateTwin _state;
    private readonly MeshTwin _mesh;
    private readonly IntakeTwin _intake;

    public NodeLifecycleTests()
    {
        _rescan = new RescanTwin(_journal);
        _state = new CommandStateTwin(_journal);
        _mesh = new MeshTwin(_journal);
        _intake = new IntakeTwin(_journal);
    }

    internal static EnrolmentGrant Grant(int host = 2, string hub = "198.51.100.7:51820", uint epoch = 0, ulong issuedAt = 1_700_000_000) =>
        new(GrantStatus.Granted, (ulong)host, IPAddress.Parse($"10.8.0.{host}"), IPEndPoint.Parse(hub), Enumerable.Repeat((byte)7, 32).ToArray(),
            epoch, Enumerable.Repeat((byte)9, 32).ToArray(), issuedAt, new byte[64]);

    private NodeLifecycle Lifecycle(Enrolment? enrolment, SignalsTwin signals, Action<CancellationToken>? first = null) =>
        new(new GenesisTwin(_journal, enrolment), _rescan, _state, _mesh, _intake, signals, (area, message) =>
        {
            lock (_log) _log.Add($"{area}: {message}");
        }, new NodeLifecycleOptions { ConvergeInterval = TimeSpan.FromMilliseconds(1) })
        {
            FirstActivation = first,
        };

    private string Log
    {
        get
        {
            lock (_log) return string.Join("\n", _log);
        }
    }

    [Fact]
    public void A_first_enrolment_applies_the_replay_rule_then_brings_up_ppn0_then_listens()
    {
        var grant = Grant();
        int activations = 0;
        var node = Lifecycle(new Enrolment(grant, MadeThisRun: true, "join"), new SignalsTwin(LifecycleWake.Tick, LifecycleWake.Tick), _ => activations++);
        node.Run(CancellationToken.None);
        Assert.Equal(["genesis", "replay-rule epoch 0", "converge 10.8.0.2 198.51.100.7:51820", "intake on 10.8.0.2",
            "converge 10.8.0.2 198.51.100.7:51820", "converge 10.8.0.2 198.51.100.7:51820", "intake stopped on 10.8.0.2"], _journal.Events);
        Assert.Equal([NodeState.Genesis, NodeState.Enrolled, NodeState.Stopped], node.History);
        Assert.Equal(1, activations);
        Assert.Single(_intake.Started);
        Assert.Contains("first enrolment of this identity: command epoch 0, floor 0", Log);
    }

    [Fact]
    public void What_the_first_activation_started_is_stopped_when_the_run_ends_also_when_it_ends_in_a_failure()
    {
        // A node that stops: the run ends on its own (the signals say stop), PID 1's token is never cancelled.
        CancellationToken stopped = default;
        var node = Lifecycle(new Enrolment(Grant(), MadeThisRun: false, "restored"), new SignalsTwin(LifecycleWake.Tick), token => stopped = token);
        node.Run(CancellationToken.None);
        Assert.True(stopped.IsCancellationRequested);

        // A run that fails after the activation (the supervisor then starts the service again, with its own sync agent).
        CancellationToken failed = default;
        var failing = Lifecycle(new Enrolment(Grant(), MadeThisRun: false, "restored"), new SignalsTwin(), token =>
        {
            failed = token;
            throw new InvalidOperationException("the mesh-ping self-test could not open its socket");
        });
        using var pid1 = new CancellationTokenSource();
        Assert.Throws<InvalidOperationException>(() => failing.Run(pid1.Token));
        Assert.True(failed.IsCancellationRequested);
        Assert.False(pid1.IsCancellationRequested);
        Assert.Equal(NodeState.Stopped, failing.State);
    }

    [Fact]
    public void A_restored_enrolment_leaves_the_replay_state_alone()
    {
        var node = Lifecycle(new Enrolment(Grant(), MadeThisRun: false, "restored"), new SignalsTwin());
        node.Run(CancellationToken.None);
        Assert.DoesNotContain(_journal.Events, e => e.StartsWith("replay-rule", StringComparison.Ordinal));
        Assert.Equal(ReplayStateLoad.Missing, _state.Store.Load(out _));
    }

    [Fact]
    public void A_re_enrolment_with_the_same_grant_keeps_the_used_counters_closed()
    {
        _state.Store.Save(new ReplayState(0, 255)); // commands 1..n were accepted before the enrolment record was damaged
        var node = Lifecycle(new Enrolment(Grant(), MadeThisRun: true, "join"), new SignalsTwin());
        node.Run(CancellationToken.None);
        Assert.Equal(ReplayStateLoad.Ok, _state.Store.Load(out var state));
        Assert.Equal(new ReplayState(0, 255), state);
        Assert.Contains("replay state kept across the re-enrolment: epoch 0, floor 255", Log);
    }

    [Fact]
    public void Genesis_without_an_enrolment_waits_for_stop_and_runs_nothing_else()
    {
        using var stop = new CancellationTokenSource();
        var node = Lifecycle(null, new SignalsTwin());
        var run = new Thread(() => node.Run(stop.Token));
        run.Start();
        Assert.True(SpinWait.SpinUntil(() => node.State == NodeState.NotEnrolled, Bound));
        Assert.True(run.IsAlive);
        stop.Cancel();
        Assert.True(run.Join(Bound));
        Assert.Equal([NodeState.Genesis, NodeState.NotEnrolled, NodeState.Stopped], node.History);
        Assert.Equal(["genesis"], _journal.Events);
    }

    [Fact]
    public void Ppn0_failing_keeps_the_intake_off_until_a_later_tick_brings_it_up_and_the_error_is_logged_once()
    {
        _mesh.FailWith = "no wireguard module";
        var signals = new SignalsTwin(LifecycleWake.Tick, LifecycleWake.Tick, LifecycleWake.Tick);
        signals.BeforeWake = n => { if (n == 2) _mesh.FailWith = null; };
        var node = Lifecycle(new Enrolment(Grant(), true, "join"), signals);
        node.Run(CancellationToken.None);
        Assert.Equal(["genesis", "replay-rule epoch 0", "converge failed", "converge failed", "converge failed",
            "converge 10.8.0.2 198.51.100.7:51820", "intake on 10.8.0.2", "intake stopped on 10.8.0.2"], _journal.Events);
        Assert.Single(_log, l => l.Contains("ppn0 bring-up failed: no wireguard module", StringComparison.Ordinal));
        Assert.Contains("mesh: ppn0 up as 10.8.0.2/24", Log);
    }

    [Fact]
    public void A_deleted_ppn0_is_repaired_on_the_next_tick()
    {
        var signals = new SignalsTwin(LifecycleWake.Tick, LifecycleWake.Tick);
        signals.BeforeWake = n => { if (n == 0) _mesh.Drifted = true; };
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), signals);
        node.Run(CancellationToken.None);
        Assert.Contains("mesh: ppn0 repaired as 10.8.0.2/24", Log);
        Assert.Single(_intake.Started); // repairing ppn0 does not restart a healthy intake
    }

    [Fact]
    public void An_intake_that_cannot_start_is_retried_each_tick()
    {
        _intake.FailWith = "address not yet on ppn0";
        var signals = new SignalsTwin(LifecycleWake.Tick, LifecycleWake.Tick);
        signals.BeforeWake = n => { if (n == 1) _intake.FailWith = null; };
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), signals);
        node.Run(CancellationToken.None);
        Assert.Equal(2, _journal.Events.Count(e => e == "intake failed"));
        Assert.Single(_intake.Started);
        Assert.Single(_log, l => l.Contains("not listening: address not yet on ppn0", StringComparison.Ordinal));
    }

    [Fact]
    public void An_intake_whose_ppn0_was_replaced_is_started_again_on_the_new_one()
    {
        var signals = new SignalsTwin(LifecycleWake.Tick, LifecycleWake.Tick);
        signals.BeforeWake = n => { if (n == 0) _intake.Started[0].InterfaceReplaced = true; };
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), signals);
        node.Run(CancellationToken.None);
        Assert.Equal(2, _intake.Started.Count);
        Assert.True(_intake.Started[0].Disposed);
        Assert.Single(_log, l => l == "commands: ppn0 was replaced since the command listener bound it; restarting the command listener");
    }

    [Fact]
    public void A_dead_receive_loop_is_noticed_and_the_intake_restarted_with_a_console_line()
    {
        var signals = new SignalsTwin(LifecycleWake.Tick, LifecycleWake.Tick);
        signals.BeforeWake = n => { if (n == 0) _intake.Started[0].Failure = new IOException("recvmmsg: ENOMEM"); };
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), signals);
        node.Run(CancellationToken.None);
        Assert.Equal(2, _intake.Started.Count);
        Assert.True(_intake.Started[0].Disposed);
        Assert.Contains("commands: the receive loop died (recvmmsg: ENOMEM); restarting the command listener", Log);
    }

    [Fact]
    public void A_rescan_that_moves_the_hub_stops_the_old_intake_before_ppn0_moves_then_listens_on_the_new_grant()
    {
        var moved = Grant(hub: "203.0.113.9:51821", issuedAt: 1_800_000_000);
        _rescan.Results.Enqueue(moved);
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), new SignalsTwin(LifecycleWake.Rescan));
        node.Run(CancellationToken.None);
        Assert.Equal(["genesis", "converge 10.8.0.2 198.51.100.7:51820", "intake on 10.8.0.2", "rescan",
            "intake stopped on 10.8.0.2", "replay-rule epoch 0", "converge 10.8.0.2 203.0.113.9:51821", "intake on 10.8.0.2",
            "intake stopped on 10.8.0.2"], _journal.Events);
        Assert.Same(moved, node.Grant);
        Assert.Same(moved, _intake.Started[1].Grant);
        Assert.Equal([NodeState.Genesis, NodeState.Enrolled, NodeState.Rescanning, NodeState.Enrolled, NodeState.Stopped], node.History);
    }

    [Fact]
    public void A_rescan_with_the_same_binding_re_signed_moves_nothing()
    {
        _rescan.Results.Enqueue(Grant(issuedAt: 1_900_000_000));
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), new SignalsTwin(LifecycleWake.Rescan));
        node.Run(CancellationToken.None);
        Assert.Single(_intake.Started);
        Assert.Contains("beacon rescan: the same binding; nothing to move", Log);
    }

    [Fact]
    public void A_rescan_that_finds_nothing_or_fails_keeps_the_enrolment_and_the_intake()
    {
        _rescan.Results.Enqueue(null);
        _rescan.Results.Enqueue(new IOException("AF_PACKET socket refused"));
        var grant = Grant();
        var node = Lifecycle(new Enrolment(grant, false, "restored"), new SignalsTwin(LifecycleWake.Rescan, LifecycleWake.Rescan));
        node.Run(CancellationToken.None);
        Assert.Same(grant, node.Grant);
        Assert.Single(_intake.Started);
        Assert.Contains("beacon rescan failed: AF_PACKET socket refused; the enrolment stays as it is", Log);
    }

    [Fact]
    public void A_replay_rule_that_cannot_persist_is_logged_and_the_intake_still_starts_failing_closed()
    {
        _state.Fail = true;
        var node = Lifecycle(new Enrolment(Grant(), true, "claim"), new SignalsTwin());
        node.Run(CancellationToken.None);
        Assert.Contains("replay state not updated for the enrolment: variable store full (twin)", Log);
        Assert.Single(_intake.Started);
    }

    [Fact]
    public void Genesis_that_fails_leaves_nothing_running_and_the_failure_to_the_supervisor()
    {
        var node = new NodeLifecycle(new ThrowingGenesis(), _rescan, _state, _mesh, _intake, new SignalsTwin(), (_, _) => { });
        var e = Assert.Throws<IOException>(() => node.Run(CancellationToken.None));
        Assert.Equal("efivarfs went away", e.Message);
        Assert.Equal([NodeState.Genesis, NodeState.Stopped], node.History);
        Assert.Empty(_intake.Started);
        Assert.Equal(0, _mesh.Calls);
    }

    private sealed class ThrowingGenesis : IGenesis
    {
        public Enrolment? Run(CancellationToken stopping) => throw new IOException("efivarfs went away");
    }

    [Fact]
    public void Stopping_disposes_the_intake()
    {
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var node = Lifecycle(new Enrolment(Grant(), false, "restored"), new SignalsTwin(LifecycleWake.Tick));
        node.Run(stop.Token);
        Assert.Equal(NodeState.Stopped, node.State);
        Assert.All(_intake.Started, i => Assert.True(i.Disposed));
    }

    [Fact]
    public void Grants_compare_by_content_and_a_re_signed_grant_is_the_same_binding()
    {
        Assert.Equal(Grant(), Grant());
        Assert.NotEqual(Grant(), Grant(issuedAt: 5));
        Assert.True(Grant().SameBindingAs(Grant(issuedAt: 5)));
        Assert.False(Grant().SameBindingAs(Grant(hub: "203.0.113.9:51821")));
        Assert.False(Grant().SameBindingAs(Grant(epoch: 1)));
    }
}
