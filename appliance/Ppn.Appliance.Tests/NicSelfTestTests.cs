using Ppn.Appliance.SelfTests;
using Ppn.Formats;
using Ppn.Linux;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;

namespace Ppn.Appliance.Tests;

/// <summary>
/// The in-node NIC self-test's own logic, against the fake driver (the real e1000e run is the hw-tests
/// NicSelfTestScenario): verdicts, honest "unsupported", restore, and the console line format.
/// </summary>
public sealed class NicSelfTestTests : IDisposable
{
    private readonly FakeSysfs _sysfs = new();
    private readonly FakeEthtool _ethtool = new();
    private readonly List<string> _log = [];

    public NicSelfTestTests()
    {
        _sysfs.AddPciNic("enp3s0", "0000:03:00.0", 0x8086, 0x10d3, 0x8086, 0x0000, "e1000e").AddVirtual("lo");
        _ethtool.Add("enp3s0", NicVerbTests.E1000e());
    }

    public void Dispose() => _sysfs.Dispose();

    private (int Passed, int Failed, int Unsupported) Run() =>
        NicSelfTest.Run(_ethtool, new SysfsNicDiscovery(_sysfs.Root), _log.Add);

    // What the console shows: the log adds "ppn: selftest: " before each message.
    private IReadOnlyList<SelfTestLine> Lines() => SelfTestLine.All(_log.Select(l => SelfTestLine.Prefix + l), SelfTestLine.Nic);

    private List<NicSelfTestCheck> Checks() => Lines().Select(l => l.Read(SelfTestJson.Default.NicSelfTestCheck)).ToList();

    private SelfTestLine Line(string startsWith) =>
        Assert.Single(Lines(), l => l.Read(SelfTestJson.Default.NicSelfTestCheck).Check.StartsWith(startsWith, StringComparison.Ordinal));

    private NicSelfTestCheck Check(string startsWith) => Line(startsWith).Read(SelfTestJson.Default.NicSelfTestCheck);

    [Fact]
    public void An_e1000e_passes_everything_but_eee_which_is_reported_as_unsupported_not_passed()
    {
        var counts = Run();

        Assert.Equal((7, 0, 1), counts);
        Assert.Equal("nic: 7 passed, 0 failed, 1 unsupported by driver", _log[^1]);
        var eee = Line("eee").Read(SelfTestJson.Default.NicSelfTestNote);
        Assert.Equal(NicSelfTestResult.Unsupported, eee.Result);
        Assert.False(eee.Passed);
        Assert.Equal("unsupported by driver: GEEE answered EOPNOTSUPP", eee.Detail);
        Assert.Equal("52:54:00:12:34:56", Line("every read").Read(SelfTestJson.Default.NicReadCheck).PermanentAddress);
    }

    [Fact]
    public void The_nic_is_left_as_it_was_found()
    {
        var before = _ethtool.Nic("enp3s0");
        var (rings, coalesce, pause) = (before.Rings, before.Coalesce, before.Pause);

        Run();

        Assert.Equal(rings, _ethtool.Nic("enp3s0").Rings);
        Assert.Equal(coalesce, _ethtool.Nic("enp3s0").Coalesce);
        Assert.Equal(pause, _ethtool.Nic("enp3s0").Pause);
        Assert.Contains("SRINGPARAM enp3s0", _ethtool.Calls);
        Assert.Contains("SCOALESCE enp3s0", _ethtool.Calls);
        Assert.Contains("SPAUSEPARAM enp3s0", _ethtool.Calls);
    }

    [Fact]
    public void Every_set_value_differs_from_the_current_one_and_fits_the_driver_maximum()
    {
        Run();
        var rings = Line("rings: set").Read(SelfTestJson.Default.NicRingsCheck);
        Assert.NotEqual(rings.Before.Rx, rings.Set.Rx);
        Assert.True(rings.Set.Rx <= rings.Max.Rx);
        var coalesce = Line("coalesce").Read(SelfTestJson.Default.NicCoalesceCheck);
        Assert.NotEqual(coalesce.Before, coalesce.Set);
        var pause = Line("pause").Read(SelfTestJson.Default.NicPauseCheck);
        Assert.False(pause.Set.Autoneg);
    }

    [Fact]
    public void A_driver_that_accepts_but_ignores_a_setting_fails_that_check()
    {
        _ethtool.IgnoredSets.Add("SCOALESCE");
        var (_, failed, _) = Run();
        Assert.Equal(1, failed);
        Assert.Equal(NicSelfTestResult.Failed, Check("coalesce").Result);
    }

    [Fact]
    public void An_over_maximum_ring_refused_with_anything_but_out_of_range_fails_the_check()
    {
        _ethtool.Fail("SRINGPARAM", Errno.EIO, skip: 2); // the set/restore pair succeeds, the over-maximum set fails with EIO
        Run();
        var beyond = Line("rings: beyond").Read(SelfTestJson.Default.NicRingBeyondMaximumCheck);
        Assert.Equal(NicSelfTestResult.Failed, beyond.Result);
        Assert.Equal("Other", beyond.Answer);
    }

    [Fact]
    public void A_tg3_passes_eee_too_and_keeps_its_advertisement()
    {
        _sysfs.AddPciNic("enp2s0", "0000:02:00.0", 0x14e4, 0x16b4, 0x106b, 0x00f6, "tg3");
        _ethtool.Add("enp2s0", Tg3Fixture.Bcm57765());
        Run();
        var eee = Assert.Single(Checks(), c => c.Check.StartsWith("eee", StringComparison.Ordinal) && c.Interface == "enp2s0");
        Assert.Equal(NicSelfTestResult.Passed, eee.Result);
        Assert.True(_ethtool.Nic("enp2s0").Eee!.Value.Enabled);
    }

    [Fact]
    public void The_console_lines_are_the_format_the_rig_reads()
    {
        // docs/hw-tests.md §NIC self-test: the header (check, interface, result, passed), then the check's own document.
        _sysfs.AddPciNic("enp2s0", "0000:02:00.0", 0x14e4, 0x16b4, 0x106b, 0x00f6, "tg3");
        _ethtool.Add("enp2s0", Tg3Fixture.Bcm57765());
        Run();
        Golden.Match("nic-selftest-lines", string.Join('\n', _log) + "\n");
    }

    [Fact]
    public void No_physical_nic_is_a_failure_not_a_silent_pass()
    {
        using var empty = new FakeSysfs();
        empty.AddVirtual("lo");
        var (passed, failed, _) = NicSelfTest.Run(_ethtool, new SysfsNicDiscovery(empty.Root), _log.Add);
        Assert.Equal((0, 1), (passed, failed));
    }
}
