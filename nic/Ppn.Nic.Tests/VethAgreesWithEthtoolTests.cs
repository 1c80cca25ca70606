using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tests;

/// <summary>
/// Host test: our ioctls against a veth pair in a namespace this test creates, compared with what Debian's
/// ethtool reports for the same interface. Needs root (the project's test machines have it).
/// </summary>
public sealed class VethAgreesWithEthtoolTests : IClassFixture<VethAgreesWithEthtoolTests.Ns>
{
    public sealed class Ns : IDisposable
    {
        public NetnsFixture Fixture { get; } = new();
        public void Dispose() => Fixture.Dispose();
    }

    private readonly NetnsFixture _ns;
    private readonly SystemEthtool _ethtool = new();

    public VethAgreesWithEthtoolTests(Ns ns) => _ns = ns.Fixture;

    [Fact]
    public void Driver_info_agrees_with_ethtool_i()
    {
        var ours = _ns.InNamespace(() => _ethtool.GetDriverInfo("va"));
        var theirs = NetnsFixture.KeyValues(_ns.Ethtool("-i", "va"));
        Assert.Equal(theirs["driver"], ours.Driver);
        Assert.Equal(theirs["version"], ours.Version);
        Assert.Equal(theirs["firmware-version"], ours.FirmwareVersion);
        Assert.Equal(theirs["bus-info"], ours.BusInfo);
        Assert.Equal(theirs["supports-statistics"] == "yes", ours.StatisticCount > 0);
    }

    [Fact]
    public void Link_settings_agree_with_ethtool()
    {
        var ours = _ns.InNamespace(() => _ethtool.GetLinkSettings("va"));
        var theirs = NetnsFixture.KeyValues(_ns.Ethtool("va"));
        Assert.Equal(theirs["Speed"], $"{ours.SpeedMbps}Mb/s");
        Assert.Equal(theirs["Duplex"], ours.DuplexName == "full" ? "Full" : "Half");
        Assert.Equal(theirs["Auto-negotiation"], ours.Autoneg ? "on" : "off");
        Assert.Equal(theirs["Port"], ours.PortName);
        Assert.True(ours.Supported.WordCount > 0);
    }

    [Fact]
    public void Channels_agree_with_ethtool_l()
    {
        var ours = _ns.InNamespace(() => _ethtool.GetChannels("va"));
        var text = _ns.Ethtool("-l", "va");
        int current = text.IndexOf("Current hardware settings:", StringComparison.Ordinal);
        var max = NetnsFixture.KeyValues(text[..current]);
        var now = NetnsFixture.KeyValues(text[current..]);
        static string Show(uint v) => v == 0 ? "n/a" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(max["RX"], Show(ours.MaxRx));
        Assert.Equal(max["TX"], Show(ours.MaxTx));
        Assert.Equal(max["Combined"], Show(ours.MaxCombined));
        Assert.Equal(now["RX"], Show(ours.Rx));
        Assert.Equal(now["TX"], Show(ours.Tx));
    }

    [Fact]
    public void Features_agree_with_ethtool_k()
    {
        var ours = _ns.InNamespace(() => _ethtool.GetFeatures("va"));
        var theirs = NetnsFixture.KeyValues(_ns.Ethtool("-k", "va"));
        int compared = 0;
        foreach (var f in ours)
        {
            if (!theirs.TryGetValue(f.Name, out var value)) continue; // ethtool shows some under legacy names
            Assert.Equal(value.StartsWith("on", StringComparison.Ordinal), f.Active);
            Assert.Equal(value.Contains("[fixed]", StringComparison.Ordinal), f.Fixed);
            compared++;
        }
        Assert.True(compared >= 10, $"only {compared} features had the same name in ethtool -k");
    }

    [Fact]
    public void Feature_toggles_we_make_are_seen_by_ethtool_k()
    {
        var gro = _ns.InNamespace(() => _ethtool.GetFeatures("va")).Single(f => f.Name == "rx-gro").Active;
        try
        {
            _ns.InNamespace(() => _ethtool.SetFeatures("va", [new("rx-gro", !gro), new("tx-checksum-ip-generic", false)]));
            var theirs = NetnsFixture.KeyValues(_ns.Ethtool("-k", "va"));
            Assert.Equal(!gro ? "on" : "off", theirs["generic-receive-offload"]);
            Assert.Equal("off", theirs["tx-checksum-ip-generic"]);
        }
        finally
        {
            _ns.InNamespace(() => _ethtool.SetFeatures("va", [new("rx-gro", gro), new("tx-checksum-ip-generic", true)]));
        }
        var back = NetnsFixture.KeyValues(_ns.Ethtool("-k", "va"));
        Assert.Equal(gro ? "on" : "off", back["generic-receive-offload"]);
    }

