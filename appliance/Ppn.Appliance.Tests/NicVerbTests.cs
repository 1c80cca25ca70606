using System.CommandLine;
using System.Text;
using Ppn.Appliance.Cli;
using Ppn.Linux;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;

namespace Ppn.Appliance.Tests;

/// <summary>
/// `ppn nic` output as golden files, over a fake sysfs root (discovery) and the fake ethtool (driver): a
/// BCM57765 from the tg3 fixture and an e1000e as QEMU emulates it. The command tree is built through
/// <see cref="NicVerb.Build(IEthtool, INicDiscovery, int?)"/>, the seam CommandLine.Build uses with the real OS.
/// </summary>
public sealed class NicVerbTests : IDisposable
{
    private readonly FakeSysfs _sysfs = new();
    private readonly FakeEthtool _ethtool = new();

    public NicVerbTests()
    {
        _sysfs.AddPciNic("enp2s0", "0000:02:00.0", 0x14e4, 0x16b4, 0x106b, 0x00f6, "tg3")
              .AddPciNic("enp3s0", "0000:03:00.0", 0x8086, 0x10d3, 0x8086, 0x0000, "e1000e")
              .AddVirtual("lo")
              .AddVirtual("wg0");
        var tg3 = Tg3Fixture.Bcm57765();
        tg3.Link = Link(speed: 1000);
        _ethtool.Add("enp2s0", tg3).Add("enp3s0", E1000e());
    }

    public void Dispose() => _sysfs.Dispose();

    /// <summary>82574L under QEMU: rings up to 4096, rx-usecs only (3 = dynamic conservative), no EEE, no channels, no PHYS_ID.</summary>
    internal static FakeNic E1000e() => new()
    {
        Driver = new DriverInfo("e1000e", "6.1.0-57-amd64", "1.8-0", "", "0000:03:00.0", 0, 3, 5, 64, 128),
        Link = Link(speed: 1000),
        Rings = new RingParams(4096, 0, 0, 4096, 256, 0, 0, 256),
        Coalesce = new CoalesceParams { RxUsecs = 3 },
        Pause = new PauseParams(true, true, true),
        Features = [new("rx-checksum", true, true, true, false), new("rx-gro", true, true, true, false), new("rx-lro", false, false, false, true)],
        Statistics = [new("rx_packets", 42), new("tx_packets", 17), new("rx_missed_errors", 0)],
        PermanentAddress = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
    };

    private static LinkSettings Link(uint speed)
    {
        // 10/100/1000 half+full, Autoneg, TP, Pause; the partner advertises 1000 full.
        var supported = new LinkModes([0b10_0000_1111_1111u]);
        return new LinkSettings(speed, LinkSettings.DuplexFull, 0x00, 1, true, 0, 0, 0, 0, 0, 0, 0,
            supported, supported, new LinkModes([0b10_0000u]));
    }

    private (int Code, string Out, string Err) Run(params string[] args) => RunIn(_sysfs.Root, args);

