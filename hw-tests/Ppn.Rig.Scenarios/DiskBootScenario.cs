using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The node boots what a fleet ships, with no -kernel: the GPT disk (or the UKI alone on a FAT disk) under OVMF to the
/// holding pattern. Bodies in Ppn.Rig/Running/ImageScenarios.cs (shared with `ppn-rig run`); reports in out/rig-reports.
/// </summary>
public class DiskBootScenario(ITestOutputHelper output)
{
    private readonly TextWriter _progress = new TestOutputWriter(output);

    [QuickScenario]
    public void Gpt_disk_image_boots_under_ovmf_without_kernel_flag_to_the_holding_pattern() =>
        ScenarioRunner.RunForTest("disk-boot", _progress);

    [FullScenario]
    public void Unified_kernel_image_alone_on_a_fat_disk_boots_to_the_holding_pattern() =>
        ScenarioRunner.RunForTest("uki-boot", _progress);

    [FullScenario]
    public void Disk_booted_identity_survives_a_power_cut() =>
        ScenarioRunner.RunForTest("disk-boot-power-cut", _progress);
}
