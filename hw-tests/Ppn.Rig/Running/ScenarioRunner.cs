using System.Diagnostics;
using System.Globalization;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig.Running;

/// <summary>Quick scenarios run in `make test`; full ones only in `make hil` (PPN_HIL=full).</summary>
public enum ScenarioSet
{
    Quick,
    Full,
}

/// <summary>
/// One scenario: what only a booted node can show, written once and run by both the xunit scenarios
/// (Ppn.Rig.Scenarios) and <c>ppn-rig run</c>. A scenario throws <see cref="ProductCheckException"/> or
/// <see cref="NodeFailureException"/> when the node misbehaves and <see cref="RigInfrastructureException"/>
/// when the rig cannot do its part; the runner classifies and reports either.
/// </summary>
public sealed record Scenario(string Name, ScenarioSet Set, string Description, Action<ScenarioContext> Body)
{
    /// <summary>What the scenario needs beyond power, console and link; on a backend without it the run is skipped with the reason.</summary>
    public NodeAbilities Needs { get; init; }

    /// <summary>How many separate machines it uses (a bench rig file must name that many boards).</summary>
    public int Machines { get; init; } = 1;

    /// <summary>Boots no node at all (runs on the host, the same on any backend).</summary>
    public bool HostOnly { get; init; }

    /// <summary>Why it cannot run on <paramref name="backend"/>, or null when it can.</summary>
    public string? WhyNotOn(INodeBackend backend)
    {
        if (HostOnly)
        {
            return null;
        }
        var missing = Needs & ~backend.Abilities;
        if (missing != NodeAbilities.None)
        {
            return $"backend {backend.Name}: {NodeAbilitiesText.Why(missing)}";
        }
        if (backend.Machines is { } machines && machines < Machines)
        {
            return string.Create(CultureInfo.InvariantCulture, $"backend {backend.Name}: needs {Machines} machines, the rig has {machines}");
        }
        return null;
    }
}

/// <summary>What a scenario gets: the image, a rig made on demand, a seed, progress output, and node registration for reports.</summary>
public sealed class ScenarioContext : IDisposable
{
    private readonly List<Rig> _rigs = [];
    private readonly List<IRigNode> _nodes = [];
    private readonly List<string> _notes = [];
    private readonly TextWriter _progress;

    private readonly ManualResetEventSlim _bodyEnded = new(false);
    private string? _interrupted;

    internal ScenarioContext(Scenario scenario, ScenarioOptions options, TextWriter progress)
    {
        Scenario = scenario;
        Options = options;
        _progress = progress;
    }

    /// <summary>Why the run was stopped from outside (SIGINT, SIGTERM), or null.</summary>
    public string? Interrupted => Volatile.Read(ref _interrupted);

    private void ThrowIfInterrupted()
    {
        if (Interrupted is { } why)
        {
            throw new RunInterruptedException(why);
        }
    }

    /// <summary>
    /// Stops the run from another thread: no new rig or node is made, and every node is cut (<see cref="IRigNode.Kill"/>)
    /// until the scenario's body has returned — again and again, since a body between two steps may power a node on
    /// after the first cut. A cut node ends its console, so the body's waits end at once instead of at their deadlines.
    /// </summary>
    internal void Interrupt(string why)
    {
        if (Interlocked.CompareExchange(ref _interrupted, why, null) is not null)
        {
            return;
        }
        Log($"interrupted ({why}): cutting every node's power, then cleaning up");
        new Thread(() =>
        {
            while (true)
            {
                foreach (var node in NodesSnapshot())
                {
                    try
                    {
                        if (node.IsRunning)
                        {
                            node.Kill();
                        }
                    }
                    catch (Exception)
                    {
                        // The runner's own cleanup kills again and reports what fails.
                    }
                }
                // Bounded step; ends with the body (the runner then cleans up on its own thread).
                if (_bodyEnded.Wait(TimeSpan.FromMilliseconds(250)))
                {
                    return;
                }
            }
        }) { IsBackground = true, Name = "scenario interrupt" }.Start();
    }

