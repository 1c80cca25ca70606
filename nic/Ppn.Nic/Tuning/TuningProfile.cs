using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tuning;

/// <summary>Coalescing targets (null = leave as the driver has it) and the driver's limits they are clamped to.</summary>
public sealed record CoalesceTarget(
    uint? RxUsecs, uint? RxMaxFrames, uint? TxUsecs, uint? TxMaxFrames,
    CoalesceLimits Limits,
    bool ZeroPerIrqAndStatsFields);

public enum ChannelPolicy
{
    Keep,
    /// <summary>RX (or combined) queues up to min(driver maximum, CPU count); TX left alone.</summary>
    RxQueuesToCpuCount,
}

/// <summary>
/// What a node wants from a NIC. Every setting is planned against the driver's own advertised maxima and
/// limits; the reasons for each value are in docs/nic/bcm57765.md.
/// </summary>
public sealed record TuningProfile
{
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required Func<NicIdentity, bool> Matches { get; init; }
    public bool RingsToMaximum { get; init; }
    public CoalesceTarget? Coalesce { get; init; }
    public PauseParams? Pause { get; init; }
    /// <summary>false: EEE and TX LPI off; null: leave.</summary>
    public bool? Eee { get; init; }
    public ChannelPolicy Channels { get; init; }
    public IReadOnlyList<FeatureRequest> Features { get; init; } = [];
}

/// <summary>The profiles this appliance knows, most specific first; the generic one matches everything.</summary>
public sealed class ProfileCatalog
{
    public const ushort BroadcomVendor = 0x14e4;
    public const ushort Bcm57765Device = 0x16b4;

    /// <summary>tg3_set_coalesce limits for 5705_PLUS chips (the 57765 is one): tg3.h MAX_*COL_TICKS,
    /// MAX_*MAX_FRAMES; the per-IRQ and statistics-block fields must be 0 (max_*_tick_int = 0 unless !5705_PLUS);
    /// current kernels also refuse rx/tx usecs of 0. tg3 implements no adaptive coalescing.</summary>
    public static readonly CoalesceLimits Tg3Limits5705Plus = new(
        MaxRxUsecs: 1023, MaxTxUsecs: 1023, MaxRxFrames: 255, MaxTxFrames: 255,
        MaxRxUsecsIrq: 0, MaxTxUsecsIrq: 0, MaxRxFramesIrq: 255, MaxTxFramesIrq: 255,
        MinStatsBlockUsecs: 0, MaxStatsBlockUsecs: 0, UsecsMustBeNonZero: true, AdaptiveSupported: false);

    public static TuningProfile Bcm57765 { get; } = new()
    {
        Name = "bcm57765",
        Description = "Broadcom NetXtreme BCM57765 (14e4:16b4, tg3) on a WireGuard mesh node",
        Matches = nic => nic.Is(BroadcomVendor, Bcm57765Device),
        RingsToMaximum = true,
        Coalesce = new CoalesceTarget(RxUsecs: 50, RxMaxFrames: 32, TxUsecs: 100, TxMaxFrames: 64, Tg3Limits5705Plus, ZeroPerIrqAndStatsFields: true),
        Pause = new PauseParams(Autoneg: true, Rx: true, Tx: true),
        Eee = false,
        Channels = ChannelPolicy.RxQueuesToCpuCount,
        Features =
        [
            new("rx-checksum", true),
            new("tx-checksum-ipv4", true),
            new("tx-checksum-ipv6", true),
            new("tx-scatter-gather", true),
            new("tx-tcp-segmentation", true),
            new("tx-tcp6-segmentation", true),
            new("tx-generic-segmentation", true),
            new("rx-gro", true),
            new("rx-lro", false),
        ],
    };

    /// <summary>Do no harm: plans nothing. Reasons in docs/nic/bcm57765.md ("Other NICs").</summary>
    public static TuningProfile Generic { get; } = new()
    {
        Name = "generic",
        Description = "Any other NIC: report only, change nothing",
        Matches = _ => true,
    };

    public ProfileCatalog(IReadOnlyList<TuningProfile> profiles) => Profiles = profiles;

    public static ProfileCatalog Default { get; } = new([Bcm57765, Generic]);

    public IReadOnlyList<TuningProfile> Profiles { get; }

    public TuningProfile Select(NicIdentity nic) => Profiles.FirstOrDefault(p => p.Matches(nic)) ?? Generic;

    public TuningProfile? Find(string name) => Profiles.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
