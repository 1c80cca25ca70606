using System.Net;
using Ppn.Appliance.Init;
using Ppn.Appliance.SelfTests;
using Ppn.Formats;

namespace Ppn.Appliance.Tests;

public class MeshPingSelfTestTests
{
    [Fact]
    public void Targets_come_from_every_mesh_ping_word_of_the_kernel_command_line()
    {
        var cmdline = new KernelCommandLine("console=ttyS0 ppn.selftest=uefi ppn.selftest=mesh-ping:10.8.0.3,10.8.0.1 ppn.selftest=mesh-ping:bogus");
        Assert.Equal([IPAddress.Parse("10.8.0.3"), IPAddress.Parse("10.8.0.1")], MeshPingSelfTest.Targets(cmdline));
        Assert.Equal(["uefi", "mesh-ping:10.8.0.3,10.8.0.1", "mesh-ping:bogus"], cmdline.Values("ppn.selftest"));
    }

    // Loopback answers the first echo on an idle machine; on a loaded one a later attempt answering is the self-test
    // working as designed, so the tests ask for a pass within the attempts, with a per-attempt wait that only bounds.
    private const int Attempts = 5;
    private const int GenerousTimeoutMs = 10_000;

    [Fact]
    public void Loopback_answers_and_the_summary_counts_it()
    {
        var lines = new List<string>();
        MeshPingSelfTest.Run([IPAddress.Loopback], lines.Add, Attempts, GenerousTimeoutMs);
        Assert.Matches($"^mesh-ping: {{\"target\":\"127\\.0\\.0\\.1\",\"passed\":true,\"attempts\":[1-{Attempts}],\"rttMs\":", lines[0]);
        Assert.Equal("mesh-ping: 1 passed, 0 failed", lines[^1]);
    }

    [Fact]
    public void The_rig_reads_each_result_back_from_the_console_and_skips_the_summary()
    {
        var lines = new List<string>();
        MeshPingSelfTest.Run([IPAddress.Loopback], lines.Add, Attempts, GenerousTimeoutMs);
        var console = lines.Select(l => SelfTestLine.Prefix + l).Prepend("ppn: genesis: holding on enp3s0").ToList();

        var result = Assert.Single(SelfTestLine.MeshPingResults(console));
        Assert.Equal(("127.0.0.1", true), (result.Target, result.Passed));
        Assert.InRange(result.Attempts, 1, Attempts);
        Assert.NotNull(result.RttMs);
        Assert.Null(result.Error);
        Assert.False(SelfTestLine.TryParse(console[^1], out _));
        Assert.True(SelfTestLine.TryParse(console[1], out var line));
        Assert.Equal((SelfTestLine.MeshPing, console[1]), (line.Name, line.ToString()));
    }

    [Fact]
    public void A_relay_with_a_broken_configuration_says_what_is_wrong_and_keeps_running() =>
        Assert.Contains("names no PrivateKey and the relay's own identity is not available: this node has no UEFI variable storage",
            FirstRelayLine("[Interface]\nAddress = 10.8.0.1/24\n", out _));

    [Fact]
    public void A_relay_with_a_bad_file_names_the_line_and_keeps_running()
    {
        var line = FirstRelayLine("[Interface]\nAddress = 10.8.0.1/24\nTable = off\n", out var path);
        Assert.Contains($"{path}:3: unknown key 'Table'", line);
        Assert.Contains("fix the relay image", line);
    }

    /// <summary>Runs the relay service over <paramref name="relayConf"/> until it logs, stops it (bounded) and returns its first line.</summary>
    private static string FirstRelayLine(string relayConf, out string path)
    {
        path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, relayConf);
            var log = new ListLog();
            using var stop = new CancellationTokenSource();
            var relay = new RelayService(log, path);
            var thread = new Thread(() => relay.Run(stop.Token));
            thread.Start();
            Assert.True(SpinWait.SpinUntil(() => { lock (log.Lines) return log.Lines.Count > 0; }, TimeSpan.FromSeconds(20)));
            stop.Cancel();
            Assert.True(thread.Join(TimeSpan.FromSeconds(20)));
            lock (log.Lines) return log.Lines[0];
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class ListLog : ILog
    {
        public List<string> Lines { get; } = [];
        public void Write(string area, string message) { lock (Lines) Lines.Add($"{area}: {message}"); }
    }
}
