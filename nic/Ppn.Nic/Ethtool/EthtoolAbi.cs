using System.Runtime.InteropServices;

namespace Ppn.Nic.Ethtool;

/// <summary>
/// The ethtool ioctl ABI (include/uapi/linux/ethtool.h, linux/sockios.h). Layouts are checked against the
/// kernel header's sizeof/offsetof values in EthtoolAbiLayoutTests.
/// </summary>
internal static class EthtoolAbi
{
    public const uint SIOCETHTOOL = 0x8946;

    public const uint ETHTOOL_GDRVINFO = 0x03;
    public const uint ETHTOOL_GLINK = 0x0a;
    public const uint ETHTOOL_GCOALESCE = 0x0e;
    public const uint ETHTOOL_SCOALESCE = 0x0f;
    public const uint ETHTOOL_GRINGPARAM = 0x10;
    public const uint ETHTOOL_SRINGPARAM = 0x11;
    public const uint ETHTOOL_GPAUSEPARAM = 0x12;
    public const uint ETHTOOL_SPAUSEPARAM = 0x13;
    public const uint ETHTOOL_GSTRINGS = 0x1b;
    public const uint ETHTOOL_PHYS_ID = 0x1c;
    public const uint ETHTOOL_GSTATS = 0x1d;
    public const uint ETHTOOL_GPERMADDR = 0x20;
    public const uint ETHTOOL_GSSET_INFO = 0x37;
    public const uint ETHTOOL_GFEATURES = 0x3a;
    public const uint ETHTOOL_SFEATURES = 0x3b;
    public const uint ETHTOOL_GCHANNELS = 0x3c;
    public const uint ETHTOOL_SCHANNELS = 0x3d;
    public const uint ETHTOOL_GEEE = 0x44;
    public const uint ETHTOOL_SEEE = 0x45;
    public const uint ETHTOOL_GLINKSETTINGS = 0x4c;
    public const uint ETHTOOL_SLINKSETTINGS = 0x4d;

    public const uint ETH_SS_STATS = 1;
    public const uint ETH_SS_FEATURES = 4;
    public const int ETH_GSTRING_LEN = 32;

    /// <summary>MAX_ADDR_LEN (linux/netdevice.h): the most a permanent address can be.</summary>
    public const int MAX_ADDR_LEN = 32;

    /// <summary>SCHAR_MAX: link_mode_masks_nwords is a __s8.</summary>
    public const int MaxLinkModeWords = 127;

    /// <summary>SFEATURES result bits (ethtool.h ETHTOOL_F_*).</summary>
    public const int ETHTOOL_F_UNSUPPORTED = 1 << 0;
    public const int ETHTOOL_F_WISH = 1 << 1;
    public const int ETHTOOL_F_COMPAT = 1 << 2;

    public const int IFNAMSIZ = 16;

    // Fixed headers of the variable-length requests (offsetof(..., data) in ethtool.h).
    public const int SsetInfoHeader = 16;     // cmd, reserved, u64 sset_mask, u32 data[]
    public const int GstringsHeader = 12;     // cmd, string_set, len, u8 data[]
    public const int StatsHeader = 8;         // cmd, n_stats, u64 data[]
    public const int PermAddrHeader = 8;      // cmd, size, u8 data[]
    public const int FeaturesHeader = 8;      // cmd, size, blocks[]
    public const int GetFeaturesBlock = 16;   // available, requested, active, never_changed
    public const int SetFeaturesBlock = 8;    // valid, requested
    public const int LinkSettingsHeader = 48; // sizeof(struct ethtool_link_settings)
}

/// <summary>struct ifreq on 64-bit Linux: IFNAMSIZ name, then a 24-byte union whose ifr_data we use.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct IfReq
{
    [FieldOffset(0)] public fixed byte Name[16];
    [FieldOffset(16)] public void* Data;
}

[StructLayout(LayoutKind.Explicit, Size = 196)]
internal unsafe struct EthtoolDrvinfo
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public fixed byte Driver[32];
    [FieldOffset(36)] public fixed byte Version[32];
    [FieldOffset(68)] public fixed byte FwVersion[32];
    [FieldOffset(100)] public fixed byte BusInfo[32];
    [FieldOffset(132)] public fixed byte EromVersion[32];
    [FieldOffset(164)] public fixed byte Reserved2[12];
    [FieldOffset(176)] public uint NPrivFlags;
    [FieldOffset(180)] public uint NStats;
    [FieldOffset(184)] public uint TestinfoLen;
    [FieldOffset(188)] public uint EedumpLen;
    [FieldOffset(192)] public uint RegdumpLen;
}