    [Fact]
    public void Channel_changes_we_make_are_seen_by_ethtool_l()
    {
        var before = _ns.InNamespace(() => _ethtool.GetChannels("va"));
        Assert.True(before.MaxRx >= 2, "veth should offer more than one rx queue");
        try
        {
            _ns.InNamespace(() => { _ethtool.SetChannels("va", before with { Rx = 2 }); return 0; });
            var text = _ns.Ethtool("-l", "va");
            var now = NetnsFixture.KeyValues(text[text.IndexOf("Current hardware settings:", StringComparison.Ordinal)..]);
            Assert.Equal("2", now["RX"]);
        }
        finally
        {
            _ns.InNamespace(() => { _ethtool.SetChannels("va", before); return 0; });
        }
    }

    [Fact]
    public void Statistics_names_agree_with_ethtool_S()
    {
        var ours = _ns.InNamespace(() => _ethtool.GetStatistics("va"));
        var theirs = NetnsFixture.KeyValues(_ns.Ethtool("-S", "va"));
        Assert.NotEmpty(ours);
        foreach (var s in ours)
        {
            Assert.True(theirs.ContainsKey(s.Name), $"ethtool -S has no {s.Name}");
        }
        Assert.Equal(theirs["peer_ifindex"], ours.Single(s => s.Name == "peer_ifindex").Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Statistics_count_is_the_one_drvinfo_announces()
    {
        var (info, stats) = _ns.InNamespace(() => (_ethtool.GetDriverInfo("va"), _ethtool.GetStatistics("va")));
        Assert.Equal((int)info.StatisticCount, stats.Count);
    }

    [Fact]
    public void Permanent_address_agrees_with_ethtool_P()
    {
        var ours = _ns.InNamespace(() => _ethtool.GetPermanentAddress("va"));
        var theirs = NetnsFixture.KeyValues(_ns.Ethtool("-P", "va"))["Permanent address"];
        Assert.Equal(6, ours.Length);
        // veth never sets one: all zeros, which ethtool prints as "not set" and `ppn nic show` omits.
        Assert.Equal(theirs, ours.All(b => b == 0) ? "not set" : Ppn.Nic.Rendering.NicJson.FormatAddress(ours));
        var nic = new Ppn.Nic.Discovery.NicIdentity("va", null, null, null, null, null, null);
        var shown = _ns.InNamespace(() => Ppn.Nic.Rendering.NicSnapshot.Read(_ethtool, nic)).PermanentAddress;
        Assert.Equal(theirs == "not set" ? null : ours, shown);
    }

    [Fact]
    public void What_veth_does_not_do_is_reported_as_not_supported()
    {
        var inner = Assert.Throws<EthtoolException>(() => _ns.InNamespace(() => _ethtool.GetRingParams("va")));
        Assert.Equal(EthtoolErrorKind.NotSupported, inner.Kind);
        Assert.Contains("the driver does not do that", inner.Message);
    }

    [Fact]
    public void An_interface_missing_from_the_namespace_is_no_such_interface()
    {
        var e = Assert.Throws<EthtoolException>(() => _ns.InNamespace(() => _ethtool.GetDriverInfo("nope0")));
        Assert.Equal(EthtoolErrorKind.NoSuchInterface, e.Kind);
    }

    [Fact]
    public void Tuning_a_veth_with_the_generic_profile_changes_nothing()
    {
        var nic = new Ppn.Nic.Discovery.NicIdentity("va", null, null, null, null, null, null);
        var result = _ns.InNamespace(() => Ppn.Nic.Tuning.NicTuner.Tune(_ethtool, nic, Ppn.Nic.Tuning.ProfileCatalog.Generic, 2, dryRun: false));
        Assert.Equal(Ppn.Nic.Tuning.TuneStatus.NothingToDo, result.Status);
    }
}
