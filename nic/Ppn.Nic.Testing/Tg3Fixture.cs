using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Testing;

/// <summary>
/// A BCM57765 (14e4:16b4) as tg3 reports it after probe, written from the driver source:
/// 57765_CLASS is 57765_PLUS and 5705_PLUS but not 5717_PLUS, so no LRG_PROD_RING_CAP: the standard ring
/// is TG3_RX_STD_MAX_SIZE_5700 (512, rx_max_pending = mask 511), the jumbo ring exists only with MTU &gt; 1500
/// (rx_jumbo_max_pending 0 at 1500), TG3_TX_RING_SIZE 512 (tx_max_pending 511); defaults
/// TG3_DEF_RX_RING_PENDING 200, TG3_DEF_TX_RING_PENDING 511. MSI-X with TG3_IRQ_MAX_VECS 5: RSS rxq_max 4,
/// txq_max 1 (TSS only on 5719/5720). Coalescing defaults LOW_RXCOL_TICKS_CLRTCKS 20 us / LOW_RXMAX_FRAMES 5,
/// LOW_TXCOL_TICKS_CLRTCKS 72 us / LOW_TXMAX_FRAMES 53, per-IRQ and stats fields 0 (5705_PLUS).
/// Pause: PAUSE_AUTONEG with rx+tx. EEE (TG3_PHYFLG_EEE_CAP on 57765 B0+): on, LPI on, 2047 us.
/// </summary>
public static class Tg3Fixture
{
    public static NicIdentity Identity(string name = "enp2s0") =>
        new(name, 0x14e4, 0x16b4, 0x106b, 0x00f6, "tg3", "0000:02:00.0");

    public static FakeNic Bcm57765(bool eeeCapable = true) => new()
    {
        Driver = new DriverInfo("tg3", "3.137", "sb", "", "0000:02:00.0", 0, 100, 7, 0, 0x6c00),
        Rings = new RingParams(RxMax: 511, RxMiniMax: 0, RxJumboMax: 0, TxMax: 511, Rx: 200, RxMini: 0, RxJumbo: 0, Tx: 511),
        Coalesce = new CoalesceParams { RxUsecs = 20, RxMaxFrames = 5, TxUsecs = 72, TxMaxFrames = 53, RxMaxFramesIrq = 5, TxMaxFramesIrq = 5 },
        CoalesceLimits = ProfileCatalog.Tg3Limits5705Plus,
        Pause = new PauseParams(true, true, true),
        Eee = eeeCapable ? new EeeParams(Supported: 0x28, Advertised: 0x28, LinkPartnerAdvertised: 0, Active: false, Enabled: true, TxLpiEnabled: true, TxLpiTimerMicroseconds: 2047) : null,
        EeeAdvertisementFixed = true,
        Channels = new ChannelParams(MaxRx: 4, MaxTx: 1, MaxOther: 0, MaxCombined: 0, Rx: 4, Tx: 1, Other: 0, Combined: 0),
        Features =
        [
            new("tx-scatter-gather", true, true, true, false),
            new("tx-checksum-ipv4", true, true, true, false),
            new("tx-checksum-ipv6", true, true, true, false),
            new("highdma", false, true, true, false),
            new("rx-vlan-hw-parse", true, true, true, false),
            new("tx-vlan-hw-insert", true, true, true, false),
            new("tx-generic-segmentation", true, true, true, false),
            new("rx-gro", true, true, true, false),
            new("rx-lro", false, false, false, false),
            new("tx-tcp-segmentation", true, true, true, false),
            new("tx-tcp6-segmentation", true, true, true, false),
            new("rx-checksum", true, true, true, false),
            new("loopback", true, false, false, false),
        ],
        Statistics = [new("rx_octets", 1234), new("tx_octets", 5678)],
        PermanentAddress = [0x00, 0x10, 0x18, 0xaa, 0xbb, 0xcc],
        CanIdentify = true,
    };

    /// <summary>An Intel 82574L as QEMU's e1000e emulates it, for "the generic profile does no harm".</summary>
    public static FakeNic E1000e() => new()
    {
        Driver = new DriverInfo("e1000e", "6.1.0", "1.8-0", "", "0000:00:02.0", 0, 60, 5, 0, 0),
        Rings = new RingParams(4096, 0, 0, 4096, 256, 0, 0, 256),
        Coalesce = new CoalesceParams { RxUsecs = 3 },
        Pause = new PauseParams(true, true, true),
        Channels = null,
        Eee = null,
        Features = [new("rx-gro", true, true, true, false), new("rx-checksum", true, true, true, false)],
    };
}