[StructLayout(LayoutKind.Explicit, Size = 36)]
internal struct EthtoolRingparam
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint RxMaxPending;
    [FieldOffset(8)] public uint RxMiniMaxPending;
    [FieldOffset(12)] public uint RxJumboMaxPending;
    [FieldOffset(16)] public uint TxMaxPending;
    [FieldOffset(20)] public uint RxPending;
    [FieldOffset(24)] public uint RxMiniPending;
    [FieldOffset(28)] public uint RxJumboPending;
    [FieldOffset(32)] public uint TxPending;
}

/// <summary>struct ethtool_coalesce: cmd followed by 22 __u32 fields, in header order.</summary>
[StructLayout(LayoutKind.Explicit, Size = 92)]
internal struct EthtoolCoalesce
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint RxCoalesceUsecs;
    [FieldOffset(8)] public uint RxMaxCoalescedFrames;
    [FieldOffset(12)] public uint RxCoalesceUsecsIrq;
    [FieldOffset(16)] public uint RxMaxCoalescedFramesIrq;
    [FieldOffset(20)] public uint TxCoalesceUsecs;
    [FieldOffset(24)] public uint TxMaxCoalescedFrames;
    [FieldOffset(28)] public uint TxCoalesceUsecsIrq;
    [FieldOffset(32)] public uint TxMaxCoalescedFramesIrq;
    [FieldOffset(36)] public uint StatsBlockCoalesceUsecs;
    [FieldOffset(40)] public uint UseAdaptiveRxCoalesce;
    [FieldOffset(44)] public uint UseAdaptiveTxCoalesce;
    [FieldOffset(48)] public uint PktRateLow;
    [FieldOffset(52)] public uint RxCoalesceUsecsLow;
    [FieldOffset(56)] public uint RxMaxCoalescedFramesLow;
    [FieldOffset(60)] public uint TxCoalesceUsecsLow;
    [FieldOffset(64)] public uint TxMaxCoalescedFramesLow;
    [FieldOffset(68)] public uint PktRateHigh;
    [FieldOffset(72)] public uint RxCoalesceUsecsHigh;
    [FieldOffset(76)] public uint RxMaxCoalescedFramesHigh;
    [FieldOffset(80)] public uint TxCoalesceUsecsHigh;
    [FieldOffset(84)] public uint TxMaxCoalescedFramesHigh;
    [FieldOffset(88)] public uint RateSampleInterval;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct EthtoolPauseparam
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint Autoneg;
    [FieldOffset(8)] public uint RxPause;
    [FieldOffset(12)] public uint TxPause;
}

[StructLayout(LayoutKind.Explicit, Size = 36)]
internal struct EthtoolChannels
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint MaxRx;
    [FieldOffset(8)] public uint MaxTx;
    [FieldOffset(12)] public uint MaxOther;
    [FieldOffset(16)] public uint MaxCombined;
    [FieldOffset(20)] public uint RxCount;
    [FieldOffset(24)] public uint TxCount;
    [FieldOffset(28)] public uint OtherCount;
    [FieldOffset(32)] public uint CombinedCount;
}

[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct EthtoolEee
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint Supported;
    [FieldOffset(8)] public uint Advertised;
    [FieldOffset(12)] public uint LpAdvertised;
    [FieldOffset(16)] public uint EeeActive;
    [FieldOffset(20)] public uint EeeEnabled;
    [FieldOffset(24)] public uint TxLpiEnabled;
    [FieldOffset(28)] public uint TxLpiTimer;
    [FieldOffset(32)] public uint Reserved0;
    [FieldOffset(36)] public uint Reserved1;
}

/// <summary>The fixed head of struct ethtool_link_settings; three link-mode bitmaps of nwords __u32 follow it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct EthtoolLinkSettings
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint Speed;
    [FieldOffset(8)] public byte Duplex;
    [FieldOffset(9)] public byte Port;
    [FieldOffset(10)] public byte PhyAddress;
    [FieldOffset(11)] public byte Autoneg;
    [FieldOffset(12)] public byte MdioSupport;
    [FieldOffset(13)] public byte EthTpMdix;
    [FieldOffset(14)] public byte EthTpMdixCtrl;
    [FieldOffset(15)] public sbyte LinkModeMasksNwords;
    [FieldOffset(16)] public byte Transceiver;
    [FieldOffset(17)] public byte MasterSlaveCfg;
    [FieldOffset(18)] public byte MasterSlaveState;
    [FieldOffset(19)] public byte RateMatching;
}

/// <summary>struct ethtool_value: PHYS_ID takes the blink time in seconds in data; GLINK answers the link state in it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct EthtoolValue
{
    [FieldOffset(0)] public uint Cmd;
    [FieldOffset(4)] public uint Data;
}
