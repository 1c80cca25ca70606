using Ppn.Commands.Bench;

namespace Ppn.Commands.Bench.Tests;

/// <summary>
/// docs/performance.md §boot timeline: the spans read from a console the rig wrote (consoles/: a self-genesis first
/// boot of the emulated node, as recorded, first line to last).
/// </summary>
public sealed class BootTimelineTests
{
    private static readonly string Console = Repository.PathOf("commands/Ppn.Commands.Bench.Tests/consoles/self-genesis-first-boot.node-a.console.log");

    private static BootTimeline.Figures Analyse(Func<BootTimeline.Line, bool>? keep = null)
    {
        var lines = BootTimeline.Read(Console);
        return BootTimeline.Analyse(keep is null ? lines : lines.Where(keep).ToList(), Console);
    }

    [Fact]
    public void The_goal_span_starts_when_the_kernel_has_the_link_ready_and_the_carrier_wait_is_its_own()
    {
        var f = Analyse();
        Assert.Equal(6.111, f.Stub.Seconds, 3);
        Assert.Equal(8.532, f.Init.Seconds, 3);
        Assert.Equal("ppn: init: link eth0 up (carrier on)", f.LinkUp!.Text);
        Assert.Equal("init: link NAME up", f.LinkUpWhat);
        Assert.Contains("ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready", f.KernelReady!.Text);
        Assert.StartsWith("ppn: genesis: holding on [fe80::", f.Holding!.Text);
        Assert.Equal(1.014, f.CarrierWait!.Value, 3);   // 8.888 → 9.902
        Assert.Equal(0.038, f.ReadyToHolding!.Value, 3); // 9.902 → 9.940
        Assert.Equal(1.408, f.InitToHolding!.Value, 3);
        Assert.Equal("init", f.Steps[0].Area);
        Assert.Equal("holding on [fe80::5054:ff:fe92:16bf%eth0]:9443", f.Steps[^1].First);
    }

    [Fact]
    public void Without_the_kernel_line_the_link_was_ready_at_link_up()
    {
        // A link whose carrier event ran before IFF_UP (virtio-net without link status): addrconf prints nothing.
        var f = Analyse(l => !l.Text.Contains("link becomes ready", StringComparison.Ordinal));
        Assert.Null(f.KernelReady);
        Assert.Same(f.LinkUp, f.Ready);
        Assert.Equal(0, f.CarrierWait!.Value, 3);
        Assert.Equal(1.052, f.ReadyToHolding!.Value, 3);
    }

    [Fact]
    public void Another_links_ready_line_is_not_this_links()
    {
        var lines = BootTimeline.Read(Console);
        var at = lines.FindIndex(l => l.Text.Contains("link becomes ready", StringComparison.Ordinal));
        lines[at] = lines[at] with { Text = lines[at].Text.Replace("eth0:", "eth1:", StringComparison.Ordinal) };
        var f = BootTimeline.Analyse(lines, Console);
        Assert.Null(f.KernelReady);
    }

    [Fact]
    public void Consoles_from_before_the_link_up_line_measure_from_early_boot_done()
    {
        var f = Analyse(l => !l.Text.StartsWith("ppn: init: link eth0 up", StringComparison.Ordinal));
        Assert.Equal("init: early boot done", f.LinkUpWhat);
        Assert.Equal(9.075, f.LinkUp!.Seconds, 3);
        Assert.NotNull(f.KernelReady); // any link's line then: the old consoles do not name the link
        Assert.Equal(0.038, f.ReadyToHolding!.Value, 3);
    }

    [Fact]
    public void A_log_that_is_not_a_node_boot_is_refused_with_its_path()
    {
        var e = Assert.Throws<BenchError>(() => BootTimeline.Analyse([new BootTimeline.Line(1, "hello")], "some.log"));
        Assert.Equal("some.log: no kernel start or no `Run /init` line: not the console of a node boot", e.Message);
    }

    [Fact]
    public void Only_the_first_boot_of_a_console_is_read()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ppn-bench-test-{Guid.NewGuid():N}.log");
        try
        {
            var text = File.ReadAllText(Console);
            File.WriteAllText(path, text + text.Replace("boot 1:", "boot 2:", StringComparison.Ordinal));
            Assert.Equal(BootTimeline.Read(Console).Count, BootTimeline.Read(path).Count);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
