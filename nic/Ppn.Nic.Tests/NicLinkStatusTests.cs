using Ppn.Nic.Discovery;

namespace Ppn.Nic.Tests;

/// <summary>SysfsNicStatus over a fake sysfs root: what the kernel reports for a link up, down, and half-described.</summary>
public sealed class NicLinkStatusTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ppn-nic-status-").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    private string Link(string name, string operstate, string? carrier, string? speed)
    {
        var dir = Path.Combine(_root, "class", "net", name);
        Directory.CreateDirectory(Path.Combine(dir, "statistics"));
        File.WriteAllText(Path.Combine(dir, "operstate"), operstate + "\n");
        if (carrier is not null) File.WriteAllText(Path.Combine(dir, "carrier"), carrier + "\n");
        if (speed is not null) File.WriteAllText(Path.Combine(dir, "speed"), speed + "\n");
        return dir;
    }

    [Fact]
    public void A_link_that_is_up_reports_carrier_speed_and_its_counters()
    {
        var dir = Link("eth0", "up", "1", "1000");
        File.WriteAllText(Path.Combine(dir, "statistics", "rx_crc_errors"), "17\n");
        File.WriteAllText(Path.Combine(dir, "statistics", "tx_dropped"), "garbage\n");
        var status = new SysfsNicStatus(_root).Read("eth0")!;
        Assert.True(status.IsUp);
        Assert.True(status.Carrier);
        Assert.Equal(1000, status.SpeedMbps);
        Assert.Equal(17, status.Statistics["rx_crc_errors"]);
        Assert.False(status.Statistics.ContainsKey("tx_dropped")); // unparseable: absent, not zero
    }

    [Fact]
    public void A_link_without_carrier_or_known_speed_reports_them_absent_and_an_unknown_link_is_null()
    {
        Link("eth1", "down", carrier: null, speed: "-1"); // SPEED_UNKNOWN; carrier unreadable (EINVAL) while down
        var status = new SysfsNicStatus(_root).Read("eth1")!;
        Assert.False(status.IsUp);
        Assert.Null(status.Carrier);
        Assert.Null(status.SpeedMbps);
        Assert.Empty(status.Statistics);
        Assert.Null(new SysfsNicStatus(_root).Read("eth9"));
        Assert.Null(new SysfsNicStatus(_root).Read("../eth1"));
    }
}
