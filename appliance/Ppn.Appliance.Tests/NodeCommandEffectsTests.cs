using Ppn.Appliance.Commands;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;

namespace Ppn.Appliance.Tests;

public sealed class NodeCommandEffectsTests
{
    private readonly List<string> _log = [];
    private readonly List<PowerAction> _powerActions = [];
    private int _rescans, _erased;

    private NodeCommandEffects Effects(IEthtool ethtool, INicDiscovery nics) => new(new NodeMachine
    {
        Ethtool = ethtool,
        Nics = nics,
        Power = action => { lock (_powerActions) _powerActions.Add(action); },
        RescanBeacon = () => Interlocked.Increment(ref _rescans),
        EraseGenesis = () => Interlocked.Increment(ref _erased),
    }, line => { lock (_log) _log.Add(line); });

    [Fact]
    public void Genesis_reset_erases_then_reboots()
    {
        var effects = Effects(new FakeEthtool(), new StaticNics());
        effects.GenesisReset();
        Assert.Equal(1, _erased);
        Assert.Equal([PowerAction.Reboot], _powerActions);
    }

    [Fact]
    public void Reboot_restarts_and_poweroff_powers_off()
    {
        var effects = Effects(new FakeEthtool(), new StaticNics());
        effects.Reboot();
        effects.Poweroff();
        Assert.Equal([PowerAction.Reboot, PowerAction.PowerOff], _powerActions);
    }

    [Fact]
    public void Beacon_rescan_is_handed_to_the_genesis_service()
    {
        Effects(new FakeEthtool(), new StaticNics()).RescanBeacon();
        Assert.Equal(1, _rescans);
    }

    [Fact]
    public void Identify_without_a_physical_nic_says_so()
    {
        Effects(new FakeEthtool(), new StaticNics()).Identify(30);
        Assert.Contains("identify: no physical NIC to blink", _log);
    }

    private sealed class StaticNics(params NicIdentity[] nics) : INicDiscovery
    {
        public IReadOnlyList<NicIdentity> List() => nics;
        public NicIdentity? Find(string name) => nics.FirstOrDefault(n => n.Name == name);
    }
}

public sealed class NodeCommandEffectsIdentifyTests
{
    [Fact]
    public void Identify_blinks_every_physical_port_in_slices_until_the_asked_time()
    {
        var ethtool = new FakeEthtool().Add("eth0", new FakeNic { Driver = Driver(), CanIdentify = true });
        var log = new List<string>();
        var done = new ManualResetEventSlim();
        var effects = new NodeCommandEffects(new NodeMachine
        {
            Ethtool = ethtool,
            Nics = new OneNic(),
            Power = _ => { },
            RescanBeacon = () => { },
            EraseGenesis = () => { },
        }, line => { lock (log) log.Add(line); if (line.StartsWith("identify: done", StringComparison.Ordinal)) done.Set(); });
        effects.Identify(12);
        Assert.True(done.Wait(TimeSpan.FromSeconds(20)), string.Join("\n", log));
        // 12 s = 5 + 5 + 2: a stop is never more than one slice away.
        Assert.Equal(3, ethtool.Calls.Count(c => c.StartsWith("PHYS_ID", StringComparison.Ordinal)));
    }

    [Fact]
    public void Identify_blinks_every_port_at_the_same_time_so_the_blink_lasts_the_asked_time_whatever_the_port_count()
    {
        var ethtool = new FakeEthtool()
            .Add("eth0", new FakeNic { Driver = Driver(), CanIdentify = true })
            .Add("eth1", new FakeNic { Driver = Driver(), CanIdentify = true });
        // The real ioctl blocks for its slice: here each blink waits until the other port's blink of the same slice has
        // started. Port after port would leave the first waiting alone (bounded: it then records the miss).
        using var together = new Barrier(2);
        var missed = 0;
        ethtool.Blinking = (_, _) => { if (!together.SignalAndWait(TimeSpan.FromSeconds(30))) Interlocked.Increment(ref missed); };
        var (effects, log, done) = Effects(ethtool, new Listed(Nic("eth0"), Nic("eth1")));
        effects.Identify(10);
        Assert.True(done.Wait(TimeSpan.FromSeconds(90)), string.Join("\n", log));
        Assert.Equal(0, missed);
        Assert.Equal(2, ethtool.Calls.Count(c => c == "PHYS_ID eth0"));
        Assert.Equal(2, ethtool.Calls.Count(c => c == "PHYS_ID eth1"));
        Assert.Equal("identify: done", log[^1]);
    }