    internal void BodyEnded() => _bodyEnded.Set();

    private IRigNode[] NodesSnapshot()
    {
        lock (_nodes)
        {
            return [.. _nodes];
        }
    }

    public Scenario Scenario { get; }
    public ScenarioOptions Options { get; }

    /// <summary>The image under test; a missing image is an infrastructure failure that says how to make one.</summary>
    public NodeImage Image => NodeImage.Locate(Options.ImageDirectory);

    /// <summary>The backend the nodes come from (<see cref="ScenarioOptions.Backend"/>).</summary>
    public INodeBackend Backend => Options.Backend;

    /// <summary>A fresh rig (namespace, the backend's link, work directory), disposed with the context.</summary>
    public Rig CreateRig(string name)
    {
        ThrowIfInterrupted();
        var rig = Backend.CreateRig(name);
        _rigs.Add(rig);
        return rig;
    }

    /// <summary>
    /// A node on <paramref name="rig"/> from the context's backend (factory-new where the backend can make one),
    /// included in the report (console tail, power events).
    /// </summary>
    public IRigNode FactoryNewNode(Rig rig, string name, BootSource boot, NicModel nic = NicModel.VirtioNet)
    {
        ThrowIfInterrupted();
        var node = Backend.NewNode(rig, name, boot, nic);
        lock (_nodes)
        {
            _nodes.Add(node);
        }
        return node;
    }

    /// <summary>An emulated LAN (<see cref="Rig.CreateLan"/>), disposed with the context.</summary>
    public Rig CreateLan(string name, int ports)
    {
        ThrowIfInterrupted();
        var rig = Rig.CreateLan(name, ports);
        _rigs.Add(rig);
        return rig;
    }

    /// <summary>A factory-new node on port <paramref name="port"/> of a LAN rig, included in the report.</summary>
    public IRigNode LanNode(Rig rig, string name, BootSource boot, int port, System.Net.NetworkInformation.PhysicalAddress? mac = null)
    {
        ThrowIfInterrupted();
        var node = rig.LanNode(name, boot, port, mac);
        lock (_nodes)
        {
            _nodes.Add(node);
        }
        return node;
    }

    public IReadOnlyList<IRigNode> Nodes => NodesSnapshot();
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>A progress line (shown live by the CLI, kept in the report).</summary>
    public void Log(string line)
    {
        var stamped = string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:HH:mm:ss} {line}");
        lock (_notes)
        {
            _notes.Add(stamped);
        }
        lock (_progress)
        {
            _progress.WriteLine(stamped);
        }
    }

    public void Dispose()
    {
        List<Exception> errors = [];
        _bodyEnded.Set();
        Disposal.Each(NodesSnapshot(), errors);
        Disposal.Each(_rigs, errors);
        if (errors.Count > 0)
        {
            throw new AggregateException("the scenario could not stop every node and rig", errors);
        }
    }
}

public sealed record ScenarioOptions
{
    /// <summary>Seed for schedules (power-cut times); the report names it so a failing run can be repeated.</summary>
    public int Seed { get; init; } = 8;

    /// <summary>Null: the scenario's own count for its set (quick or full).</summary>
    public int? Cuts { get; init; }

    public string? ImageDirectory { get; init; }

    /// <summary>Where reports go; default out/rig-reports under the repo root.</summary>
    public string ReportRoot { get; init; } = Path.Combine(RigEnvironment.RepoRoot, "out", "rig-reports");

    public bool Full { get; init; } = RigEnvironment.FullHil;

    /// <summary>Where the nodes come from; default the emulated backend (QEMU nodes).</summary>
    public INodeBackend Backend { get; init; } = new EmulatedBackend();
}

public enum ScenarioOutcome
{
    Passed,
    Failed,
    /// <summary>Not run: the backend lacks what the scenario needs (<see cref="ScenarioResult.SkipReason"/>).</summary>
    Skipped,
    /// <summary>Stopped from outside (<see cref="ScenarioRunner.Interrupt"/>: Ctrl-C, SIGTERM): no verdict; nodes cut, rig cleaned up.</summary>
    Interrupted,
}

