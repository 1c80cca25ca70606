using Ppn.Linux;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Tests;

public class TuningTests
{
    private const string If = "enp2s0";

    private static FakeEthtool Fake(FakeNic? nic = null) => new FakeEthtool().Add(If, nic ?? Tg3Fixture.Bcm57765());

    private static TuningPlan Plan57765(FakeEthtool fake, int cpus = 2) =>
        TuningPlanner.Plan(ProfileCatalog.Bcm57765, NicState.Read(fake, If), cpus);

    [Fact]
    public void The_57765_profile_matches_only_14e4_16b4()
    {
        Assert.Same(ProfileCatalog.Bcm57765, ProfileCatalog.Default.Select(Tg3Fixture.Identity()));
        var other = Tg3Fixture.Identity() with { Device = 0x1657 };
        Assert.Same(ProfileCatalog.Generic, ProfileCatalog.Default.Select(other));
    }

    [Fact]
    public void The_57765_plan_fills_the_rings_to_the_tg3_maxima_and_leaves_the_absent_jumbo_ring()
    {
        var ring = Assert.Single(Plan57765(Fake()).Changes.OfType<RingChange>());
        Assert.Equal(511u, ring.After.Rx);
        Assert.Equal(511u, ring.After.Tx);
        Assert.Equal(0u, ring.After.RxJumbo);
        Assert.Equal([new FieldChange("rx", "200", "511")], ring.Fields);
    }

    [Fact]
    public void The_57765_coalescing_plan_is_accepted_by_tg3_limits_for_5705_plus_chips()
    {
        var c = Assert.Single(Plan57765(Fake()).Changes.OfType<CoalesceChange>());
        Assert.True(ProfileCatalog.Tg3Limits5705Plus.Accepts(c.After));
        Assert.Equal((50u, 32u, 100u, 64u), (c.After.RxUsecs, c.After.RxMaxFrames, c.After.TxUsecs, c.After.TxMaxFrames));
        Assert.Equal(0u, c.After.RxUsecsIrq);
        Assert.Equal(0u, c.After.StatsBlockUsecs);
    }

    [Fact]
    public void Coalescing_targets_are_clamped_to_the_driver_limits()
    {
        var target = new CoalesceTarget(5000, 1000, 0, 300, ProfileCatalog.Tg3Limits5705Plus, true);
        var after = TuningPlanner.PlanCoalesce(new CoalesceParams { RxUsecs = 20, TxUsecs = 72, StatsBlockUsecs = 1000 }, target);
        Assert.Equal((1023u, 255u, 1u, 255u, 0u), (after.RxUsecs, after.RxMaxFrames, after.TxUsecs, after.TxMaxFrames, after.StatsBlockUsecs));
        Assert.True(ProfileCatalog.Tg3Limits5705Plus.Accepts(after));
    }

    [Fact]
    public void The_57765_plan_turns_eee_off_without_touching_the_advertisement()
    {
        var eee = Assert.Single(Plan57765(Fake()).Changes.OfType<EeeChange>());
        Assert.False(eee.After.Enabled);
        Assert.False(eee.After.TxLpiEnabled);
        Assert.Equal(eee.Before.Advertised, eee.After.Advertised);
    }

    [Fact]
    public void A_57765_without_eee_gets_a_note_and_no_eee_change()
    {
        var plan = Plan57765(Fake(Tg3Fixture.Bcm57765(eeeCapable: false)));
        Assert.Empty(plan.Changes.OfType<EeeChange>());
        Assert.Contains(plan.Notes, n => n.StartsWith("eee:", StringComparison.Ordinal));
    }

    [Fact]
    public void Rss_queues_follow_the_cpu_count_within_the_57765_maximum_and_tx_stays_single()
    {
        var two = Assert.Single(Plan57765(Fake(), cpus: 2).Changes.OfType<ChannelChange>());
        Assert.Equal((2u, 1u), (two.After.Rx, two.After.Tx));
        Assert.Empty(Plan57765(Fake(), cpus: 16).Changes.OfType<ChannelChange>()); // already at rxq_max 4
    }

    [Fact]
    public void Default_tg3_pause_and_offloads_already_match_so_they_are_not_planned()
    {
        var plan = Plan57765(Fake());
        Assert.Empty(plan.Changes.OfType<PauseChange>());
        Assert.Empty(plan.Changes.OfType<FeatureChange>());
    }

