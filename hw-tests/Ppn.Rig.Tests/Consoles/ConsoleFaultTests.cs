using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Power;
using Ppn.Rig.Tests.Power;

namespace Ppn.Rig.Tests.Consoles;

/// <summary>A serial adapter that misbehaves mid-run: the rig must neither crash nor blame the board.</summary>
public sealed class ConsoleFaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly Regex Holding = new("^ppn: genesis: holding");
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("00-10-18-AA-BB-01");
    private static readonly BenchNodeOptions Quick = new() { ReopenInterval = TimeSpan.FromMilliseconds(20) };

    [Fact]
    public void An_adapter_gone_again_while_a_connect_handler_reads_it_is_a_disconnect_not_a_crash()
    {
        var port = new FakeConsolePort();
        using var log = new ConsoleLog(null, "t");
        using var capture = new ConsoleCapture(port, log, TimeSpan.FromMilliseconds(20), start: false);
        // serial-probe reads the line settings back on connect; an adapter that left again fails that with EIO.
        capture.ConnectedChanged += n =>
        {
            if (n == 1)
            {
                throw new IOException("tcgetattr(/dev/ttyUSB0) failed: Input/output error (EIO)");
            }
        };
        capture.Start();

        Assert.True(capture.WaitForConnects(2, Bound));
        Assert.Equal(1, capture.Disconnects);
        Assert.Contains("EIO", capture.LastDisconnect);
        Assert.Null(capture.Fault);
    }

    [Fact]
    public void A_failing_line_handler_ends_the_capture_and_the_log_instead_of_the_process()
    {
        var port = new FakeConsolePort();
        using var log = new ConsoleLog(null, "t");
        log.LineReceived += _ => throw new InvalidOperationException("handler bug");
        using var capture = new ConsoleCapture(port, log, TimeSpan.FromMilliseconds(20));
        Assert.True(capture.WaitForConnects(1, Bound));

        port.Write("ppn: genesis: starting\n");

        Assert.Null(log.TryWaitForLine(new Regex("never printed"), Bound)); // returns when the log ends, not at the bound
        Assert.Contains("handler bug", log.EndReason);
        Assert.IsType<InvalidOperationException>(capture.Fault);
        Assert.False(capture.Connected);
    }

    [Fact]
    public void A_line_missed_while_the_adapter_was_unplugged_is_a_rig_fault_not_the_boards()
    {
        var port = new FakeConsolePort();
        using var node = new BenchNode("board-a", Mac, new FakePowerSwitch(), port, Quick);
        Assert.True(node.Capture.WaitForConnects(1, Bound));
        node.PowerOn();

        port.Unplug();
        BoundedWait.Until(() => node.Capture.Disconnects == 1, Bound, "the capture to see the unplug");
        port.Plug();
        Assert.True(node.Capture.WaitForConnects(2, Bound));

        var e = Assert.Throws<RigInfrastructureException>(() => node.WaitForLine(Holding, TimeSpan.FromMilliseconds(50)));
        Assert.Equal(RigFault.ConsoleGone, e.Fault);
        Assert.Contains("disconnected 1 time(s) during this boot", e.Message);
        Assert.Contains("no verdict on the board", e.Message);
        Assert.IsType<NodeFailureException>(e.InnerException);
        Assert.Equal(FailureKind.Infrastructure, FailureClassifier.Classify(e));
    }

    [Fact]
    public void A_line_missed_with_the_adapter_there_throughout_is_the_boards_failure()
    {
        var port = new FakeConsolePort();
        using var node = new BenchNode("board-a", Mac, new FakePowerSwitch(), port, Quick);
        // Unplugged and back while the board was off: this boot's console is complete.
        Assert.True(node.Capture.WaitForConnects(1, Bound));
        port.Unplug();
        BoundedWait.Until(() => node.Capture.Disconnects == 1, Bound, "the capture to see the unplug");
        port.Plug();
        Assert.True(node.Capture.WaitForConnects(2, Bound));
        node.PowerOn();
        port.Write("ppn: genesis: starting\n");
        Assert.NotNull(node.Console.TryWaitForLine(new Regex("starting"), Bound));

        var e = Assert.Throws<NodeFailureException>(() => node.WaitForLine(Holding, TimeSpan.FromMilliseconds(50)));
        Assert.Contains("no console line matching", e.Message);
        Assert.Contains("ppn: genesis: starting", e.Message);
    }

    [Fact]
    public void A_failed_capture_refuses_the_next_power_on_as_console_gone()
    {
        var port = new FakeConsolePort();
        using var node = new BenchNode("board-a", Mac, new FakePowerSwitch(), port, Quick);
        node.ConsoleLine += (_, _) => throw new InvalidOperationException("display bug");
        Assert.True(node.Capture.WaitForConnects(1, Bound));
        node.PowerOn();
        port.Write("ppn: genesis: starting\n");
        Assert.Null(node.Console.TryWaitForLine(Holding, Bound)); // the log ends with the capture

        var missed = Assert.Throws<RigInfrastructureException>(() => node.WaitForLine(Holding, TimeSpan.Zero));
        Assert.Equal(RigFault.ConsoleGone, missed.Fault);
        node.PowerOff(TimeSpan.Zero);
        var e = Assert.Throws<RigInfrastructureException>(node.PowerOn);
        Assert.Equal(RigFault.ConsoleGone, e.Fault);
        Assert.Contains("display bug", e.Message);
    }

    [Fact]
    public void A_power_on_that_fails_half_way_switches_the_port_back_off()
    {
        var power = new FakePowerSwitch { OnFault = new RigInfrastructureException(RigFault.PowerSwitchFailed, "hub 2-1.4: SET_FEATURE(PORT_POWER) failed: LIBUSB_ERROR_IO") };
        using var node = new BenchNode("board-a", Mac, power, new FakeConsolePort(), Quick);

        var e = Assert.Throws<RigInfrastructureException>(node.PowerOn);

        Assert.Equal(RigFault.PowerSwitchFailed, e.Fault);
        Assert.Equal([PortPower.On, PortPower.Off], power.History);
        Assert.Equal(PortPower.Off, power.Current);
        Assert.False(node.IsRunning);
    }

    [Fact]
    public void A_power_on_that_fails_and_cannot_be_undone_stays_powered_for_the_cleanup_to_report()
    {
        var power = new FakePowerSwitch
        {
            OnFault = new RigInfrastructureException(RigFault.PowerNotConfirmed, "asked on, but PORT_POWER still reads off"),
            OffFault = new RigInfrastructureException(RigFault.PowerNotConfirmed, "asked off, but PORT_POWER still reads on"),
        };
        var node = new BenchNode("board-a", Mac, power, new FakeConsolePort(), Quick);

        Assert.Throws<RigInfrastructureException>(node.PowerOn);

        Assert.True(node.IsRunning);
        Assert.Contains("still reads on", Assert.Throws<RigInfrastructureException>(node.Dispose).Message);
    }

    [Fact]
    public void A_hub_that_cannot_be_read_leaves_no_reader_holding_the_console()
    {
        var port = new FakeConsolePort();
        var power = new FakePowerSwitch { StatusFault = new RigInfrastructureException(RigFault.PowerSwitchFailed, "hub 1-1.4: GET_STATUS failed: LIBUSB_ERROR_NO_DEVICE") };

        var e = Assert.Throws<RigInfrastructureException>(() => new BenchNode("board-a", Mac, power, port, Quick));

        Assert.Equal(RigFault.PowerSwitchFailed, e.Fault);
        Assert.Equal(0, port.Opens);
    }
}