/// <summary>What one scenario run gave, and what each node did (for the report).</summary>
public sealed record ScenarioResult(
    Scenario Scenario,
    ScenarioOutcome Outcome,
    FailureKind? Failure,
    Exception? Error,
    TimeSpan Duration,
    DateTimeOffset Started,
    int Seed,
    IReadOnlyList<NodeReport> Nodes,
    IReadOnlyList<string> Notes)
{
    public string? ReportDirectory { get; init; }

    /// <summary>Why it did not run (<see cref="ScenarioOutcome.Skipped"/>).</summary>
    public string? SkipReason { get; init; }

    /// <summary>The backend it ran on (or was skipped on).</summary>
    public string Backend { get; init; } = "qemu";

    /// <summary>Why it was stopped from outside (<see cref="ScenarioOutcome.Interrupted"/>).</summary>
    public string? InterruptReason { get; init; }
}

public sealed record NodeReport(string Name, string? ConsoleLogPath, IReadOnlyList<ConsoleLine> ConsoleTail, IReadOnlyList<NodeEvent> PowerEvents, int Boots)
{
    public string Backend { get; init; } = "qemu";
}

/// <summary>Runs scenarios by name, classifies failures (infrastructure, product, rig code) and writes reports.</summary>
public sealed class ScenarioRunner(TextWriter progress, ScenarioOptions? options = null)
{
    private readonly object _gate = new();
    private ScenarioContext? _running;
    private string? _interrupt;

    public ScenarioOptions Options { get; } = options ?? new ScenarioOptions();

    /// <summary>
    /// Stops the run in progress (or the next one) from another thread, e.g. on Ctrl-C: returns at once; the run then
    /// cuts every node, cleans up (namespaces, the bench link given back, reports) and ends <see cref="ScenarioOutcome.Interrupted"/>.
    /// </summary>
    public void Interrupt(string why)
    {
        ScenarioContext? running;
        lock (_gate)
        {
            _interrupt ??= why;
            running = _running;
        }
        running?.Interrupt(why);
    }

