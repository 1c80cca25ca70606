using System.Runtime.CompilerServices;
using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tests;

/// <summary>
/// Sizes and offsets from include/uapi/linux/ethtool.h, measured with sizeof/offsetof against the Debian 12
/// linux-libc-dev header (x86-64); ifreq from net/if.h.
/// </summary>
public unsafe class EthtoolAbiLayoutTests
{
    [Fact]
    public void Struct_sizes_match_the_kernel_header()
    {
        Assert.Equal(196, Unsafe.SizeOf<EthtoolDrvinfo>());
        Assert.Equal(36, Unsafe.SizeOf<EthtoolRingparam>());
        Assert.Equal(92, Unsafe.SizeOf<EthtoolCoalesce>());
        Assert.Equal(16, Unsafe.SizeOf<EthtoolPauseparam>());
        Assert.Equal(36, Unsafe.SizeOf<EthtoolChannels>());
        Assert.Equal(40, Unsafe.SizeOf<EthtoolEee>());
        Assert.Equal(48, Unsafe.SizeOf<EthtoolLinkSettings>());
        Assert.Equal(8, Unsafe.SizeOf<EthtoolValue>());
        Assert.Equal(40, Unsafe.SizeOf<IfReq>());
    }

    [Fact]
    public void Drvinfo_fields_sit_at_the_header_offsets()
    {
        var d = default(EthtoolDrvinfo);
        byte* b = (byte*)&d;
        Assert.Equal(4, (int)(d.Driver - b));
        Assert.Equal(36, (int)(d.Version - b));
        Assert.Equal(68, (int)(d.FwVersion - b));
        Assert.Equal(100, (int)(d.BusInfo - b));
        Assert.Equal(132, (int)(d.EromVersion - b));
        Assert.Equal(176, (int)((byte*)&d.NPrivFlags - b));
        Assert.Equal(180, (int)((byte*)&d.NStats - b));
        Assert.Equal(184, (int)((byte*)&d.TestinfoLen - b));
        Assert.Equal(188, (int)((byte*)&d.EedumpLen - b));
        Assert.Equal(192, (int)((byte*)&d.RegdumpLen - b));
    }

    [Fact]
    public void Ring_coalesce_channel_eee_and_link_fields_sit_at_the_header_offsets()
    {
        var r = default(EthtoolRingparam);
        Assert.Equal(20, (int)((byte*)&r.RxPending - (byte*)&r));
        Assert.Equal(32, (int)((byte*)&r.TxPending - (byte*)&r));

        var c = default(EthtoolCoalesce);
        Assert.Equal(4, (int)((byte*)&c.RxCoalesceUsecs - (byte*)&c));
        Assert.Equal(40, (int)((byte*)&c.UseAdaptiveRxCoalesce - (byte*)&c));
        Assert.Equal(88, (int)((byte*)&c.RateSampleInterval - (byte*)&c));

        var ch = default(EthtoolChannels);
        Assert.Equal(32, (int)((byte*)&ch.CombinedCount - (byte*)&ch));

        var e = default(EthtoolEee);
        Assert.Equal(20, (int)((byte*)&e.EeeEnabled - (byte*)&e));
        Assert.Equal(28, (int)((byte*)&e.TxLpiTimer - (byte*)&e));

        var l = default(EthtoolLinkSettings);
        Assert.Equal(15, (int)((byte*)&l.LinkModeMasksNwords - (byte*)&l));
        Assert.Equal(16, (int)((byte*)&l.Transceiver - (byte*)&l));

        var ifr = default(IfReq);
        Assert.Equal(16, (int)((byte*)&ifr.Data - (byte*)&ifr));
    }

    [Fact]
    public void Variable_length_headers_and_command_numbers_match_the_kernel_header()
    {
        Assert.Equal(16, EthtoolAbi.SsetInfoHeader);
        Assert.Equal(12, EthtoolAbi.GstringsHeader);
        Assert.Equal(8, EthtoolAbi.StatsHeader);
        Assert.Equal(8, EthtoolAbi.PermAddrHeader);
        Assert.Equal(8, EthtoolAbi.FeaturesHeader);
        Assert.Equal(16, EthtoolAbi.GetFeaturesBlock);
        Assert.Equal(8, EthtoolAbi.SetFeaturesBlock);
        Assert.Equal(0x8946u, EthtoolAbi.SIOCETHTOOL);
        Assert.Equal(0x4cu, EthtoolAbi.ETHTOOL_GLINKSETTINGS);
        Assert.Equal(0x44u, EthtoolAbi.ETHTOOL_GEEE);
        Assert.Equal(0x3cu, EthtoolAbi.ETHTOOL_GCHANNELS);
        Assert.Equal(0x37u, EthtoolAbi.ETHTOOL_GSSET_INFO);
    }

    [Fact]
    public void A_gstrings_reply_that_claims_more_than_it_holds_is_cut_to_the_buffer()
    {
        var reply = new byte[12 + 32 + 5];
        BitConverter.TryWriteBytes(reply.AsSpan(8), 1000u);
        "rx-gro"u8.CopyTo(reply.AsSpan(12));
        var names = SystemEthtool.ParseStrings(reply, asked: 1000);
        Assert.Equal(["rx-gro"], names);
        Assert.Empty(SystemEthtool.ParseStrings(new byte[3], 5));
    }

    [Fact]
    public void A_name_field_without_a_terminator_is_read_to_its_end()
    {
        Assert.Equal("abcd", SystemEthtool.CString("abcd"u8));
        Assert.Equal("ab", SystemEthtool.CString("ab\0cd"u8));
    }

    [Fact]
    public void Unnamed_feature_bits_are_not_features()
    {
        // Bit 0 "rx-checksum" active, bit 1 unnamed (a hole in netdev_features_strings) but set, bit 2 "tso" off.
        uint[] words = [0b111, 0, 0b011, 0];
        var features = SystemEthtool.DecodeFeatures(["rx-checksum", "", "tso"], words);
        Assert.Equal(["rx-checksum", "tso"], features.Select(f => f.Name));
        Assert.True(features[0].Active);
        Assert.False(features[1].Active);
        Assert.DoesNotContain(SystemEthtool.DecodeFeatures(["", " ", "x"], words), f => f.Name.Trim().Length == 0);
    }
}
