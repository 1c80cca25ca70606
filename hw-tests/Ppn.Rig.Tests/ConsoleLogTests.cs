using System.Text;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

public class ConsoleLogTests
{
    [Fact]
    public void Splitter_removes_ovmf_screen_control_and_carriage_returns()
    {
        var lines = new List<string>();
        var splitter = new ConsoleLog.LineSplitter(lines.Add);
        splitter.Feed("\u001b[2J\u001b[01;01H\u001b[=3h\u001b[2J[    0.000000] Linux version 6.1\r\nsecond"u8);
        splitter.Feed(" half\r\n\r\n"u8);
        Assert.Equal(["[    0.000000] Linux version 6.1", "second half"], lines);
    }

    [Fact]
    public void Splitter_keeps_a_partial_line_until_flushed()
    {
        var lines = new List<string>();
        var splitter = new ConsoleLog.LineSplitter(lines.Add);
        splitter.Feed("ppn: no newline yet"u8);
        Assert.Empty(lines);
        splitter.Flush();
        Assert.Equal(["ppn: no newline yet"], lines);
    }

    [Fact]
    public void A_waiter_wakes_when_its_line_arrives_on_another_thread()
    {
        using var log = new ConsoleLog(null, "test");
        log.Append("ppn: booting");
        var writer = new Thread(() => log.Append("ppn: holding on 9443"));
        writer.Start();
        var line = log.WaitForLine(new Regex("holding"), TimeSpan.FromSeconds(10), "n1");
        writer.Join();
        Assert.Equal("ppn: holding on 9443", line.Text);
        Assert.Equal(1, line.Index);
    }

    [Fact]
    public void Waiting_from_an_index_skips_earlier_lines()
    {
        using var log = new ConsoleLog(null, "test");
        log.Append("ppn: key A");
        log.Append("ppn: key B");
        Assert.Equal("ppn: key B", log.WaitForLine(new Regex("key"), TimeSpan.FromSeconds(1), "n1", fromIndex: 1).Text);
    }

    [Fact]
    public void A_missing_line_fails_with_the_console_tail_in_the_message()
    {
        using var log = new ConsoleLog(null, "test");
        for (int i = 0; i < 50; i++)
        {
            log.Append($"line {i}");
        }
        var e = Assert.Throws<NodeFailureException>(() =>
            log.WaitForLine(new Regex("never"), TimeSpan.FromMilliseconds(50), "n1"));
        Assert.Contains("node n1", e.Message);
        Assert.Contains("line 49", e.Message);
        Assert.Contains("line 10", e.Message);
        Assert.DoesNotContain("line 9\n", e.Message);
    }

    [Fact]
    public void A_waiter_fails_at_once_when_the_console_ends()
    {
        using var log = new ConsoleLog(null, "test");
        var ender = new Thread(() => log.End("emulator exited with code 0"));
        ender.Start();
        var e = Assert.Throws<NodeFailureException>(() =>
            log.WaitForLine(new Regex("never"), TimeSpan.FromMinutes(5), "n1"));
        ender.Join();
        Assert.Contains("emulator exited with code 0", e.Message); // ended by the exit, not by the 5-minute timeout
    }

    [Fact]
    public void Log_file_has_a_timestamp_on_every_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ppn-rig-test-{Guid.NewGuid():N}.log");
        try
        {
            using (var log = new ConsoleLog(path, "boot 1"))
            {
                log.Append("ppn: hello");
            }
            var lines = File.ReadAllLines(path, Encoding.UTF8);
            Assert.Equal(2, lines.Length);
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+\d{5}\.\d{3} ppn: hello$", lines[1]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