    public static Scenario Find(string name) =>
        ScenarioCatalog.All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"no scenario '{name}'; `ppn-rig scenarios` lists them");

    public ScenarioResult Run(string name) => Run(Find(name));

    public ScenarioResult Run(Scenario scenario)
    {
        if (scenario.WhyNotOn(Options.Backend) is { } why)
        {
            var skipped = new ScenarioResult(scenario, ScenarioOutcome.Skipped, null, null, TimeSpan.Zero, DateTimeOffset.UtcNow, Options.Seed, [], [])
            {
                SkipReason = why,
                Backend = Options.Backend.Name,
            };
            var at = RigReport.Write(skipped, Options.ReportRoot);
            progress.WriteLine($"{scenario.Name}: SKIPPED — {why}; report: {at}");
            return skipped with { ReportDirectory = at };
        }
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        Exception? error = null;
        IReadOnlyList<NodeReport> nodes;
        List<string> notes;
        // What stopping the nodes and rigs threw: a port that will not switch off is a board left powered, which the
        // report must say (and classify) instead of it escaping the runner as a bare exception with no report.
        var cleanup = new List<Exception>();
        var context = new ScenarioContext(scenario, Options, progress);
        string? interruptedBefore;
        lock (_gate)
        {
            _running = context;
            interruptedBefore = _interrupt;
        }
        if (interruptedBefore is not null)
        {
            context.Interrupt(interruptedBefore);
        }
        try
        {
            context.Log($"scenario {scenario.Name} on {Options.Backend.Name} (seed {Options.Seed}, {(Options.Full ? "full" : "quick")} mode)");
            try
            {
                scenario.Body(context);
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                context.BodyEnded();
                // Stop every emulator before the report, so each console ends with its last words.
                foreach (var node in context.Nodes)
                {
                    try
                    {
                        node.Kill();
                    }
                    catch (Exception e)
                    {
                        cleanup.Add(e);
                    }
                }
            }
            nodes = context.Nodes.Select(n => new NodeReport(n.Name, n.LogPath, n.Console.Tail(), n.Lifecycle.Events, n.BootCount) { Backend = n.Backend }).ToArray();
        }
        finally
        {
            lock (_gate)
            {
                _running = null;
            }
            try
            {
                context.Dispose();
            }
            catch (AggregateException e)
            {
                cleanup.AddRange(e.InnerExceptions);
            }
            catch (Exception e)
            {
                cleanup.Add(e);
            }
        }
        notes = [.. context.Notes];
        // The same fault is met twice (Kill, then Dispose kills again): say each once.
        var distinct = cleanup.GroupBy(e => e.Message).Select(g => g.First()).ToList();
        foreach (var e in distinct)
        {
            var line = $"cleanup failed: {e.Message}";
            notes.Add(line);
            progress.WriteLine(line);
        }
        if (error is null && distinct.Count > 0)
        {
            error = distinct.Count == 1 ? distinct[0] : new AggregateException("the scenario could not stop every node and rig", distinct);
        }
        if (context.Interrupted is { } signal)
        {
            // What the body threw after its nodes were cut is no verdict on anything.
            var interrupted = new ScenarioResult(scenario, ScenarioOutcome.Interrupted, null, error, clock.Elapsed, started, Options.Seed, nodes, notes)
            {
                Backend = Options.Backend.Name,
                InterruptReason = signal,
            };
            var at = RigReport.Write(interrupted, Options.ReportRoot);
            progress.WriteLine($"{scenario.Name}: INTERRUPTED ({signal}); nodes cut, rig cleaned up; report: {at}");
            return interrupted with { ReportDirectory = at };
        }
        var result = new ScenarioResult(scenario, error is null ? ScenarioOutcome.Passed : ScenarioOutcome.Failed,
            error is null ? null : FailureClassifier.Classify(error), error, clock.Elapsed, started, Options.Seed, nodes, notes)
        { Backend = Options.Backend.Name };
        var directory = RigReport.Write(result, Options.ReportRoot);
        progress.WriteLine($"{scenario.Name}: {(error is null ? "PASSED" : "FAILED — " + FailureClassifier.Describe(result.Failure!.Value))}; report: {directory}");
        return result with { ReportDirectory = directory };
    }

    /// <summary>
    /// For the xunit scenarios: runs the scenario and, when it failed, throws an exception whose first line
    /// says whether the rig or the product failed, followed by the original failure and the report path.
    /// </summary>
    public static void RunForTest(string name, TextWriter? progress = null, INodeBackend? backend = null)
    {
        var options = backend is null ? new ScenarioOptions() : new ScenarioOptions { Backend = backend };
        var result = new ScenarioRunner(progress ?? TextWriter.Null, options).Run(name);
        if (result.Outcome == ScenarioOutcome.Failed)
        {
            throw new ScenarioFailedException(result);
        }
        if (result.Outcome == ScenarioOutcome.Interrupted)
        {
            throw new RunInterruptedException($"{result.InterruptReason}; report: {result.ReportDirectory}");
        }
        if (result.Outcome == ScenarioOutcome.Skipped)
        {
            // A wrapper picks its backend: one that cannot run its scenario is a wrapper bug, not a pass.
            throw new InvalidOperationException($"{name} cannot run on {result.Backend}: {result.SkipReason}");
        }
    }
}

/// <summary>The run was stopped from outside (<see cref="ScenarioRunner.Interrupt"/>) before this step.</summary>
public sealed class RunInterruptedException(string why) : Exception($"the run was interrupted ({why})");

public sealed class ScenarioFailedException(ScenarioResult result) : Exception(
    $"{FailureClassifier.Describe(result.Failure!.Value)}: {result.Error!.Message}\nreport: {result.ReportDirectory}",
    result.Error)
{
    public ScenarioResult Result { get; } = result;
}
