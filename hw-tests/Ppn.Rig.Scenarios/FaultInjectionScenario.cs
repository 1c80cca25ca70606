using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// Power cuts during self-genesis (6 seeded cuts in `make test`, 50 in `make hil`) and the 8090 diode capture.
/// Bodies in Ppn.Rig/Running (shared with `ppn-rig run`); reports in out/rig-reports.
/// </summary>
public class FaultInjectionScenario(ITestOutputHelper output)
{
    private readonly TextWriter _progress = new TestOutputWriter(output);

    [QuickScenario]
    public void Every_boot_after_a_power_cut_during_genesis_ends_with_exactly_one_valid_identity() =>
        ScenarioRunner.RunForTest("power-cuts-during-genesis", _progress);

    [QuickScenario]
    public void A_capture_of_a_whole_run_shows_the_node_never_sends_to_udp_8090() =>
        ScenarioRunner.RunForTest("diode-never-sends-to-8090", _progress);
}
