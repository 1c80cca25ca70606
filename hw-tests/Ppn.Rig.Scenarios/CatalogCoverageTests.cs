using System.Text.RegularExpressions;
using Ppn.Rig.Running;

namespace Ppn.Rig.Scenarios;

/// <summary>The wrappers only call the catalog, and every catalog scenario has a wrapper (read from this project's sources).</summary>
public class CatalogCoverageTests
{
    private static readonly string ProjectDirectory = Path.Combine(RigEnvironment.RepoRoot, "hw-tests", "Ppn.Rig.Scenarios");

    private static IEnumerable<string> Wrappers() => Directory.EnumerateFiles(ProjectDirectory, "*Scenario.cs");

    [Fact]
    public void Every_catalog_scenario_has_an_xunit_wrapper_and_every_wrapper_names_a_catalog_scenario()
    {
        var wrapped = Wrappers()
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"RunForTest\(""([a-z0-9-]+)""").Select(m => m.Groups[1].Value))
            .ToHashSet();
        var catalog = ScenarioCatalog.All.Select(s => s.Name).ToHashSet();
        Assert.Empty(catalog.Except(wrapped));
        Assert.Empty(wrapped.Except(catalog));
    }

    [Fact]
    public void No_wrapper_drives_a_node_itself()
    {
        foreach (var file in Wrappers())
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotMatch(new Regex(@"Rig\.Create|FactoryNewNode|PowerOn\(|NodeImage\.Locate|HostCommand"), text);
        }
    }

    [Fact]
    public void Every_scenario_names_what_it_needs_and_the_bench_backends_skip_with_that_reason()
    {
        var bench = new EmulatedBenchBackend();
        Assert.Null(ScenarioRunner.Find("self-genesis-power-cut").WhyNotOn(bench));
        Assert.Null(ScenarioRunner.Find("replay-after-reboot").WhyNotOn(bench));
        Assert.Contains("NVRAM as a file", ScenarioRunner.Find("enrolled-node").WhyNotOn(bench));
        Assert.Contains("factory reset", ScenarioRunner.Find("power-cuts-during-genesis").WhyNotOn(bench));
        Assert.Contains("reset button", ScenarioRunner.Find("self-genesis-reset-button").WhyNotOn(bench));
        Assert.All(ScenarioCatalog.All, s => Assert.Null(s.WhyNotOn(new EmulatedBackend())));
    }
}
