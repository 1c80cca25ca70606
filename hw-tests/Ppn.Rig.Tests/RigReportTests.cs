using System.Text.RegularExpressions;
using System.Xml.Linq;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Power;
using Ppn.Rig.Running;
using Ppn.Rig.Tests.Power;

namespace Ppn.Rig.Tests;

public sealed class RigReportTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ppn-rig-reports-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ScenarioResult RunBody(Action<ScenarioContext> body)
    {
        var scenario = new Scenario("report-test", ScenarioSet.Quick, "a scenario that needs no node", body);
        return new ScenarioRunner(TextWriter.Null, new ScenarioOptions { ReportRoot = _root, Seed = 42 }).Run(scenario);
    }

    private static XElement TestCase(ScenarioResult result) =>
        XDocument.Load(Path.Combine(result.ReportDirectory!, RigReport.JUnitFile)).Descendants("testcase").Single();

    [Fact]
    public void A_passing_run_writes_junit_and_a_summary()
    {
        var result = RunBody(ctx => ctx.Log("did the thing"));

        Assert.Equal(ScenarioOutcome.Passed, result.Outcome);
        var suite = XDocument.Load(Path.Combine(result.ReportDirectory!, RigReport.JUnitFile)).Descendants("testsuite").Single();
        Assert.Equal("1", suite.Attribute("tests")!.Value);
        Assert.Equal("0", suite.Attribute("failures")!.Value);
        Assert.Equal("0", suite.Attribute("errors")!.Value);
        Assert.Equal("42", suite.Descendants("property").Single(p => p.Attribute("name")!.Value == "seed").Attribute("value")!.Value);
        Assert.Empty(TestCase(result).Elements("failure"));
        var summary = File.ReadAllText(Path.Combine(result.ReportDirectory!, RigReport.SummaryFile));
        Assert.Contains("verdict   PASSED", summary);
        Assert.Contains("did the thing", summary);
    }

    [Fact]
    public void A_product_failure_is_a_junit_failure_and_says_so()
    {
        var result = RunBody(_ => FailureClassifier.Require(false, "identity replaced: A then B"));

        Assert.Equal(FailureKind.Product, result.Failure);
        var failure = TestCase(result).Element("failure")!;
        Assert.Equal("product", failure.Attribute("type")!.Value);
        Assert.Equal("identity replaced: A then B", failure.Attribute("message")!.Value);
        Assert.Null(TestCase(result).Element("error"));
        Assert.Contains("PRODUCT FAILURE", File.ReadAllText(Path.Combine(result.ReportDirectory!, RigReport.SummaryFile)));
    }

    [Fact]
    public void A_broken_rig_is_a_junit_error_never_a_product_failure()
    {
        var result = RunBody(_ => throw new NodeImageMissingException("no node image at /x; run `make image`"));

        Assert.Equal(FailureKind.Infrastructure, result.Failure);
        Assert.Null(TestCase(result).Element("failure"));
        Assert.Equal("rig-infrastructure", TestCase(result).Element("error")!.Attribute("type")!.Value);
        Assert.Contains("RIG INFRASTRUCTURE (not a product verdict", File.ReadAllText(Path.Combine(result.ReportDirectory!, RigReport.SummaryFile)));

        var thrown = Assert.Throws<ScenarioFailedException>(() =>
        {
            if (result.Outcome == ScenarioOutcome.Failed)
            {
                throw new ScenarioFailedException(result);
            }
        });
        Assert.StartsWith("RIG INFRASTRUCTURE", thrown.Message);
    }

    [Fact]
    public void A_bug_in_the_scenario_code_is_reported_as_such()
    {
        var result = RunBody(_ => throw new InvalidOperationException("oops"));
        Assert.Equal(FailureKind.RigCode, result.Failure);
        Assert.Equal("rig-code", TestCase(result).Element("error")!.Attribute("type")!.Value);
    }

    [Fact]
    public void The_summary_has_each_nodes_power_events_and_console_tail()
    {
        var life = new NodeLifecycle("node-a", TimeSpan.FromMinutes(4));
        life.MoveTo(NodeState.Booting, "power on (boot 1)");
        life.Note("scheduled hard cut at +3.500s");
        life.Note("power cut (QMP quit)");
        life.MoveTo(NodeState.Off, "emulator exited (code 0)");
        var result = new ScenarioResult(
            new Scenario("s", ScenarioSet.Full, "what it shows", _ => { }), ScenarioOutcome.Failed, FailureKind.Product,
            new ProductCheckException("two identities"), TimeSpan.FromSeconds(12), DateTimeOffset.UnixEpoch, 7,
            [new NodeReport("node-a", "/logs/node-a.console.log",
                [new ConsoleLine(0, TimeSpan.FromSeconds(3.2), "ppn: genesis: identity created: AAAA"), new ConsoleLine(1, TimeSpan.FromSeconds(3.4), "bad\u0001byte")],
                life.Events, 1)],
            ["12:00:00 cut 1 of 6 at +3.500s"]);

        var summary = RigReport.Summary(result);
        Assert.Contains("node node-a (qemu): 1 boot(s); full console log: /logs/node-a.console.log", summary);
        Assert.Contains("Off      -> Booting  power on (boot 1)", summary);
        Assert.Contains("scheduled hard cut at +3.500s", summary);
        Assert.Contains("Booting  -> Off      emulator exited (code 0)", summary);
        Assert.Contains("[   3.200] ppn: genesis: identity created: AAAA", summary);
        Assert.Contains("cut 1 of 6", summary);

        using var xml = new MemoryStream();
        RigReport.WriteJUnit(result, summary, xml);
        xml.Position = 0;
        var doc = XDocument.Load(xml); // control bytes from a console must not make the XML unreadable
        Assert.Contains("bad?byte", doc.Descendants("system-out").Single().Value);
    }

    [Fact]
    public void A_scenario_the_backend_cannot_run_is_reported_skipped_with_the_reason()
    {
        var result = new ScenarioResult(new Scenario("needs-nvram", ScenarioSet.Quick, "what it shows", _ => { }) { Needs = NodeAbilities.NvramFile },
            ScenarioOutcome.Skipped, null, null, TimeSpan.Zero, DateTimeOffset.UnixEpoch, 8, [], [])
        {
            SkipReason = "backend bench-emulated: needs the node's NVRAM as a file the rig can edit",
            Backend = "bench-emulated",
        };
        var summary = RigReport.Summary(result);
        Assert.Contains("backend   bench-emulated", summary);
        Assert.Contains("verdict   SKIPPED: backend bench-emulated: needs the node's NVRAM as a file", summary);

        using var xml = new MemoryStream();
        RigReport.WriteJUnit(result, summary, xml);
        xml.Position = 0;
        var doc = XDocument.Load(xml);
        Assert.Equal("1", doc.Descendants("testsuite").Single().Attribute("skipped")!.Value);
        Assert.Contains("NVRAM as a file", doc.Descendants("skipped").Single().Attribute("message")!.Value);
        Assert.Empty(doc.Descendants("failure"));
        Assert.Empty(doc.Descendants("error"));
    }

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly System.Net.NetworkInformation.PhysicalAddress BoardMac = System.Net.NetworkInformation.PhysicalAddress.Parse("00-10-18-AA-BB-01");
    private static readonly BootSource NoBoot = new("vmlinuz", null, "");

    private ScenarioResult RunOnBench(FakePowerSwitch power, Consoles.FakeConsolePort console, Action<ScenarioContext> body, ScenarioRunner? runner = null)
    {
        var backend = new FakeBenchBackend(name => new Ppn.Rig.Power.BenchNode(name, BoardMac, power, console,
            new Ppn.Rig.Power.BenchNodeOptions { ReopenInterval = TimeSpan.FromMilliseconds(20), Silence = TimeSpan.Zero }));
        runner ??= new ScenarioRunner(TextWriter.Null, new ScenarioOptions { ReportRoot = _root, Backend = backend });
        return runner.Run(new Scenario("bench-test", ScenarioSet.Quick, "one board", body));
    }

    [Fact]
    public void A_board_whose_port_will_not_switch_off_at_cleanup_is_a_reported_rig_fault()
    {
        var power = new FakePowerSwitch("hub 1-1.4 port 2");
        var result = RunOnBench(power, new Consoles.FakeConsolePort(), ctx =>
        {
            ctx.FactoryNewNode(null!, "node-a", NoBoot).PowerOn();
            power.OffFault = new RigInfrastructureException(RigFault.PowerNotConfirmed, "USB hub port 1-1.4:2: asked off, but PORT_POWER still reads on");
        });

        Assert.Equal(ScenarioOutcome.Failed, result.Outcome);
        Assert.Equal(FailureKind.Infrastructure, result.Failure);
        Assert.Contains("still reads on", result.Error!.Message);
        Assert.Equal(PortPower.On, power.Current);
        var summary = File.ReadAllText(Path.Combine(result.ReportDirectory!, RigReport.SummaryFile));
        Assert.Contains("RIG INFRASTRUCTURE", summary);
        Assert.Single(result.Notes, n => n == "cleanup failed: USB hub port 1-1.4:2: asked off, but PORT_POWER still reads on");
        Assert.Equal("rig-infrastructure", TestCase(result).Element("error")!.Attribute("type")!.Value);
    }

    [Fact]
    public void An_interrupted_run_cuts_the_board_cleans_up_and_gives_no_verdict()
    {
        var power = new FakePowerSwitch("hub 1-1.4 port 2");
        var console = new Consoles.FakeConsolePort();
        var runner = new ScenarioRunner(TextWriter.Null, new ScenarioOptions
        {
            ReportRoot = _root,
            Backend = new FakeBenchBackend(name => new Ppn.Rig.Power.BenchNode(name, BoardMac, power, console,
                new Ppn.Rig.Power.BenchNodeOptions { ReopenInterval = TimeSpan.FromMilliseconds(20) })),
        });
        using var waiting = new ManualResetEventSlim(false);
        bool madeAnother = false;
        ScenarioResult? result = null;
        var run = new Thread(() => result = runner.Run(new Scenario("bench-test", ScenarioSet.Quick, "one board", ctx =>
        {
            var node = ctx.FactoryNewNode(null!, "node-a", NoBoot);
            node.PowerOn();
            waiting.Set();
            try
            {
                node.WaitForLine(new Regex("never printed"), TimeSpan.FromMinutes(4)); // ends when the interrupt cuts the power
            }
            finally
            {
                try
                {
                    ctx.FactoryNewNode(null!, "node-b", NoBoot);
                    madeAnother = true;
                }
                catch (RunInterruptedException)
                {
                }
            }
        })));
        run.Start();
        Assert.True(waiting.Wait(Bound));

        runner.Interrupt("SIGINT");

        Assert.True(run.Join(Bound));
        Assert.Equal(ScenarioOutcome.Interrupted, result!.Outcome);
        Assert.Null(result.Failure);
        Assert.Equal("SIGINT", result.InterruptReason);
        Assert.False(madeAnother);
        Assert.Equal(PortPower.Off, power.Current);
        Assert.Equal(PortPower.On, power.History[0]);
        Assert.Contains("verdict   INTERRUPTED (SIGINT): no verdict", File.ReadAllText(Path.Combine(result.ReportDirectory!, RigReport.SummaryFile)));
        Assert.Equal("interrupted", TestCase(result).Element("error")!.Attribute("type")!.Value);
        Assert.Null(TestCase(result).Element("failure"));
    }

    [Fact]
    public void The_runner_skips_a_scenario_whose_needs_the_backend_lacks_without_running_it()
    {
        var root = Path.Combine(Path.GetTempPath(), $"ppn-rig-skip-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            bool ran = false;
            var scenario = new Scenario("needs-reset", ScenarioSet.Quick, "x", _ => ran = true) { Needs = NodeAbilities.ResetButton };
            var progress = new StringWriter();
            var result = new ScenarioRunner(progress, new ScenarioOptions { ReportRoot = root, Backend = new EmulatedBenchBackend() }).Run(scenario);
            Assert.False(ran);
            Assert.Equal(ScenarioOutcome.Skipped, result.Outcome);
            Assert.Contains("needs a reset button", result.SkipReason);
            Assert.Contains("SKIPPED", progress.ToString());
            Assert.True(File.Exists(Path.Combine(result.ReportDirectory!, RigReport.JUnitFile)));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
