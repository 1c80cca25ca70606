using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// Our ethtool ioctls against the real e1000e driver on QEMU's 82574L. Body in Ppn.Rig/Running/ImageScenarios.cs
/// (shared with `ppn-rig run nic-self-test`).
/// </summary>
public class NicSelfTestScenario(ITestOutputHelper output)
{
    [QuickScenario]
    public void The_e1000e_driver_takes_and_reports_back_what_our_ethtool_code_sets_and_the_node_still_comes_up() =>
        ScenarioRunner.RunForTest("nic-self-test", new TestOutputWriter(output));
}
