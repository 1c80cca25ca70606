namespace Ppn.Nic.Ethtool;

/// <summary>ETHTOOL_GDRVINFO: who drives the NIC and where it sits (bus_info is the PCI address for PCI NICs).</summary>
public sealed record DriverInfo(
    string Driver,
    string Version,
    string FirmwareVersion,
    string ExpansionRomVersion,
    string BusInfo,
    uint PrivateFlagCount,
    uint StatisticCount,
    uint TestInfoLength,
    uint EepromDumpLength,
    uint RegisterDumpLength);

/// <summary>ETHTOOL_G/SRINGPARAM: descriptor ring sizes, current and the driver's advertised maxima.</summary>
public readonly record struct RingParams(
    uint RxMax, uint RxMiniMax, uint RxJumboMax, uint TxMax,
    uint Rx, uint RxMini, uint RxJumbo, uint Tx);

/// <summary>ETHTOOL_G/SCOALESCE: interrupt moderation, field for field as struct ethtool_coalesce.</summary>
public sealed record CoalesceParams
{
    public uint RxUsecs { get; init; }
    public uint RxMaxFrames { get; init; }
    public uint RxUsecsIrq { get; init; }
    public uint RxMaxFramesIrq { get; init; }
    public uint TxUsecs { get; init; }
    public uint TxMaxFrames { get; init; }
    public uint TxUsecsIrq { get; init; }
    public uint TxMaxFramesIrq { get; init; }
    public uint StatsBlockUsecs { get; init; }
    public bool AdaptiveRx { get; init; }
    public bool AdaptiveTx { get; init; }
    public uint PacketRateLow { get; init; }
    public uint RxUsecsLow { get; init; }
    public uint RxMaxFramesLow { get; init; }
    public uint TxUsecsLow { get; init; }
    public uint TxMaxFramesLow { get; init; }
    public uint PacketRateHigh { get; init; }
    public uint RxUsecsHigh { get; init; }
    public uint RxMaxFramesHigh { get; init; }
    public uint TxUsecsHigh { get; init; }
    public uint TxMaxFramesHigh { get; init; }
    public uint RateSampleIntervalSeconds { get; init; }
}

/// <summary>ETHTOOL_G/SPAUSEPARAM: 802.3x flow control.</summary>
public readonly record struct PauseParams(bool Autoneg, bool Rx, bool Tx);

/// <summary>ETHTOOL_G/SEEE: Energy-Efficient Ethernet (802.3az). The masks are legacy SUPPORTED_* link-mode bits.</summary>
public readonly record struct EeeParams(
    uint Supported, uint Advertised, uint LinkPartnerAdvertised,
    bool Active, bool Enabled, bool TxLpiEnabled, uint TxLpiTimerMicroseconds);

/// <summary>ETHTOOL_G/SCHANNELS: queue (interrupt vector) counts and their maxima.</summary>
public readonly record struct ChannelParams(
    uint MaxRx, uint MaxTx, uint MaxOther, uint MaxCombined,
    uint Rx, uint Tx, uint Other, uint Combined);

/// <summary>One netdev feature from ETH_SS_FEATURES + ETHTOOL_GFEATURES, named as the kernel names it.</summary>
public readonly record struct Feature(string Name, bool Available, bool Requested, bool Active, bool NeverChanged)
{
    /// <summary>What `ethtool -k` prints as "[fixed]": the driver does not let it change.</summary>
    public bool Fixed => !Available || NeverChanged;
}

/// <summary>A feature to switch on or off through ETHTOOL_SFEATURES.</summary>
public readonly record struct FeatureRequest(string Name, bool Enable);

/// <summary>The non-error bits ETHTOOL_SFEATURES returns (ETHTOOL_F_*).</summary>
[Flags]
public enum FeatureSetResult
{
    Done = 0,
    /// <summary>Some requested features cannot be changed by this driver (not in hw_features).</summary>
    Unsupported = 1,
    /// <summary>The request was stored but the driver's constraints keep some features from following it.</summary>
    Wish = 2,
    /// <summary>Legacy offload flags changed as a side effect.</summary>
    Compat = 4,
}

/// <summary>One ETH_SS_STATS counter.</summary>
public readonly record struct NicStatistic(string Name, ulong Value);

/// <summary>ETHTOOL_G/SLINKSETTINGS. Speed in Mb/s (uint.MaxValue = unknown); duplex/port as ethtool.h DUPLEX_*/PORT_*.</summary>
public sealed record LinkSettings(
    uint SpeedMbps,
    byte Duplex,
    byte Port,
    byte PhyAddress,
    bool Autoneg,
    byte MdioSupport,
    byte MdixStatus,
    byte MdixControl,
    byte Transceiver,
    byte MasterSlaveConfig,
    byte MasterSlaveState,
    byte RateMatching,
    LinkModes Supported,
    LinkModes Advertising,
    LinkModes LinkPartnerAdvertising)
{
    public const uint SpeedUnknown = uint.MaxValue;
    public const byte DuplexHalf = 0, DuplexFull = 1, DuplexUnknown = 0xff;

    public string DuplexName => Duplex switch { DuplexHalf => "half", DuplexFull => "full", _ => "unknown" };

    /// <summary>ethtool.h PORT_* names as `ethtool` prints them.</summary>
    public string PortName => Port switch
    {
        0x00 => "Twisted Pair",
        0x01 => "AUI",
        0x02 => "BNC",
        0x03 => "MII",
        0x04 => "FIBRE",
        0x05 => "Direct Attach Copper",
        0xef => "None",
        _ => "Other",
    };
}

/// <summary>A link-mode bitmap (ethtool_link_mode_bit_indices), as many 32-bit words as the kernel uses.</summary>
public sealed class LinkModes : IEquatable<LinkModes>
{
    // The first bits of enum ethtool_link_mode_bit_indices (ethtool.h); later bits are shown by number.
    private static readonly string[] Names =
    [
        "10baseT/Half", "10baseT/Full", "100baseT/Half", "100baseT/Full", "1000baseT/Half", "1000baseT/Full",
        "Autoneg", "TP", "AUI", "MII", "FIBRE", "BNC", "10000baseT/Full", "Pause", "Asym_Pause",
        "2500baseX/Full", "Backplane", "1000baseKX/Full", "10000baseKX4/Full", "10000baseKR/Full",
    ];

    private readonly uint[] _words;

    public LinkModes(ReadOnlySpan<uint> words) => _words = words.ToArray();

    public static LinkModes Empty(int words) => new(new uint[words]);

    public int WordCount => _words.Length;
    public ReadOnlySpan<uint> Words => _words;

    public bool Has(int bit) => bit / 32 < _words.Length && (_words[bit / 32] & (1u << (bit % 32))) != 0;

    public IReadOnlyList<string> BitNames()
    {
        var names = new List<string>();
        for (int bit = 0; bit < _words.Length * 32; bit++)
        {
            if (Has(bit))
            {
                names.Add(bit < Names.Length ? Names[bit] : $"bit{bit}");
            }
        }
        return names;
    }

    public bool Equals(LinkModes? other) => other is not null && _words.AsSpan().SequenceEqual(other._words);
    public override bool Equals(object? obj) => Equals(obj as LinkModes);
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var w in _words) hash.Add(w);
        return hash.ToHashCode();
    }
}
