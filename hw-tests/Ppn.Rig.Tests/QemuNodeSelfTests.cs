using Ppn.Rig.Model;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

/// <summary>
/// The rig checked against something other than our image: the host's Debian kernel booted under OVMF
/// without an initramfs, which prints its banner and then panics for lack of a root file system.
/// </summary>
[Collection(EmulatorCollection.Name)]
public class QemuNodeSelfTests
{
    private static readonly TimeSpan ConsoleTimeout = TimeSpan.FromSeconds(180);

    [RigFact]
    public void Captures_the_kernel_console_until_its_panic_and_is_gone_after_power_off()
    {
        using var rig = Rig.Create("selftest-panic");
        using var node = rig.FactoryNewNode("kernel", HostKernel.Boot("console=ttyS0 panic=-1"));
        node.PowerOn();
        Assert.Equal(NodeState.Booting, node.State);

        var banner = node.WaitForLine(new Regex("Linux version"), ConsoleTimeout);
        var panic = node.WaitForLine(new Regex("Kernel panic|VFS: Unable to mount root"), ConsoleTimeout, banner.Index);
        Assert.True(panic.Index > banner.Index);

        // With panic=-1 the kernel reboots at once and -no-reboot ends QEMU; either way the node ends Off.
        node.PowerOff();
        Assert.False(node.IsRunning);
        Assert.Equal(NodeState.Off, node.State);
        Assert.NotNull(node.Console.EndReason);
        var log = File.ReadAllText(node.LogPath);
        Assert.Contains("Linux version", log);
        Assert.Contains("VFS: Unable to mount root", log);
    }

    [RigFact]
    public void Qmp_reports_the_run_state_and_quit_cuts_the_power_at_once()
    {
        using var rig = Rig.Create("selftest-qmp");
        // panic=0: the kernel halts after its panic and QEMU keeps running, so only QMP can end it.
        using var node = rig.FactoryNewNode("kernel", HostKernel.Boot("console=ttyS0 panic=0"));
        node.PowerOn();
        node.WaitForLine(new Regex("Kernel panic"), ConsoleTimeout);
        Assert.Equal("running", node.QueryStatus());
        Assert.True(node.IsRunning);

        Assert.Equal(PowerOffOutcome.QmpQuit, node.PowerOff());
        Assert.False(node.IsRunning);
        Assert.Equal(NodeState.Off, node.State);
        Assert.Contains("exited", node.Console.EndReason);
    }

    [RigFact]
    public void The_reset_button_restarts_the_guest_in_the_same_emulator_despite_no_reboot()
    {
        using var rig = Rig.Create("selftest-reset");
        using var node = rig.FactoryNewNode("kernel", HostKernel.Boot("console=ttyS0 panic=0"));
        node.PowerOn();
        var first = node.WaitForLine(new Regex("Linux version"), ConsoleTimeout);
        node.Reset();
        node.WaitForLine(new Regex("Linux version"), ConsoleTimeout, first.Index + 1);
        Assert.True(node.IsRunning);
        Assert.Equal("running", node.QueryStatus());
        Assert.Equal(PowerOffOutcome.QmpQuit, node.PowerOff());
    }

    [RigFact]
    public void A_node_powers_on_again_from_the_same_nvram_after_a_power_off()
    {
        using var rig = Rig.Create("selftest-reboot");
        using var node = rig.FactoryNewNode("kernel", HostKernel.Boot("console=ttyS0 panic=0"));
        for (int boot = 1; boot <= 2; boot++)
        {
            node.PowerOn();
            node.WaitForLine(new Regex("Linux version"), ConsoleTimeout);
            node.PowerOff();
        }
        Assert.Equal(2, node.BootCount);
        Assert.Equal(2, Regex.Matches(File.ReadAllText(node.LogPath), "boot \\d: ").Count);
    }

    [RigFact]
    public void An_unreachable_holding_port_fails_with_the_console_tail()
    {
        using var rig = Rig.Create("selftest-noholding");
        using var node = rig.FactoryNewNode("kernel", HostKernel.Boot("console=ttyS0 panic=0"));
        node.PowerOn();
        node.WaitForLine(new Regex("Kernel panic"), ConsoleTimeout);
        var e = Assert.Throws<NodeFailureException>(() => node.AwaitGenesisKey(TimeSpan.FromSeconds(3)));
        Assert.Contains("did not answer within 3 s", e.Message);
        Assert.Contains("Kernel panic", e.Message);
        Assert.Contains(node.LinkLocalAddress.ToString(), e.Message);
    }
}
