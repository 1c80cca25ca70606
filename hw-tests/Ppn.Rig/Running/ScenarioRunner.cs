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
public sealed record Scenario(string Name, ScenarioSet Set, string Description, Action<ScenarioContext> Body);

/// <summary>What a scenario gets: the image, a rig made on demand, a seed, progress output, and node registration for reports.</summary>
public sealed class ScenarioContext : IDisposable
{
    private readonly List<Rig> _rigs = [];
    private readonly List<QemuNode> _nodes = [];
    private readonly List<string> _notes = [];
    private readonly TextWriter _progress;

    internal ScenarioContext(Scenario scenario, ScenarioOptions options, TextWriter progress)
    {
        Scenario = scenario;
        Options = options;
        _progress = progress;
    }

    public Scenario Scenario { get; }
    public ScenarioOptions Options { get; }

    /// <summary>The image under test; a missing image is an infrastructure failure that says how to make one.</summary>
    public NodeImage Image => NodeImage.Locate(Options.ImageDirectory);

    /// <summary>A fresh rig (namespace, tap, work directory), disposed with the context.</summary>
    public Rig CreateRig(string name)
    {
        var rig = Rig.Create(name);
        _rigs.Add(rig);
        return rig;
    }

    /// <summary>A factory-new node on <paramref name="rig"/>, included in the report (console tail, power events).</summary>
    public QemuNode FactoryNewNode(Rig rig, string name, BootSource boot)
    {
        var node = rig.FactoryNewNode(name, boot);
        _nodes.Add(node);
        return node;
    }

    /// <summary>An emulated LAN (<see cref="Rig.CreateLan"/>), disposed with the context.</summary>
    public Rig CreateLan(string name, int ports)
    {
        var rig = Rig.CreateLan(name, ports);
        _rigs.Add(rig);
        return rig;
    }

    /// <summary>A factory-new node on port <paramref name="port"/> of a LAN rig, included in the report.</summary>
    public QemuNode LanNode(Rig rig, string name, BootSource boot, int port, System.Net.NetworkInformation.PhysicalAddress? mac = null)
    {
        var node = rig.LanNode(name, boot, port, mac);
        _nodes.Add(node);
        return node;
    }

    public IReadOnlyList<QemuNode> Nodes => _nodes;
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
        foreach (var rig in _rigs)
        {
            rig.Dispose();
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
}

public enum ScenarioOutcome
{
    Passed,
    Failed,
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
}

public sealed record NodeReport(string Name, string? ConsoleLogPath, IReadOnlyList<ConsoleLine> ConsoleTail, IReadOnlyList<NodeEvent> PowerEvents, int Boots);

/// <summary>Runs scenarios by name, classifies failures (infrastructure, product, rig code) and writes reports.</summary>
public sealed class ScenarioRunner(TextWriter progress, ScenarioOptions? options = null)
{
    public ScenarioOptions Options { get; } = options ?? new ScenarioOptions();

    public static Scenario Find(string name) =>
        ScenarioCatalog.All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"no scenario '{name}'; `ppn-rig scenarios` lists them");

    public ScenarioResult Run(string name) => Run(Find(name));

    public ScenarioResult Run(Scenario scenario)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        Exception? error = null;
        IReadOnlyList<NodeReport> nodes;
        IReadOnlyList<string> notes;
        using (var context = new ScenarioContext(scenario, Options, progress))
        {
            context.Log($"scenario {scenario.Name} (seed {Options.Seed}, {(Options.Full ? "full" : "quick")} mode)");
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
                // Stop every emulator before the report, so each console ends with its last words.
                foreach (var node in context.Nodes)
                {
                    try
                    {
                        node.Kill();
                    }
                    catch (Exception e) when (error is null)
                    {
                        error = e;
                    }
                    catch (Exception)
                    {
                    }
                }
            }
            nodes = context.Nodes.Select(n => new NodeReport(n.Name, n.LogPath, n.Console.Tail(), n.Lifecycle.Events, n.BootCount)).ToArray();
            notes = context.Notes.ToArray();
        }
        var result = new ScenarioResult(scenario, error is null ? ScenarioOutcome.Passed : ScenarioOutcome.Failed,
            error is null ? null : FailureClassifier.Classify(error), error, clock.Elapsed, started, Options.Seed, nodes, notes);
        var directory = RigReport.Write(result, Options.ReportRoot);
        progress.WriteLine($"{scenario.Name}: {(error is null ? "PASSED" : "FAILED — " + FailureClassifier.Describe(result.Failure!.Value))}; report: {directory}");
        return result with { ReportDirectory = directory };
    }

    /// <summary>
    /// For the xunit scenarios: runs the scenario and, when it failed, throws an exception whose first line
    /// says whether the rig or the product failed, followed by the original failure and the report path.
    /// </summary>
    public static void RunForTest(string name, TextWriter? progress = null)
    {
        var result = new ScenarioRunner(progress ?? TextWriter.Null).Run(name);
        if (result.Outcome == ScenarioOutcome.Failed)
        {
            throw new ScenarioFailedException(result);
        }
    }
}

public sealed class ScenarioFailedException(ScenarioResult result) : Exception(
    $"{FailureClassifier.Describe(result.Failure!.Value)}: {result.Error!.Message}\nreport: {result.ReportDirectory}",
    result.Error)
{
    public ScenarioResult Result { get; } = result;
}
