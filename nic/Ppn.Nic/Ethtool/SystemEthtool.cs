using System.Runtime.InteropServices;
using System.Text;
using Ppn.Linux;
using Ppn.Linux.Interop;
using static Ppn.Nic.Ethtool.EthtoolAbi;

namespace Ppn.Nic.Ethtool;

/// <summary>
/// <see cref="IEthtool"/> over ioctl(SIOCETHTOOL) on an AF_INET datagram socket. The socket is opened per
/// request, so a request runs in the network namespace of the calling thread (tests rely on this).
/// Variable-length replies are parsed from one buffer with spans; the ABI is host-endian, hence
/// MemoryMarshal rather than BinaryPrimitives.
/// </summary>
public sealed unsafe class SystemEthtool : IEthtool
{

    public DriverInfo GetDriverInfo(string iface)
    {
        var d = new EthtoolDrvinfo { Cmd = ETHTOOL_GDRVINFO };
        Call(iface, &d, "GDRVINFO");
        return new DriverInfo(
            CString(new ReadOnlySpan<byte>(d.Driver, 32)),
            CString(new ReadOnlySpan<byte>(d.Version, 32)),
            CString(new ReadOnlySpan<byte>(d.FwVersion, 32)),
            CString(new ReadOnlySpan<byte>(d.EromVersion, 32)),
            CString(new ReadOnlySpan<byte>(d.BusInfo, 32)),
            d.NPrivFlags, d.NStats, d.TestinfoLen, d.EedumpLen, d.RegdumpLen);
    }