    [Fact]
    public void Pause_off_and_gro_off_are_planned_back_on()
    {
        var nic = Tg3Fixture.Bcm57765();
        nic.Pause = new PauseParams(false, false, false);
        nic.Features[nic.Features.FindIndex(f => f.Name == "rx-gro")] = new Feature("rx-gro", true, false, false, false);
        var plan = Plan57765(Fake(nic));
        Assert.Equal(new PauseParams(true, true, true), Assert.Single(plan.Changes.OfType<PauseChange>()).After);
        Assert.Equal(new FeatureChange("rx-gro", false, true), Assert.Single(plan.Changes.OfType<FeatureChange>()));
    }

    [Fact]
    public void Disruptive_changes_come_last_in_the_plan()
    {
        var settings = Plan57765(Fake()).Changes.Select(c => c.Setting).ToList();
        Assert.Equal(["coalesce", "eee", "channels", "rings"], settings);
    }

    [Fact]
    public void Applying_the_57765_profile_reads_back_and_a_second_run_plans_nothing()
    {
        var fake = Fake();
        var first = NicTuner.Tune(fake, Tg3Fixture.Identity(If), ProfileCatalog.Bcm57765, 2, dryRun: false);
        Assert.Equal(TuneStatus.Applied, first.Status);
        Assert.Equal(4, first.Applied.Count);
        Assert.Equal(511u, fake.Nic(If).Rings!.Value.Rx);
        Assert.False(fake.Nic(If).Eee!.Value.Enabled);

        var second = NicTuner.Tune(fake, Tg3Fixture.Identity(If), ProfileCatalog.Bcm57765, 2, dryRun: false);
        Assert.Equal(TuneStatus.NothingToDo, second.Status);
        Assert.True(second.Plan!.IsEmpty);
    }

    [Fact]
    public void A_dry_run_plans_and_changes_nothing()
    {
        var fake = Fake();
        var result = NicTuner.Tune(fake, Tg3Fixture.Identity(If), ProfileCatalog.Bcm57765, 2, dryRun: true);
        Assert.Equal(TuneStatus.Planned, result.Status);
        Assert.DoesNotContain(fake.Calls, c => c.StartsWith('S'));
        Assert.Equal(200u, fake.Nic(If).Rings!.Value.Rx);
    }

    [Fact]
    public void A_failing_ring_change_rolls_back_every_earlier_change_newest_first()
    {
        var fake = Fake();
        var before = NicState.Read(fake, If);
        fake.Fail("SRINGPARAM", Errno.EINVAL);
        fake.Calls.Clear();

        var result = NicTuner.Tune(fake, Tg3Fixture.Identity(If), ProfileCatalog.Bcm57765, 2, dryRun: false);

        Assert.Equal(TuneStatus.RolledBack, result.Status);
        Assert.Contains("rings", result.Error);
        Assert.Contains("out of the driver's range", result.Error);
        var sets = fake.Calls.Where(c => c.StartsWith('S')).ToList();
        Assert.Equal(["SCOALESCE enp2s0", "SEEE enp2s0", "SCHANNELS enp2s0", "SRINGPARAM enp2s0",
                      "SCHANNELS enp2s0", "SEEE enp2s0", "SCOALESCE enp2s0"], sets);
        var after = NicState.Read(fake, If);
        Assert.Equal(before.Rings, after.Rings);
        Assert.Equal(before.Coalesce, after.Coalesce);
        Assert.Equal(before.Eee, after.Eee);
        Assert.Equal(before.Channels, after.Channels);
    }

    [Fact]
    public void A_failing_revert_is_reported_as_an_incomplete_rollback()
    {
        var fake = Fake();
        fake.Fail("SRINGPARAM", Errno.EBUSY);
        fake.Fail("SEEE", Errno.EIO, skip: 1); // the apply succeeds, the revert fails
        var result = NicTuner.Tune(fake, Tg3Fixture.Identity(If), ProfileCatalog.Bcm57765, 2, dryRun: false);
        Assert.Equal(TuneStatus.RollbackIncomplete, result.Status);
        Assert.Contains(result.RollbackErrors, e => e.StartsWith("eee:", StringComparison.Ordinal));
        Assert.False(result.Succeeded);
    }

