using System.Net.NetworkInformation;
using System.Text;
using System.Text.RegularExpressions;
using Ppn.Linux.Interop;
using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Power;
using Ppn.Rig.Tests.Power;

namespace Ppn.Rig.Tests.Consoles;

/// <summary>
/// A pseudo-terminal pair as the twin of a USB serial adapter: the rig opens the slave like a tty device,
/// the test writes on the master as the board would. Unplugging is closing the master (the slave hangs up)
/// and removing the by-id style symlink; plugging back is a new pair behind the same symlink.
/// </summary>
public sealed unsafe class SerialConsoleTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-serial-").FullName;
    private readonly List<Pty> _ptys = [];

    private string ByIdLink => Path.Combine(_dir, "usb-FTDI_FT232R_USB_UART_TEST-if00-port0");

    private sealed class Pty : IDisposable
    {
        public int Master;
        public int Slave;
        public string SlavePath = "";

        public void Write(string text)
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            fixed (byte* p = bytes)
            {
                Assert.Equal(bytes.Length, (int)LibC.write(Master, p, (nuint)bytes.Length));
            }
        }

        public void Dispose()
        {
            if (Master >= 0)
            {
                LibC.close(Master);
                Master = -1;
            }
            if (Slave >= 0)
            {
                LibC.close(Slave);
                Slave = -1;
            }
        }
    }

    private Pty Plug()
    {
        int master, slave;
        Assert.Equal(0, LibC.openpty(&master, &slave, null, null, null));
        var name = stackalloc byte[128];
        Assert.Equal(0, LibC.ptsname_r(master, name, 128));
        var pty = new Pty { Master = master, Slave = slave, SlavePath = new string((sbyte*)name) };
        // The rig holds its own fd on the slave; ours would keep the line from hanging up on unplug.
        LibC.close(slave);
        pty.Slave = -1;
        File.Delete(ByIdLink);
        File.CreateSymbolicLink(ByIdLink, pty.SlavePath);
        _ptys.Add(pty);
        return pty;
    }

    private void Unplug(Pty pty)
    {
        File.Delete(ByIdLink);
        pty.Dispose();
    }

    public void Dispose()
    {
        foreach (var p in _ptys)
        {
            p.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Termios_struct_is_glibcs_60_bytes()
    {
        Assert.Equal(60, sizeof(LibC.termios));
    }

    [Fact]
    public void The_console_is_opened_raw_at_the_configured_baud()
    {
        var pty = Plug();
        using var connection = new SerialConsole(ByIdLink, 115200).Open();

        // Look at the line through a second descriptor: the settings belong to the tty, not to our fd.
        int fd = LibC.open(pty.SlavePath, 0x2 | 0x100, 0); // O_RDWR | O_NOCTTY
        Assert.True(fd >= 0);
        try
        {
            LibC.termios t;
            Assert.Equal(0, LibC.tcgetattr(fd, &t));
            Assert.Equal(LibC.BaudConstant(115200), LibC.cfgetospeed(&t));
            Assert.Equal(0u, t.c_lflag & (LibC.ICANON | LibC.ECHO));
            Assert.Equal(LibC.CLOCAL | LibC.CREAD, t.c_cflag & (LibC.CLOCAL | LibC.CREAD));
        }
        finally
        {
            LibC.close(fd);
        }
    }

    [Fact]
    public void A_missing_device_is_an_io_error_that_names_it()
    {
        var e = Assert.ThrowsAny<IOException>(() => new SerialConsole(Path.Combine(_dir, "absent"), 115200).Open());
        Assert.Contains("absent", e.Message);
    }

    [Fact]
    public void Lines_are_captured_with_timestamps_and_the_capture_survives_unplug_and_replug()
    {
        var first = Plug();
        var logPath = Path.Combine(_dir, "board.console.log");
        using var log = new ConsoleLog(logPath, "board-a serial");
        using var capture = new ConsoleCapture(new SerialConsole(ByIdLink, 115200), log, TimeSpan.FromMilliseconds(50));
        Assert.True(capture.WaitForConnects(1, Bound), "the capture never opened the pty");

        first.Write("U-Boot 2024.01\r\nppn: init: mounted /proc\r\n");
        Assert.NotNull(log.TryWaitForLine(new Regex("^ppn: init: mounted /proc$"), Bound));
        Assert.Equal("U-Boot 2024.01", log.Snapshot()[0].Text);

        Unplug(first);
        var second = Plug(); // the adapter is back, as another pts behind the same by-id name
        Assert.True(capture.WaitForConnects(2, Bound), "the capture did not reopen the device after it came back");
        Assert.Equal(2, capture.Connects);

        second.Write("ppn: genesis: identity restored\n");
        var line = log.TryWaitForLine(new Regex("identity restored"), Bound);
        Assert.NotNull(line);
        Assert.Equal(2, line.Index);
        Assert.True(line.SincePowerOn >= log.Snapshot()[1].SincePowerOn);

        capture.Dispose();
        var file = File.ReadAllText(logPath);
        Assert.Contains("disconnected", file);
        Assert.Contains("reconnected (connection 2", file);
        Assert.Matches(new Regex(@"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+\d{5}\.\d{3} ppn: genesis: identity restored"), file);
    }

    private static NodeSpec BenchSpec() => new("board-a", NodeBackend.Bench,
        PowerPort.TryParse("1-1.4:2", out var p, out _) ? p : null, new ConsoleEndpoint.Serial("/dev/null", 115200),
        PhysicalAddress.Parse("00-10-18-AA-BB-01"), "out/image", new YamlMark(1, 1));

    [Fact]
    public void Bench_power_off_is_confirmed_by_the_port_and_then_console_silence()
    {
        var pty = Plug();
        var power = new FakePowerSwitch("hub 1-1.4 port 2");
        using var node = new BenchNode(BenchSpec(), power, new SerialConsole(ByIdLink, 115200), new BenchNodeOptions { ReopenInterval = TimeSpan.FromMilliseconds(50) });
        Assert.True(node.Capture.WaitForConnects(1, Bound));

        node.PowerOn();
        pty.Write("ppn: genesis: holding\n");
        Assert.NotNull(node.Console.TryWaitForLine(new Regex("holding"), Bound));
        Assert.Equal(PowerOffOutcome.PortSwitchedOff, node.PowerOff(TimeSpan.FromMilliseconds(300)));

        Assert.Equal(NodeState.Off, node.Lifecycle.State);
        Assert.False(node.IsRunning);
        Assert.Equal([PortPower.On, PortPower.Off], power.History);
        Assert.Contains("console silent", node.Lifecycle.Events[^1].What);
    }

    [Fact]
    public void A_bench_node_cuts_at_the_scheduled_moment_and_refuses_what_only_an_emulator_can_do()
    {
        Plug();
        var power = new FakePowerSwitch("hub 1-1.4 port 2");
        using var node = new BenchNode(BenchSpec(), power, new SerialConsole(ByIdLink, 115200),
            new BenchNodeOptions { ReopenInterval = TimeSpan.FromMilliseconds(50), Silence = TimeSpan.FromMilliseconds(100) });
        Assert.Equal(NodeAbilities.None, node.Abilities);
        Assert.True(node.Exited.WaitOne(0));

        node.PowerOn();
        Assert.False(node.Exited.WaitOne(0));
        Assert.True(node.HardCutAt(TimeSpan.FromMilliseconds(50)));
        Assert.True(node.Console.Elapsed >= TimeSpan.FromMilliseconds(50));
        Assert.Equal([PortPower.On, PortPower.Off], power.History);
        Assert.Contains(node.Lifecycle.Events, e => e.What.StartsWith("scheduled hard cut at +0.050s", StringComparison.Ordinal));
        Assert.False(node.HardCutAt(TimeSpan.Zero)); // already off

        Assert.Contains("reset button", Assert.Throws<NotSupportedException>(node.Reset).Message);
        Assert.Contains("factory reset", Assert.Throws<NotSupportedException>(node.FactoryReset).Message);
        Assert.Contains("NVRAM as a file", Assert.Throws<NotSupportedException>(() => node.NvramPath).Message);
    }

    [Fact]
    public void A_board_left_powered_is_switched_off_before_its_first_boot()
    {
        Plug();
        var power = new FakePowerSwitch("hub 1-1.4 port 2");
        power.Set(PortPower.On);
        using var node = new BenchNode(BenchSpec(), power, new SerialConsole(ByIdLink, 115200));
        Assert.Equal([PortPower.On, PortPower.Off], power.History);
        Assert.Contains("switched off", node.Lifecycle.Events[^1].What);
    }

    [Fact]
    public void A_board_still_printing_after_the_cut_is_a_rig_fault()
    {
        var pty = Plug();
        using var stillRunning = new ManualResetEventSlim(false);
        // A board on a second supply: it keeps printing whatever the hub port does.
        var board = new Thread(() =>
        {
            for (int i = 0; !stillRunning.Wait(TimeSpan.FromMilliseconds(20)); i++)
            {
                pty.Write($"tick {i}\n");
            }
        });
        using var node = new BenchNode(BenchSpec(), new FakePowerSwitch(), new SerialConsole(ByIdLink, 115200),
            new BenchNodeOptions { DrainGrace = TimeSpan.Zero, ReopenInterval = TimeSpan.FromMilliseconds(50) });
        Assert.True(node.Capture.WaitForConnects(1, Bound));
        node.PowerOn();
        board.Start();
        try
        {
            var e = Assert.Throws<RigInfrastructureException>(() => node.PowerOff(TimeSpan.FromSeconds(10)));
            Assert.Equal(RigFault.PowerNotConfirmed, e.Fault);
            Assert.Contains("the console still printed after the cut", e.Message);
        }
        finally
        {
            stillRunning.Set();
            board.Join(Bound);
        }
    }
}