    public LinkSettings GetLinkSettings(string iface)
    {
        // The nwords handshake (ethtool.h, "ETHTOOL_GLINKSETTINGS"): ask with 0 words, the kernel answers
        // with -N and nothing else; ask again with N words.
        var head = new EthtoolLinkSettings { Cmd = ETHTOOL_GLINKSETTINGS };
        Call(iface, &head, "GLINKSETTINGS");
        int nwords = -head.LinkModeMasksNwords;
        if (head.LinkModeMasksNwords >= 0 || nwords > MaxLinkModeWords)
        {
            throw new InvalidDataException($"GLINKSETTINGS({iface}): the kernel did not answer the nwords handshake (got {head.LinkModeMasksNwords})");
        }
        var buffer = new byte[LinkSettingsHeader + 3 * nwords * 4];
        head = new EthtoolLinkSettings { Cmd = ETHTOOL_GLINKSETTINGS, LinkModeMasksNwords = (sbyte)nwords };
        MemoryMarshal.Write(buffer, in head);
        Call(iface, buffer, "GLINKSETTINGS");
        head = MemoryMarshal.Read<EthtoolLinkSettings>(buffer);
        if (head.LinkModeMasksNwords != nwords)
        {
            throw new InvalidDataException($"GLINKSETTINGS({iface}): link-mode word count changed during the handshake");
        }
        var masks = MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(LinkSettingsHeader));
        return new LinkSettings(
            head.Speed, head.Duplex, head.Port, head.PhyAddress, head.Autoneg != 0, head.MdioSupport,
            head.EthTpMdix, head.EthTpMdixCtrl, head.Transceiver, head.MasterSlaveCfg, head.MasterSlaveState,
            head.RateMatching,
            new LinkModes(masks[..nwords]), new LinkModes(masks.Slice(nwords, nwords)), new LinkModes(masks.Slice(2 * nwords, nwords)));
    }

    public void SetLinkSettings(string iface, LinkSettings s)
    {
        int nwords = s.Supported.WordCount;
        if (nwords == 0 || nwords > MaxLinkModeWords || s.Advertising.WordCount != nwords)
        {
            throw new ArgumentException("link settings must come from GetLinkSettings (same link-mode word count)", nameof(s));
        }
        var buffer = new byte[LinkSettingsHeader + 3 * nwords * 4];
        var head = new EthtoolLinkSettings
        {
            Cmd = ETHTOOL_SLINKSETTINGS,
            Speed = s.SpeedMbps,
            Duplex = s.Duplex,
            Port = s.Port,
            PhyAddress = s.PhyAddress,
            Autoneg = s.Autoneg ? (byte)1 : (byte)0,
            EthTpMdixCtrl = s.MdixControl,
            LinkModeMasksNwords = (sbyte)nwords,
            MasterSlaveCfg = s.MasterSlaveConfig,
        };
        MemoryMarshal.Write(buffer, in head);
        var masks = MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(LinkSettingsHeader));
        s.Supported.Words.CopyTo(masks);
        s.Advertising.Words.CopyTo(masks[nwords..]);
        Call(iface, buffer, "SLINKSETTINGS");
    }

    public RingParams GetRingParams(string iface)
    {
        var r = new EthtoolRingparam { Cmd = ETHTOOL_GRINGPARAM };
        Call(iface, &r, "GRINGPARAM");
        return new RingParams(r.RxMaxPending, r.RxMiniMaxPending, r.RxJumboMaxPending, r.TxMaxPending,
            r.RxPending, r.RxMiniPending, r.RxJumboPending, r.TxPending);
    }

    public void SetRingParams(string iface, RingParams rings)
    {
        var r = new EthtoolRingparam
        {
            Cmd = ETHTOOL_SRINGPARAM,
            RxMaxPending = rings.RxMax, RxMiniMaxPending = rings.RxMiniMax, RxJumboMaxPending = rings.RxJumboMax, TxMaxPending = rings.TxMax,
            RxPending = rings.Rx, RxMiniPending = rings.RxMini, RxJumboPending = rings.RxJumbo, TxPending = rings.Tx,
        };
        Call(iface, &r, "SRINGPARAM");
    }

    public CoalesceParams GetCoalesce(string iface)
    {
        var c = new EthtoolCoalesce { Cmd = ETHTOOL_GCOALESCE };
        Call(iface, &c, "GCOALESCE");
        return new CoalesceParams
        {
            RxUsecs = c.RxCoalesceUsecs, RxMaxFrames = c.RxMaxCoalescedFrames,
            RxUsecsIrq = c.RxCoalesceUsecsIrq, RxMaxFramesIrq = c.RxMaxCoalescedFramesIrq,
            TxUsecs = c.TxCoalesceUsecs, TxMaxFrames = c.TxMaxCoalescedFrames,
            TxUsecsIrq = c.TxCoalesceUsecsIrq, TxMaxFramesIrq = c.TxMaxCoalescedFramesIrq,
            StatsBlockUsecs = c.StatsBlockCoalesceUsecs,
            AdaptiveRx = c.UseAdaptiveRxCoalesce != 0, AdaptiveTx = c.UseAdaptiveTxCoalesce != 0,
            PacketRateLow = c.PktRateLow, RxUsecsLow = c.RxCoalesceUsecsLow, RxMaxFramesLow = c.RxMaxCoalescedFramesLow,
            TxUsecsLow = c.TxCoalesceUsecsLow, TxMaxFramesLow = c.TxMaxCoalescedFramesLow,
            PacketRateHigh = c.PktRateHigh, RxUsecsHigh = c.RxCoalesceUsecsHigh, RxMaxFramesHigh = c.RxMaxCoalescedFramesHigh,
            TxUsecsHigh = c.TxCoalesceUsecsHigh, TxMaxFramesHigh = c.TxMaxCoalescedFramesHigh,
            RateSampleIntervalSeconds = c.RateSampleInterval,
        };
    }

    public void SetCoalesce(string iface, CoalesceParams p)
    {
        var c = new EthtoolCoalesce
        {
            Cmd = ETHTOOL_SCOALESCE,
            RxCoalesceUsecs = p.RxUsecs, RxMaxCoalescedFrames = p.RxMaxFrames,
            RxCoalesceUsecsIrq = p.RxUsecsIrq, RxMaxCoalescedFramesIrq = p.RxMaxFramesIrq,
            TxCoalesceUsecs = p.TxUsecs, TxMaxCoalescedFrames = p.TxMaxFrames,
            TxCoalesceUsecsIrq = p.TxUsecsIrq, TxMaxCoalescedFramesIrq = p.TxMaxFramesIrq,
            StatsBlockCoalesceUsecs = p.StatsBlockUsecs,
            UseAdaptiveRxCoalesce = p.AdaptiveRx ? 1u : 0u, UseAdaptiveTxCoalesce = p.AdaptiveTx ? 1u : 0u,
            PktRateLow = p.PacketRateLow, RxCoalesceUsecsLow = p.RxUsecsLow, RxMaxCoalescedFramesLow = p.RxMaxFramesLow,
            TxCoalesceUsecsLow = p.TxUsecsLow, TxMaxCoalescedFramesLow = p.TxMaxFramesLow,
            PktRateHigh = p.PacketRateHigh, RxCoalesceUsecsHigh = p.RxUsecsHigh, RxMaxCoalescedFramesHigh = p.RxMaxFramesHigh,
            TxCoalesceUsecsHigh = p.TxUsecsHigh, TxMaxCoalescedFramesHigh = p.TxMaxFramesHigh,
            RateSampleInterval = p.RateSampleIntervalSeconds,
        };
        Call(iface, &c, "SCOALESCE");
    }

    public PauseParams GetPause(string iface)
    {
        var p = new EthtoolPauseparam { Cmd = ETHTOOL_GPAUSEPARAM };
        Call(iface, &p, "GPAUSEPARAM");
        return new PauseParams(p.Autoneg != 0, p.RxPause != 0, p.TxPause != 0);
    }

    public void SetPause(string iface, PauseParams pause)
    {
        var p = new EthtoolPauseparam
        {
            Cmd = ETHTOOL_SPAUSEPARAM,
            Autoneg = pause.Autoneg ? 1u : 0u, RxPause = pause.Rx ? 1u : 0u, TxPause = pause.Tx ? 1u : 0u,
        };
        Call(iface, &p, "SPAUSEPARAM");
    }

    public EeeParams GetEee(string iface)
    {
        var e = new EthtoolEee { Cmd = ETHTOOL_GEEE };
        Call(iface, &e, "GEEE");
        return new EeeParams(e.Supported, e.Advertised, e.LpAdvertised, e.EeeActive != 0, e.EeeEnabled != 0, e.TxLpiEnabled != 0, e.TxLpiTimer);
    }

    public void SetEee(string iface, EeeParams eee)
    {
        var e = new EthtoolEee
        {
            Cmd = ETHTOOL_SEEE,
            Supported = eee.Supported, Advertised = eee.Advertised, LpAdvertised = eee.LinkPartnerAdvertised,
            EeeActive = eee.Active ? 1u : 0u, EeeEnabled = eee.Enabled ? 1u : 0u, TxLpiEnabled = eee.TxLpiEnabled ? 1u : 0u,
            TxLpiTimer = eee.TxLpiTimerMicroseconds,
        };
        Call(iface, &e, "SEEE");
    }

    public ChannelParams GetChannels(string iface)
    {
        var c = new EthtoolChannels { Cmd = ETHTOOL_GCHANNELS };
        Call(iface, &c, "GCHANNELS");
        return new ChannelParams(c.MaxRx, c.MaxTx, c.MaxOther, c.MaxCombined, c.RxCount, c.TxCount, c.OtherCount, c.CombinedCount);
    }

    public void SetChannels(string iface, ChannelParams channels)
    {
        var c = new EthtoolChannels
        {
            Cmd = ETHTOOL_SCHANNELS,
            MaxRx = channels.MaxRx, MaxTx = channels.MaxTx, MaxOther = channels.MaxOther, MaxCombined = channels.MaxCombined,
            RxCount = channels.Rx, TxCount = channels.Tx, OtherCount = channels.Other, CombinedCount = channels.Combined,
        };
        Call(iface, &c, "SCHANNELS");
    }

    public IReadOnlyList<Feature> GetFeatures(string iface)
    {
        var names = GetStrings(iface, ETH_SS_FEATURES);
        int blocks = (names.Count + 31) / 32;
        var buffer = new byte[FeaturesHeader + blocks * GetFeaturesBlock];
        Header(buffer, ETHTOOL_GFEATURES, (uint)blocks);
        Call(iface, buffer, "GFEATURES");
        return DecodeFeatures(names, MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(FeaturesHeader)));
    }

    /// <summary>
    /// Features from ETH_SS_FEATURES names and GFEATURES blocks (available, requested, active, never-changed per
    /// 32 bits). Bits the kernel leaves unnamed (holes in netdev_features_strings, an empty string) are not
    /// features anyone can see or set by name: they are dropped.
    /// </summary>
    internal static IReadOnlyList<Feature> DecodeFeatures(IReadOnlyList<string> names, ReadOnlySpan<uint> words)
    {
        var features = new List<Feature>(names.Count);
        for (int i = 0; i < names.Count && (i / 32 * 4) + 4 <= words.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]))
            {
                continue;
            }
            var block = words.Slice(i / 32 * 4, 4);
            uint bit = 1u << (i % 32);
            features.Add(new Feature(names[i], (block[0] & bit) != 0, (block[1] & bit) != 0, (block[2] & bit) != 0, (block[3] & bit) != 0));
        }
        return features;
    }

    public FeatureSetResult SetFeatures(string iface, IReadOnlyList<FeatureRequest> changes)
    {
        var names = GetStrings(iface, ETH_SS_FEATURES);
        int blocks = (names.Count + 31) / 32;
        var buffer = new byte[FeaturesHeader + blocks * SetFeaturesBlock];
        Header(buffer, ETHTOOL_SFEATURES, (uint)blocks);
        var words = MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(FeaturesHeader));
        foreach (var change in changes)
        {
            int index = IndexOf(names, change.Name);
            if (index < 0)
            {
                throw new EthtoolException($"SFEATURES {change.Name}", iface, (int)Errno.EINVAL);
            }
            uint bit = 1u << (index % 32);
            words[index / 32 * 2] |= bit;
            if (change.Enable)
            {
                words[index / 32 * 2 + 1] |= bit;
            }
        }
        return (FeatureSetResult)(Call(iface, buffer, "SFEATURES") & (ETHTOOL_F_UNSUPPORTED | ETHTOOL_F_WISH | ETHTOOL_F_COMPAT));
    }

    public IReadOnlyList<NicStatistic> GetStatistics(string iface)
    {
        var names = GetStrings(iface, ETH_SS_STATS);
        var buffer = new byte[StatsHeader + names.Count * 8];
        Header(buffer, ETHTOOL_GSTATS, (uint)names.Count);
        Call(iface, buffer, "GSTATS");
        int n = Math.Min((int)MemoryMarshal.Read<uint>(buffer.AsSpan(4)), names.Count);
        var values = MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan(StatsHeader));
        var stats = new NicStatistic[n];
        for (int i = 0; i < n; i++)
        {
            stats[i] = new NicStatistic(names[i], values[i]);
        }
        return stats;
    }

    public void IdentifyPort(string iface, uint seconds)
    {
        // 0 would mean "until interrupted" (ethtool.h): never ask for an unbounded blink.
        if (seconds is 0 or > 60)
        {
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "identify blinks for 1..60 seconds");
        }
        var v = new EthtoolValue { Cmd = ETHTOOL_PHYS_ID, Data = seconds };
        Call(iface, &v, "PHYS_ID");
    }

    public byte[] GetPermanentAddress(string iface)
    {
        var buffer = new byte[PermAddrHeader + MAX_ADDR_LEN];
        Header(buffer, ETHTOOL_GPERMADDR, MAX_ADDR_LEN);
        Call(iface, buffer, "GPERMADDR");
        int size = (int)Math.Min(MemoryMarshal.Read<uint>(buffer.AsSpan(4)), (uint)MAX_ADDR_LEN);
        return buffer.AsSpan(PermAddrHeader, size).ToArray();
    }

    public bool GetLink(string iface)
    {
        var v = new EthtoolValue { Cmd = ETHTOOL_GLINK };
        Call(iface, &v, "GLINK");
        return v.Data != 0;
    }

    /// <summary>GSSET_INFO for one string set, then GSTRINGS; an empty list when the driver has no such set.</summary>
    internal IReadOnlyList<string> GetStrings(string iface, uint stringSet)
    {
        var info = new byte[SsetInfoHeader + 4];
        MemoryMarshal.Write(info, ETHTOOL_GSSET_INFO);
        MemoryMarshal.Write(info.AsSpan(8), 1UL << (int)stringSet);
        try
        {
            Call(iface, info, "GSSET_INFO");
        }
        catch (EthtoolException e) when (e.Kind == EthtoolErrorKind.NotSupported)
        {
            return [];
        }
        if ((MemoryMarshal.Read<ulong>(info.AsSpan(8)) & (1UL << (int)stringSet)) == 0)
        {
            return [];
        }
        uint count = MemoryMarshal.Read<uint>(info.AsSpan(SsetInfoHeader));
        if (count == 0)
        {
            return [];
        }
        if (count > 1 << 16)
        {
            throw new InvalidDataException($"GSSET_INFO({iface}): implausible string count {count}");
        }
        var buffer = new byte[GstringsHeader + (int)count * ETH_GSTRING_LEN];
        Header(buffer, ETHTOOL_GSTRINGS, stringSet);
        MemoryMarshal.Write(buffer.AsSpan(8), count);
        Call(iface, buffer, "GSTRINGS");
        return ParseStrings(buffer, count);
    }

    /// <summary>GSTRINGS reply: len fixed-width (ETH_GSTRING_LEN) NUL-padded names after the 12-byte header.</summary>
    internal static IReadOnlyList<string> ParseStrings(ReadOnlySpan<byte> reply, uint asked)
    {
        if (reply.Length < GstringsHeader)
        {
            return [];
        }
        uint len = Math.Min(MemoryMarshal.Read<uint>(reply[8..]), asked);
        len = Math.Min(len, (uint)((reply.Length - GstringsHeader) / ETH_GSTRING_LEN));
        var names = new string[len];
        for (int i = 0; i < len; i++)
        {
            names[i] = CString(reply.Slice(GstringsHeader + i * ETH_GSTRING_LEN, ETH_GSTRING_LEN));
        }
        return names;
    }

    internal static string CString(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name) return i;
        }
        return -1;
    }

    private static void Header(Span<byte> buffer, uint command, uint second)
    {
        MemoryMarshal.Write(buffer, command);
        MemoryMarshal.Write(buffer[4..], second);
    }

    private static int Call(string iface, Span<byte> buffer, string command)
    {
        fixed (byte* p = buffer)
        {
            return Call(iface, p, command);
        }
    }

    private static int Call(string iface, void* data, string command)
    {
        if (iface.Length is 0 or >= IFNAMSIZ || iface.Contains('/') || iface.Contains('\0'))
        {
            throw new ArgumentException($"interface name '{iface}' is not 1..15 characters", nameof(iface));
        }
        int s = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        SyscallException.ThrowIfFailed(s, "socket", "AF_INET/SOCK_DGRAM (for SIOCETHTOOL)");
        using var socket = new SafeFd(s);
        var ifr = new IfReq { Data = data };
        Encoding.ASCII.GetBytes(iface, new Span<byte>(ifr.Name, IFNAMSIZ - 1));
        while (true)
        {
            int rc = LibC.ioctl(socket.Fd, SIOCETHTOOL, &ifr);
            if (rc >= 0)
            {
                return rc;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != (int)Errno.EINTR)
            {
                throw new EthtoolException(command, iface, errno);
            }
        }
    }
}
