using System.Text.Json;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Rendering;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Tests;

public class NicJsonTests
{
    private static JsonElement Render(NicShowDocument document) => JsonSerializer.SerializeToElement(document, NicJsonContext.Default.NicShowDocument);

    private static JsonElement Render(NicTuneDocument document) => JsonSerializer.SerializeToElement(document, NicJsonContext.Default.NicTuneDocument);

    [Fact]
    public void Show_json_names_driver_pci_id_and_every_tunable_part()
    {
        var fake = new FakeEthtool().Add("enp2s0", Tg3Fixture.Bcm57765());
        var snapshot = NicSnapshot.Read(fake, Tg3Fixture.Identity());
        var nic = Render(NicJson.Show([snapshot])).GetProperty("nics")[0];
        Assert.Equal("14e4:16b4", nic.GetProperty("pciId").GetString());
        Assert.Equal("tg3", nic.GetProperty("driver").GetProperty("name").GetString());
        Assert.Equal("00:10:18:aa:bb:cc", nic.GetProperty("permanentAddress").GetString());
        Assert.Equal(JsonValueKind.Null, nic.GetProperty("link").ValueKind);
        Assert.Equal(511, nic.GetProperty("rings").GetProperty("rxMax").GetInt32());
        Assert.True(nic.GetProperty("eee").GetProperty("enabled").GetBoolean());
        Assert.True(nic.GetProperty("features").GetProperty("rx-gro").GetProperty("active").GetBoolean());
    }

    [Fact]
    public void Stats_json_keeps_both_of_two_counters_the_driver_names_alike()
    {
        // The reason `ppn nic stats --json` is written by hand (as `ethtool -S` prints them, nothing dropped).
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            NicJson.WriteStats(w, [(new Discovery.NicIdentity("eth0", null, null, null, null, "x", null), [new NicStatistic("rx_errors", 1), new NicStatistic("rx_errors", 2)])]);
        }
        Assert.Equal("""{"nics":[{"interface":"eth0","statistics":{"rx_errors":1,"rx_errors":2}}]}""", System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    [Fact]
    public void Tune_json_carries_status_changes_and_the_read_back_state()
    {
        var fake = new FakeEthtool().Add("enp2s0", Tg3Fixture.Bcm57765());
        var result = NicTuner.Tune(fake, Tg3Fixture.Identity(), ProfileCatalog.Bcm57765, 2, dryRun: false);
        var r = Render(NicJson.Tune([result])).GetProperty("results")[0];
        Assert.Equal("applied", r.GetProperty("status").GetString());
        Assert.Equal("bcm57765", r.GetProperty("profile").GetString());
        var rings = r.GetProperty("changes").EnumerateArray().Single(c => c.GetProperty("setting").GetString() == "rings");
        Assert.True(rings.GetProperty("applied").GetBoolean());
        Assert.Equal("511", rings.GetProperty("fields")[0].GetProperty("after").GetString());
        Assert.Equal(511, r.GetProperty("state").GetProperty("rings").GetProperty("rx").GetInt32());
        Assert.False(r.GetProperty("state").GetProperty("eee").GetProperty("enabled").GetBoolean());
    }
}
