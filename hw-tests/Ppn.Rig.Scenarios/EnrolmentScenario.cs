using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The rig as the control plane: join, commands through ppn0, replay after a reboot, rogue authorities, and the
/// three-VM mesh. Bodies in Ppn.Rig/Running/EnrolmentScenarios.cs (shared with `ppn-rig run`); reports in out/rig-reports.
/// </summary>
public class EnrolmentScenario(ITestOutputHelper output)
{
    private readonly TextWriter _progress = new TestOutputWriter(output);

    [QuickScenario]
    public void Node_joins_by_beacon_executes_a_command_and_rejects_its_replay_after_a_reboot() =>
        ScenarioRunner.RunForTest("enrolled-node", _progress);

    [QuickScenario]
    public void Rogue_beacons_are_ignored_a_rogue_claim_is_refused_and_the_pinned_authority_claims_the_node() =>
        ScenarioRunner.RunForTest("rogue-authority", _progress);

    [FullScenario]
    public void The_genuine_claim_completes_and_the_enrolled_banner_answers_while_a_hostile_link_attacks_9443() =>
        ScenarioRunner.RunForTest("hostile-lan-claim", _progress);

    [FullScenario]
    public void Spokes_reach_each_other_through_the_hub_vm_and_a_command_crosses_the_mesh() =>
        ScenarioRunner.RunForTest("three-node-mesh", _progress);
}
