using Ppn.Commands.Testing;
using Ppn.Appliance.Lifecycle;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;

namespace Ppn.Appliance.Testing;

/// <summary>
/// One recorder for every twin, so a test can assert the order of effects across capabilities
/// ("intake stopped" before "ppn0 converged to the new grant").
/// </summary>
public sealed class LifecycleJournal
{
    private readonly List<string> _events = [];

    public void Add(string e)
    {
        lock (_events) _events.Add(e);
    }

    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_events) return _events.ToArray();
        }
    }
}

public sealed class GenesisTwin(LifecycleJournal journal, Enrolment? result) : IGenesis
{
    public Enrolment? Run(CancellationToken stopping)
    {
        journal.Add("genesis");
        return result;
    }
}

public sealed class RescanTwin(LifecycleJournal journal) : IRescan
{
    /// <summary>What each rescan returns, in order; an exception in the queue is thrown. Empty: null.</summary>
    public Queue<object?> Results { get; } = new();

    public EnrolmentGrant? Rescan(CancellationToken stopping)
    {
        journal.Add("rescan");
        var next = Results.Count > 0 ? Results.Dequeue() : null;
        if (next is Exception e) throw e;
        return (EnrolmentGrant?)next;
    }
}

/// <summary>The replay rule over an in-memory store, as the appliance runs it over UEFI variables.</summary>
public sealed class CommandStateTwin(LifecycleJournal journal) : ICommandState
{
    public InMemoryReplayStateStore Store { get; } = new();
    public bool Fail { get; set; }

    public ReplayEnrolmentOutcome OnEnrolment(EnrolmentGrant grant, out ReplayState state)
    {
        journal.Add($"replay-rule epoch {grant.CommandKeyEpoch}");
        if (Fail) throw new IOException("variable store full (twin)");
        return ReplayEnrolment.Apply(Store, (byte)grant.CommandKeyEpoch, out state);
    }
}

/// <summary>ppn0: remembers the grant it was converged to; fails while <see cref="FailWith"/> is set; reports drift once.</summary>
public sealed class MeshTwin(LifecycleJournal journal) : IMeshInterface
{
    public string? FailWith { get; set; }
    /// <summary>The interface was deleted or changed behind the node's back: the next convergence repairs it.</summary>
    public bool Drifted { get; set; }
    public EnrolmentGrant? Current { get; private set; }
    public int Calls { get; private set; }

    public int Converge(EnrolmentGrant grant)
    {
        Calls++;
        if (FailWith is { } error)
        {
            journal.Add("converge failed");
            throw new InvalidOperationException(error);
        }
        bool change = Current is null || !Current.SameBindingAs(grant) || Drifted;
        Drifted = false;
        Current = grant;
        journal.Add($"converge {grant.Address} {grant.HubEndpoint}");
        return change ? 3 : 0;
    }
}

public sealed class IntakeTwin(LifecycleJournal journal) : ICommandIntake
{
    private readonly List<RunningIntakeTwin> _started = [];
    public string? FailWith { get; set; }
    public IReadOnlyList<RunningIntakeTwin> Started => _started;

    public IRunningIntake Start(EnrolmentGrant grant)
    {
        if (FailWith is { } error)
        {
            journal.Add("intake failed");
            throw new InvalidOperationException(error);
        }
        var running = new RunningIntakeTwin(journal, grant);
        _started.Add(running);
        journal.Add($"intake on {grant.Address}");
        return running;
    }
}

public sealed class RunningIntakeTwin(LifecycleJournal journal, EnrolmentGrant grant) : IRunningIntake
{
    public EnrolmentGrant Grant { get; } = grant;
    public bool Disposed { get; private set; }
    public Exception? Failure { get; set; }
    public bool InterfaceReplaced { get; set; }

    public void Dispose()
    {
        if (Disposed) return;
        Disposed = true;
        journal.Add($"intake stopped on {Grant.Address}");
    }
}

/// <summary>Scripted wakes; when the script is spent the node is told to stop.</summary>
public sealed class SignalsTwin(params LifecycleWake[] script) : ILifecycleSignals
{
    private readonly Queue<LifecycleWake> _script = new(script);
    /// <summary>Runs before each scripted wake is returned: the test changes a twin "while time passes".</summary>
    public Action<int>? BeforeWake { get; set; }
    public int Waits { get; private set; }
    public int RescanRequests { get; private set; }

    public LifecycleWake Wait(TimeSpan interval, CancellationToken stopping)
    {
        BeforeWake?.Invoke(Waits);
        Waits++;
        return _script.Count > 0 ? _script.Dequeue() : LifecycleWake.Stop;
    }

    public void RequestRescan() => RescanRequests++;
}
