using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Running;
using static Ppn.Rig.Running.PowerCutsDuringGenesis;

namespace Ppn.Rig.Tests;

public class PowerCutScheduleTests
{
    private const string KeyA = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
    private const string KeyB = "AAAAEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

    [Fact]
    public void The_same_seed_gives_the_same_schedule_and_another_seed_another()
    {
        Assert.Equal(Schedule(8, FullCuts), Schedule(8, FullCuts));
        Assert.NotEqual(Schedule(8, FullCuts), Schedule(9, FullCuts));
    }

    [Fact]
    public void Full_mode_has_at_least_50_cuts_spread_over_all_anchors_and_their_windows()
    {
        var cuts = Schedule(8, FullCuts);
        Assert.True(cuts.Count >= 50);
        Assert.All(Enum.GetValues<Anchor>(), a => Assert.True(cuts.Count(c => c.From == a) >= 16));
        Assert.All(cuts.Where(c => c.From == Anchor.PowerOn), c => Assert.InRange(c.Offset, TimeSpan.FromSeconds(0.3), AfterPowerOnWindow));
        Assert.All(cuts.Where(c => c.From == Anchor.FirstPpnLine), c => Assert.InRange(c.Offset, TimeSpan.Zero, AfterInitWindow));
        Assert.All(cuts.Where(c => c.From == Anchor.GenesisStartOnFactoryNew), c => Assert.InRange(c.Offset, TimeSpan.Zero, AfterGenesisStartWindow));
        // Spread, not bunched: each quarter of the creation window gets cuts.
        for (int q = 0; q < 4; q++)
        {
            Assert.Contains(cuts, c => c.From == Anchor.GenesisStartOnFactoryNew && (int)(c.Offset / (AfterGenesisStartWindow / 4)) == q);
        }
        // The quick set has every kind too.
        Assert.Equal(Enum.GetValues<Anchor>(), Schedule(8, QuickCuts).Select(c => c.From).Distinct().Order());
        Assert.Equal(QuickCuts, Schedule(8, QuickCuts).Count);
    }

    private static ConsoleLine L(string text) => new(0, TimeSpan.Zero, text);

    [Fact]
    public void One_created_identity_matching_the_banner_is_valid_on_a_first_boot()
    {
        var boot = Read([L("ppn: init: ok"), L($"ppn: genesis: identity created: {KeyA} (entropy: getrandom)"), L("ppn: genesis: holding on [fe80::1%eth0]:9443")]);
        Assert.Equal(new IdentityVerdict(KeyA, "created", 1, false), boot);
        Check(boot, KeyA, shownBefore: null, "boot 1");
    }

    [Fact]
    public void After_a_key_was_shown_a_new_one_is_a_silently_replaced_identity()
    {
        var boot = Read([L($"ppn: genesis: identity created: {KeyB} (entropy: getrandom)")]);
        var e = Assert.Throws<ProductCheckException>(() => Check(boot, KeyB, KeyA, "boot 3"));
        Assert.Contains($"identity silently replaced: {KeyA} was shown before, now {KeyB}", e.Message);
    }

    [Fact]
    public void The_same_key_created_again_is_not_a_restore()
    {
        var boot = Read([L($"ppn: genesis: identity created: {KeyA} (entropy: getrandom)")]);
        Assert.Throws<ProductCheckException>(() => Check(boot, KeyA, KeyA, "boot 3"));
    }

    [Fact]
    public void A_corrupt_identity_or_two_identities_on_one_boot_fail()
    {
        var corrupt = Read([L("ppn: genesis: no usable identity (Corrupt): bad checksum")]);
        Assert.Contains("no usable identity", Assert.Throws<ProductCheckException>(() => Check(corrupt, KeyA, null, "b")).Message);
        var two = Read([L($"ppn: genesis: identity created: {KeyA} (e)"), L($"ppn: genesis: identity restored: {KeyA} (e)")]);
        Assert.Contains("2 identity lines", Assert.Throws<ProductCheckException>(() => Check(two, KeyA, null, "b")).Message);
        var mismatch = Read([L($"ppn: genesis: identity restored: {KeyA} (e)")]);
        Assert.Contains("holding banner", Assert.Throws<ProductCheckException>(() => Check(mismatch, KeyB, null, "b")).Message);
    }

    [Fact]
    public void Both_fault_scenarios_are_in_the_quick_set()
    {
        Assert.Equal(ScenarioSet.Quick, ScenarioRunner.Find("power-cuts-during-genesis").Set);
        Assert.Equal(ScenarioSet.Quick, ScenarioRunner.Find("diode-never-sends-to-8090").Set);
    }
}
