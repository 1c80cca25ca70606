using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>The fleet's telemetry through a real Prometheus (docs/telemetry.md). Body in Ppn.Rig/Running/TelemetryScenarios.cs.</summary>
public class TelemetryScenario(ITestOutputHelper output)
{
    private readonly TextWriter _progress = new TestOutputWriter(output);

    [FullScenario]
    public void Prometheus_in_the_hub_namespace_scrapes_an_enrolled_node_and_sees_the_accept_and_replay_counters_move() =>
        ScenarioRunner.RunForTest("fleet-telemetry", _progress);
}
