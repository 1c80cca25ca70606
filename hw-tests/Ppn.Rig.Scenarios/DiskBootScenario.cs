using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The node boots what a fleet ships, with no -kernel: OVMF finds \EFI\BOOT\BOOTX64.EFI on the GPT disk's
/// EFI system partition (or on a FAT disk holding only the UKI), the systemd stub starts the kernel with the
/// UKI's own command line and initramfs, and ppn reaches the holding pattern.
/// </summary>
public class DiskBootScenario
{
    private static readonly Regex Holding = new(@"^ppn: genesis: holding on ");
    private static readonly Regex StubLoadedInitrd = new(@"EFI stub: Loaded initrd");

    [QuickScenario]
    public void Gpt_disk_image_boots_under_ovmf_without_kernel_flag_to_the_holding_pattern()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.Create("disk-boot");
        using var node = rig.FactoryNewNode("node-a", image.ToDiskBootSource());

        Assert.DoesNotContain("-kernel", node.CommandLine);
        node.PowerOn();
        node.WaitForLine(StubLoadedInitrd, QemuNode.DefaultHoldingTimeout);
        node.WaitForLine(Holding, QemuNode.DefaultHoldingTimeout);
        var key = node.AwaitGenesisKey();

        Assert.Equal(32, Convert.FromBase64String(key).Length);
        Assert.Equal(PowerOffOutcome.QmpQuit, node.PowerOff());
    }

    [FullScenario]
    public void Unified_kernel_image_alone_on_a_fat_disk_boots_to_the_holding_pattern()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.Create("uki-boot");
        using var node = rig.FactoryNewNode("node-a", image.ToUkiBootSource(rig.WorkDirectory));

        Assert.DoesNotContain("-kernel", node.CommandLine);
        node.PowerOn();
        node.WaitForLine(Holding, QemuNode.DefaultHoldingTimeout);
        Assert.Equal(32, Convert.FromBase64String(node.AwaitGenesisKey()).Length);
        node.PowerOff();
    }

    [FullScenario]
    public void Disk_booted_identity_survives_a_power_cut()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.Create("disk-boot-power-cut");
        using var node = rig.FactoryNewNode("node-a", image.ToDiskBootSource());

        node.PowerOn();
        var first = node.AwaitGenesisKey();
        node.PowerOff();
        node.PowerOn();
        var second = node.AwaitGenesisKey();
        node.PowerOff();

        Assert.Equal(first, second);
    }
}
