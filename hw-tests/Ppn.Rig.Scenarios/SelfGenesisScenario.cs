using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// Self-genesis on a booted node; the bodies live in Ppn.Rig (ScenarioCatalog) so `ppn-rig run` runs the same
/// code. A failure's first line says whether the rig or the product failed; the report is in out/rig-reports.
/// </summary>
public class SelfGenesisScenario(ITestOutputHelper output)
{
    private readonly TextWriter _progress = new TestOutputWriter(output);

    [QuickScenario]
    public void Factory_new_node_self_geneses_and_announces_its_public_key_on_port_9443() =>
        ScenarioRunner.RunForTest("self-genesis-first-boot", _progress);

    [QuickScenario]
    public void Identity_survives_a_power_cut_because_it_lives_in_the_node_nvram() =>
        ScenarioRunner.RunForTest("self-genesis-power-cut", _progress);

    [FullScenario]
    public void Same_nvram_keeps_the_identity_and_a_factory_new_node_gets_another() =>
        ScenarioRunner.RunForTest("self-genesis-two-nodes", _progress);

    [FullScenario]
    public void Identity_survives_the_reset_button() =>
        ScenarioRunner.RunForTest("self-genesis-reset-button", _progress);
}
