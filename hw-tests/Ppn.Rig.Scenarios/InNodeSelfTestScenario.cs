using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The real efivarfs under OVMF and the kernel's WireGuard module, checked by PID 1 on a booted node. Body in
/// Ppn.Rig/Running/ImageScenarios.cs (shared with `ppn-rig run in-node-self-tests`).
/// </summary>
public class InNodeSelfTestScenario(ITestOutputHelper output)
{
    [QuickScenario]
    public void Real_efivarfs_and_the_kernel_wireguard_path_pass_their_checks_on_a_booted_node() =>
        ScenarioRunner.RunForTest("in-node-self-tests", new TestOutputWriter(output));
}
