using System.Globalization;

namespace Ppn.Rig.Model;

/// <summary>Where a node is in its life as the rig sees it.</summary>
public enum NodeState
{
    /// <summary>No power (never started, powered off, or the guest ended the VM).</summary>
    Off,
    /// <summary>Powered; the node has not yet shown that it holds or joined.</summary>
    Booting,
    /// <summary>The node answered on TCP 9443 with its genesis banner (self-genesis, waiting to be claimed).</summary>
    Holding,
    /// <summary>The node said it enrolled (joined a mesh or was claimed).</summary>
    Joined,
    /// <summary>A state's deadline passed, or the node said something it must not; see the last transition's reason.</summary>
    Failed,
}

/// <summary>One entry of a node's power-and-state log: what changed, when, and why.</summary>
public sealed record NodeEvent(DateTimeOffset At, TimeSpan SinceStart, NodeState From, NodeState To, string What)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{At:HH:mm:ss.fff} +{SinceStart.TotalSeconds,8:0.000}s {From,-8} -> {To,-8} {What}");
}

/// <summary>
/// The explicit state machine of one node: Off → Booting → Holding | Joined | Failed, every transition checked
/// against the table and every state that must end (Booting) given a deadline. A node that overstays one is
/// moved to Failed with the reason, so a hung boot is a result, not an endless wait. The event log is the
/// node's power-event log in reports.
/// </summary>
public sealed class NodeLifecycle(string node, TimeSpan bootBudget)
{
    private static readonly (NodeState From, NodeState To)[] Allowed =
    [
        (NodeState.Off, NodeState.Booting),
        (NodeState.Booting, NodeState.Holding),
        (NodeState.Booting, NodeState.Joined),
        (NodeState.Booting, NodeState.Failed),
        (NodeState.Holding, NodeState.Joined),
        (NodeState.Holding, NodeState.Failed),
        (NodeState.Joined, NodeState.Failed),
        // The reset button: a running node starts again.
        (NodeState.Holding, NodeState.Booting),
        (NodeState.Joined, NodeState.Booting),
        (NodeState.Failed, NodeState.Booting),
        // Power cut or the emulator ending: from anywhere.
        (NodeState.Booting, NodeState.Off),
        (NodeState.Holding, NodeState.Off),
        (NodeState.Joined, NodeState.Off),
        (NodeState.Failed, NodeState.Off),
    ];

    private readonly object _gate = new();
    private readonly List<NodeEvent> _events = [];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private NodeState _state = NodeState.Off;
    private Deadline? _deadline;

    public string Node { get; } = node;

    /// <summary>How long Booting may last before the node is Failed (the time to the holding port or a join).</summary>
    public TimeSpan BootBudget { get; } = bootBudget;

    public NodeState State
    {
        get
        {
            lock (_gate)
            {
                CheckDeadlineLocked();
                return _state;
            }
        }
    }

    /// <summary>The deadline of the current state, or null when it may last (Off, Holding, Joined, Failed).</summary>
    public Deadline? Deadline
    {
        get
        {
            lock (_gate)
            {
                return _deadline;
            }
        }
    }

    public IReadOnlyList<NodeEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return _events.ToArray();
            }
        }
    }

    public static bool IsAllowed(NodeState from, NodeState to) => Allowed.Contains((from, to));

    /// <summary>Moves to <paramref name="to"/>; throws when the table does not allow it (a rig bug, not a node's).</summary>
    public void MoveTo(NodeState to, string why)
    {
        lock (_gate)
        {
            CheckDeadlineLocked();
            if (_state == to && to == NodeState.Off)
            {
                Record(to, why); // a second power-off of a dead node is logged, not an error
                return;
            }
            if (!IsAllowed(_state, to))
            {
                throw new InvalidOperationException($"node {Node}: no transition {_state} -> {to} ({why})");
            }
            Record(to, why);
        }
    }

    /// <summary>Moves to <paramref name="to"/> if the table allows it from where the node is; false otherwise.</summary>
    public bool TryMoveTo(NodeState to, string why)
    {
        lock (_gate)
        {
            CheckDeadlineLocked();
            if (!IsAllowed(_state, to))
            {
                return false;
            }
            Record(to, why);
            return true;
        }
    }

    /// <summary>Logs a power event that does not change the state (a QMP command, a port read-back).</summary>
    public void Note(string what)
    {
        lock (_gate)
        {
            _events.Add(new NodeEvent(DateTimeOffset.UtcNow, _clock.Elapsed, _state, _state, what));
        }
    }

    private void Record(NodeState to, string why)
    {
        _events.Add(new NodeEvent(DateTimeOffset.UtcNow, _clock.Elapsed, _state, to, why));
        _state = to;
        _deadline = to == NodeState.Booting ? Ppn.Rig.Deadline.After(BootBudget) : null;
    }

    private void CheckDeadlineLocked()
    {
        if (_deadline is { HasPassed: true } d && _state == NodeState.Booting)
        {
            Record(NodeState.Failed, $"still Booting after {BoundedWait.Format(d.Budget)}: no holding port or join in time");
        }
    }

    public string FormatEvents() =>
        string.Join('\n', Events.Select(e => "    " + e));
}