    [Fact]
    public void A_port_that_cannot_blink_is_reported_once_and_the_others_go_on()
    {
        var ethtool = new FakeEthtool()
            .Add("eth0", new FakeNic { Driver = Driver(), CanIdentify = true })
            .Add("eth1", new FakeNic { Driver = Driver(), CanIdentify = false });
        var (effects, log, done) = Effects(ethtool, new Listed(Nic("eth0"), Nic("eth1")));
        effects.Identify(12);
        Assert.True(done.Wait(TimeSpan.FromSeconds(90)), string.Join("\n", log));
        Assert.Equal(3, ethtool.Calls.Count(c => c == "PHYS_ID eth0"));
        Assert.Equal(1, ethtool.Calls.Count(c => c == "PHYS_ID eth1"));
        Assert.Single(log, l => l.StartsWith("identify: eth1: ", StringComparison.Ordinal));
        Assert.Equal("identify: done", log[^1]);
    }

    private static NicIdentity Nic(string name) => new(name, 0x14e4, 0x16b4, null, null, "tg3", "0000:01:00.0");

    private static (NodeCommandEffects Effects, List<string> Log, ManualResetEventSlim Done) Effects(FakeEthtool ethtool, INicDiscovery nics)
    {
        var log = new List<string>();
        var done = new ManualResetEventSlim();
        var effects = new NodeCommandEffects(new NodeMachine
        {
            Ethtool = ethtool,
            Nics = nics,
            Power = _ => { },
            RescanBeacon = () => { },
            EraseGenesis = () => { },
        }, line => { lock (log) log.Add(line); if (line is "identify: done" or "identify: stopped" or "identify: no port could blink") done.Set(); });
        return (effects, log, done);
    }

    [Fact]
    public void Nic_retune_reapplies_the_bcm57765_profile_through_ethtool()
    {
        var ethtool = new FakeEthtool().Add("enp2s0", Tg3Fixture.Bcm57765());
        var log = new List<string>();
        var effects = new NodeCommandEffects(new NodeMachine
        {
            Ethtool = ethtool,
            Nics = new Listed(Tg3Fixture.Identity()),
            Power = _ => { },
            RescanBeacon = () => { },
            EraseGenesis = () => { },
        }, log.Add);
        effects.RetuneNic();
        Assert.Contains(ethtool.Calls, c => c.StartsWith("SRINGPARAM enp2s0", StringComparison.Ordinal));
        Assert.Equal("nic-retune: 1 of 1 NIC(s) tuned", log[^1]);
        ethtool.Calls.Clear();
        effects.RetuneNic(); // idempotent: the second time there is nothing to set
        Assert.DoesNotContain(ethtool.Calls, c => c.StartsWith('S'));
    }

    private sealed class Listed(params NicIdentity[] nics) : INicDiscovery
    {
        public IReadOnlyList<NicIdentity> List() => nics;
        public NicIdentity? Find(string name) => nics.FirstOrDefault(n => n.Name == name);
    }

    internal static DriverInfo Driver() => new("tg3", "3.137", "57765-v1.39", "", "0000:01:00.0", 0, 0, 0, 0, 0);

    private sealed class OneNic : INicDiscovery
    {
        private readonly NicIdentity _eth0 = new("eth0", 0x14e4, 0x16b4, null, null, "tg3", "0000:01:00.0");
        public IReadOnlyList<NicIdentity> List() => [_eth0];
        public NicIdentity? Find(string name) => name == "eth0" ? _eth0 : null;
    }
}
