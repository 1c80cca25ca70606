using System.Globalization;

namespace Ppn.Nic.Discovery;

/// <summary>
/// A link's state as the kernel reports it in sysfs (Documentation/ABI/testing/sysfs-class-net and
/// sysfs-class-net-statistics): operstate, carrier, negotiated speed, and the driver's error and drop counters.
/// Absent or unreadable values are null (a link that is down reports no carrier and no speed: reading them gives
/// EINVAL), never an exception.
/// </summary>
public sealed record NicLinkStatus(string Name, string OperState, bool? Carrier, long? SpeedMbps, IReadOnlyDictionary<string, long> Statistics)
{
    /// <summary>
    /// The statistics/ files read, by their kernel names (struct rtnl_link_stats64, include/uapi/linux/if_link.h):
    /// the aggregate error and drop counters and the detailed error counters drivers fill in.
    /// </summary>
    public static readonly IReadOnlyList<string> StatisticNames =
    [
        "rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
        "rx_errors", "tx_errors", "rx_dropped", "tx_dropped", "rx_missed_errors",
        "rx_crc_errors", "rx_frame_errors", "rx_fifo_errors", "rx_over_errors", "rx_length_errors",
        "tx_carrier_errors", "tx_fifo_errors", "tx_aborted_errors", "collisions",
    ];

    public bool IsUp => OperState == "up";
}

public sealed class SysfsNicStatus(string sysfsRoot = "/sys")
{
    /// <summary>The link's state, or null when there is no such interface.</summary>
    public NicLinkStatus? Read(string name)
    {
        if (name.Length == 0 || name.Contains('/') || name is "." or "..") return null;
        var dir = Path.Combine(sysfsRoot, "class", "net", name);
        if (!Directory.Exists(dir)) return null;
        var statistics = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var stat in NicLinkStatus.StatisticNames)
        {
            if (ReadLong(Path.Combine(dir, "statistics", stat)) is { } value) statistics[stat] = value;
        }
        long? speed = ReadLong(Path.Combine(dir, "speed"));
        // The kernel reports SPEED_UNKNOWN as -1 (ethtool.h).
        if (speed is < 0) speed = null;
        long? carrier = ReadLong(Path.Combine(dir, "carrier"));
        return new NicLinkStatus(name, ReadText(Path.Combine(dir, "operstate")) ?? "unknown", carrier is null ? null : carrier != 0, speed, statistics);
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // absent, or EINVAL from a link that is down
        }
    }

    private static long? ReadLong(string path) =>
        long.TryParse(ReadText(path), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;
}