    private (int Code, string Out, string Err) RunIn(string sysfsRoot, params string[] args)
    {
        var root = new RootCommand("ppn (nic tests)");
        root.Options.Add(Verb.Verbose);
        root.Subcommands.Add(NicVerb.Build(_ethtool, new SysfsNicDiscovery(sysfsRoot), cpuCount: 2));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A transcript of one invocation: command, exit code, stdout, stderr.</summary>
    private string Transcript(params string[] args) => TranscriptIn(_sysfs.Root, args);

    private string TranscriptIn(string sysfsRoot, params string[] args)
    {
        var (code, output, error) = RunIn(sysfsRoot, args);
        var text = new StringBuilder();
        text.Append("$ ppn ").AppendJoin(' ', args).Append('\n');
        text.Append("exit ").Append(code).Append('\n');
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries)) text.Append("out: ").Append(line).Append('\n');
        foreach (var line in error.Split('\n', StringSplitOptions.RemoveEmptyEntries)) text.Append("err: ").Append(line).Append('\n');
        return text.ToString();
    }

    [Fact]
    public void Show_describes_every_physical_nic_and_skips_virtual_ones()
    {
        var (code, output, error) = Run("nic", "show");
        Assert.Equal(0, code);
        Assert.Empty(error);
        Golden.Match("nic-show", output);
    }

    [Fact]
    public void Show_json_is_stable()
    {
        var (code, output, _) = Run("nic", "show", "--json");
        Assert.Equal(0, code);
        Golden.Match("nic-show-json", output);
    }

    [Fact]
    public void Tune_dry_run_shows_the_57765_plan_and_leaves_the_e1000e_alone_without_changing_anything()
    {
        var (code, output, error) = Run("nic", "tune", "--dry-run");
        Assert.Equal(0, code);
        Assert.Empty(error);
        Assert.DoesNotContain(_ethtool.Calls, c => c.StartsWith('S'));
        Golden.Match("nic-tune-dry-run", output);
    }

    [Fact]
    public void Tune_dry_run_json_is_stable()
    {
        var (code, output, _) = Run("nic", "tune", "enp2s0", "--dry-run", "--json");
        Assert.Equal(0, code);
        Golden.Match("nic-tune-dry-run-json", output);
    }

    [Fact]
    public void Tune_applies_then_a_second_tune_has_nothing_to_do()
    {
        var first = Transcript("nic", "tune", "enp2s0");
        var second = Transcript("nic", "tune", "enp2s0");
        Golden.Match("nic-tune-twice", first + second);
    }

    [Fact]
    public void A_refused_change_is_rolled_back_and_reported_with_a_failure_exit_code()
    {
        _ethtool.Fail("SRINGPARAM", Errno.EBUSY);
        var rolledBack = Transcript("nic", "tune", "enp2s0");
        Assert.Equal(200u, _ethtool.Nic("enp2s0").Rings!.Value.Rx);
        Assert.True(_ethtool.Nic("enp2s0").Eee!.Value.Enabled);

        _ethtool.Fail("SRINGPARAM", Errno.EBUSY);
        _ethtool.Fail("SEEE", Errno.EIO, skip: 1); // the apply succeeds, its revert fails
        var incomplete = Transcript("nic", "tune", "enp2s0", "--profile", "bcm57765");
        Golden.Match("nic-tune-rollback", rolledBack + incomplete);
    }

    [Fact]
    public void Stats_lists_the_driver_counters()
    {
        Golden.Match("nic-stats", Transcript("nic", "stats") + Transcript("nic", "stats", "enp3s0", "--json"));
    }

    [Fact]
    public void Errors_are_one_line_with_the_documented_exit_codes()
    {
        using var empty = new FakeSysfs();
        empty.AddVirtual("lo");
        var gone = new FakeSysfs().AddPciNic("enp9s0", "0000:09:00.0", 0x14e4, 0x16b4, 0x106b, 0x00f6, "tg3");
        try
        {
            var transcript =
                Transcript("nic", "show", "eth9") +
                TranscriptIn(empty.Root, "nic", "show") +
                Transcript("nic", "tune", "--profile", "fast") +
                TranscriptIn(gone.Root, "nic", "tune") +
                Transcript("nic", "identify") +
                Transcript("nic", "identify", "enp2s0", "--seconds", "0") +
                Transcript("nic", "identify", "enp3s0") +
                Transcript("nic", "identify", "enp2s0", "--seconds", "2");
            Golden.Match("nic-errors", transcript);
        }
        finally
        {
            gone.Dispose();
        }
        Assert.Equal(ExitCodes.NotFound, Run("nic", "show", "eth9").Code);
        Assert.Equal(ExitCodes.Unavailable, Run("nic", "identify", "enp3s0").Code);
        Assert.Equal(ExitCodes.BadInput, Run("nic", "identify").Code);
    }

    [Fact]
    public void Verbose_adds_the_exception_detail_to_a_driver_error()
    {
        var (code, _, error) = Run("nic", "identify", "enp3s0", "--verbose");
        Assert.Equal(ExitCodes.Unavailable, code);
        var lines = error.TrimEnd().Split('\n');
        Assert.StartsWith("ppn: error: ioctl(SIOCETHTOOL, PHYS_ID)(enp3s0) failed", lines[0]);
        Assert.Contains(lines, l => l.Contains(nameof(EthtoolException), StringComparison.Ordinal));
    }
}