    [Fact]
    public void A_driver_that_accepts_but_ignores_a_change_is_caught_by_the_read_back_and_rolled_back()
    {
        var fake = Fake();
        fake.IgnoredSets.Add("SCOALESCE");
        var result = NicTuner.Tune(fake, Tg3Fixture.Identity(If), ProfileCatalog.Bcm57765, 2, dryRun: false);
        Assert.Equal(TuneStatus.RolledBack, result.Status);
        Assert.Contains("read-back", result.Error);
        Assert.Contains("coalesce", result.Error);
        Assert.Equal(200u, fake.Nic(If).Rings!.Value.Rx);
    }

    [Fact]
    public void The_generic_profile_plans_nothing_for_any_nic()
    {
        foreach (var nic in new[] { Tg3Fixture.Bcm57765(), Tg3Fixture.E1000e(), Tg3Fixture.Bcm57765(eeeCapable: false) })
        {
            var fake = Fake(nic);
            var plan = TuningPlanner.Plan(ProfileCatalog.Generic, NicState.Read(fake, If), 4);
            Assert.True(plan.IsEmpty);
            Assert.Empty(plan.Notes);
        }
    }

    [Fact]
    public void Unsupported_parts_read_as_absent_instead_of_failing_the_read()
    {
        var state = NicState.Read(Fake(Tg3Fixture.E1000e()), If);
        Assert.Null(state.Eee);
        Assert.Null(state.Channels);
        Assert.NotNull(state.Rings);
    }

    [Fact]
    public void Tune_all_reports_a_broken_nic_and_still_tunes_the_others()
    {
        var fake = new FakeEthtool().Add("enp2s0", Tg3Fixture.Bcm57765()).Add("enp3s0", Tg3Fixture.E1000e());
        var discovery = new ListDiscovery(
            Tg3Fixture.Identity("enp1s0"), // listed by sysfs but gone from the ethtool side: ENODEV
            Tg3Fixture.Identity("enp2s0"),
            new NicIdentity("enp3s0", 0x8086, 0x10d3, null, null, "e1000e", "0000:00:02.0"),
            new NicIdentity("wg0", null, null, null, null, null, null));
        var log = new List<string>();

        var report = NicTuner.TuneAll(fake, discovery, log.Add, cpuCount: 2);

        Assert.Equal(["enp1s0", "enp2s0", "enp3s0"], report.Results.Select(r => r.Nic.Name));
        Assert.Equal([TuneStatus.Failed, TuneStatus.Applied, TuneStatus.NothingToDo], report.Results.Select(r => r.Status));
        Assert.Contains("no such interface", report.Results[0].Error);
        Assert.Equal(3, log.Count);
        Assert.False(report.AllSucceeded);
    }

    [Fact]
    public void Tune_all_survives_a_discovery_that_throws()
    {
        var log = new List<string>();
        var report = NicTuner.TuneAll(new FakeEthtool(), new ThrowingDiscovery(), log.Add);
        Assert.Empty(report.Results);
        Assert.Single(log);
    }

    [Fact]
    public void Errno_values_map_to_the_documented_meanings()
    {
        Assert.Contains("the driver does not do that", new EthtoolException("SEEE", "eth0", (int)Errno.EOPNOTSUPP).Message);
        Assert.Contains("out of the driver's range", new EthtoolException("SRINGPARAM", "eth0", (int)Errno.EINVAL).Message);
        Assert.Contains("needs root/CAP_NET_ADMIN", new EthtoolException("SRINGPARAM", "eth0", (int)Errno.EPERM).Message);
        Assert.Contains("no such interface", new EthtoolException("GDRVINFO", "eth9", (int)Errno.ENODEV).Message);
        Assert.Equal(EthtoolErrorKind.NoSuchInterface, new EthtoolException("GDRVINFO", "eth9", (int)Errno.ENODEV).Kind);
    }

    private sealed class ListDiscovery(params NicIdentity[] nics) : INicDiscovery
    {
        public IReadOnlyList<NicIdentity> List() => nics;
        public NicIdentity? Find(string name) => nics.FirstOrDefault(n => n.Name == name);
    }

    private sealed class ThrowingDiscovery : INicDiscovery
    {
        public IReadOnlyList<NicIdentity> List() => throw new IOException("sysfs is not mounted");
        public NicIdentity? Find(string name) => null;
    }
}
