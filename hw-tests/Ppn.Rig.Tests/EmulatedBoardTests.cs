using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Power;

namespace Ppn.Rig.Tests;

/// <summary>
/// The bench backend's own path on an emulated board (the host's kernel, no initramfs: banner, then a panic): power
/// through the IPowerSwitch seam is the QEMU process (started, SIGKILLed, read back), the console a pty behind a
/// by-id style link read by SerialConsole (termios) in a ConsoleCapture that reconnects after each cut.
/// </summary>
[Collection(EmulatorCollection.Name)]
public class EmulatedBoardTests
{
    private static readonly TimeSpan ConsoleTimeout = TimeSpan.FromSeconds(180);

    [RigFact]
    public void A_bench_node_on_an_emulated_board_gets_its_console_through_a_pty_and_its_power_cut_ends_the_process()
    {
        using var rig = Rig.Create("bench-emulated-board");
        using var node = (BenchNode)new EmulatedBenchBackend().NewNode(rig, "board", HostKernel.Boot("console=ttyS0 panic=0"), NicModel.VirtioNet);
        var board = (EmulatedBoard)node.Power;
        Assert.Equal(NodeAbilities.BootControl, node.Abilities);
        Assert.Throws<NotSupportedException>(() => node.NvramPath);
        Assert.Equal(PortPower.Off, board.Status());

        for (int boot = 1; boot <= 2; boot++)
        {
            node.PowerOn();
            Assert.Equal(PortPower.On, board.Status());
            Assert.Equal(board.PtyPath, File.ResolveLinkTarget(board.SerialLink, returnFinalTarget: false)!.FullName);
            var banner = node.WaitForLine(new Regex("Linux version"), ConsoleTimeout);
            node.WaitForLine(new Regex("Kernel panic"), ConsoleTimeout, banner.Index);
            // OVMF prints nothing on the UART before a direct kernel boot: the kernel's very first line is the first line.
            Assert.Equal(0, banner.Index);
            Assert.StartsWith("[    0.000000] Linux version", banner.Text);

            var pty = board.PtyPath!;
            Assert.Equal(PowerOffOutcome.PortSwitchedOff, node.PowerOff(TimeSpan.FromMilliseconds(500)));
            Assert.Equal(PortPower.Off, board.Status());
            Assert.False(File.Exists(pty), $"{pty} is still there after the cut");
            Assert.False(File.Exists(board.SerialLink));
            Assert.Equal(NodeState.Off, node.State);
        }
        Assert.Equal(2, node.BootCount);
        Assert.True(node.Capture.Connects >= 2, $"the console connected {node.Capture.Connects} time(s) over two boots");
        var log = File.ReadAllText(node.LogPath!);
        Assert.Equal(2, Regex.Matches(log, "Linux version").Count);
        Assert.Contains("disconnected", log);
    }
}
