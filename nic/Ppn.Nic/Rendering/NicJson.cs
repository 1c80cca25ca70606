using System.Text.Json;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Rendering;

/// <summary>
/// The documents of `ppn nic show|tune|stats --json`: `show` and `tune` are typed records (<see cref="NicShowDocument"/>,
/// <see cref="NicTuneDocument"/>) the CLI serialises by source generation; names are stable (the hw-tests scenarios and
/// the control plane assert on them). `stats` stays written by hand: a driver may name two statistics alike, and the
/// document mirrors `ethtool -S` rather than dropping or renaming one.
/// </summary>
public static class NicJson
{
    public static NicShowDocument Show(IReadOnlyList<NicSnapshot> snapshots) => new([.. snapshots.Select(s =>
    {
        var state = State(s.State);
        return new NicShowPart(s.Nic.Name, s.Nic.PciId, SubsystemId(s.Nic), s.Nic.PciAddress, Driver(s.State.Driver),
            s.PermanentAddress is { Length: > 0 } mac ? FormatAddress(mac) : null, Link(s.Link),
            state.Rings, state.Coalesce, state.Pause, state.Eee, state.Channels, state.Features);
    })]);

    public static NicTuneDocument Tune(IReadOnlyList<TuneResult> results) => new([.. results.Select(r => new NicTunePart(
        r.Nic.Name, r.Nic.PciId, SubsystemId(r.Nic), r.Nic.PciAddress, r.Profile, StatusName(r.Status), r.Error,
        [.. (r.Plan?.Changes ?? []).Select(c => new NicChangePart(c.Setting, r.Applied.Contains(c), [.. c.Fields.Select(f => new NicFieldPart(f.Field, f.Before, f.After))]))],
        [.. r.Plan?.Notes ?? []],
        [.. r.RollbackErrors],
        r.After is { } after ? State(after) : null))]);

    // By hand, not a typed document: ETH_SS_STATS names need not be unique and a dictionary would drop one of two alike.
    public static void WriteStats(Utf8JsonWriter w, IReadOnlyList<(NicIdentity Nic, IReadOnlyList<NicStatistic> Stats)> nics)
    {
        w.WriteStartObject();
        w.WriteStartArray("nics");
        foreach (var (nic, stats) in nics)
        {
            w.WriteStartObject();
            w.WriteString("interface", nic.Name);
            w.WriteStartObject("statistics");
            foreach (var s in stats)
            {
                w.WriteNumber(s.Name, s.Value);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static string StatusName(TuneStatus status) => status switch
    {
        TuneStatus.NothingToDo => "nothing-to-do",
        TuneStatus.Planned => "planned",
        TuneStatus.Applied => "applied",
        TuneStatus.RolledBack => "rolled-back",
        TuneStatus.RollbackIncomplete => "rollback-incomplete",
        _ => "failed",
    };

    public static string FormatAddress(ReadOnlySpan<byte> address) => string.Join(':', address.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    private static string? SubsystemId(NicIdentity nic) =>
        nic.SubsystemVendor is { } sv && nic.SubsystemDevice is { } sd ? $"{sv:x4}:{sd:x4}" : null;

    private static NicDriverPart Driver(DriverInfo d) => new(d.Driver, d.Version, d.FirmwareVersion, d.BusInfo);

    private static NicLinkPart? Link(LinkSettings? link) => link is null ? null : new NicLinkPart(
        link.SpeedMbps == LinkSettings.SpeedUnknown || link.SpeedMbps == 0 ? null : link.SpeedMbps,
        link.DuplexName, link.PortName, link.Autoneg,
        link.Supported.BitNames(), link.Advertising.BitNames(), link.LinkPartnerAdvertising.BitNames());

    /// <summary>The tunable state (also the "state" read back after `tune`).</summary>
    private static NicStatePart State(NicState s)
    {
        var features = new Dictionary<string, NicFeaturePart>(StringComparer.Ordinal);
        foreach (var f in s.Features)
        {
            features[f.Name] = new NicFeaturePart(f.Active, f.Requested, f.Fixed);
        }
        return new NicStatePart(
            s.Rings is { } r ? new NicRingsPart(r.Rx, r.RxMax, r.RxMini, r.RxMiniMax, r.RxJumbo, r.RxJumboMax, r.Tx, r.TxMax) : null,
            s.Coalesce is { } c ? new NicCoalescePart(c.RxUsecs, c.RxMaxFrames, c.RxUsecsIrq, c.RxMaxFramesIrq, c.TxUsecs, c.TxMaxFrames,
                c.TxUsecsIrq, c.TxMaxFramesIrq, c.StatsBlockUsecs, c.AdaptiveRx, c.AdaptiveTx) : null,
            s.Pause is { } p ? new NicPausePart(p.Autoneg, p.Rx, p.Tx) : null,
            s.Eee is { } e ? new NicEeePart(e.Enabled, e.Active, e.TxLpiEnabled, e.TxLpiTimerMicroseconds, e.Supported, e.Advertised, e.LinkPartnerAdvertised) : null,
            s.Channels is { } ch ? new NicChannelsPart(ch.Rx, ch.MaxRx, ch.Tx, ch.MaxTx, ch.Other, ch.MaxOther, ch.Combined, ch.MaxCombined) : null,
            features);
    }
}

/// <summary>`ppn nic show --json`.</summary>
public sealed record NicShowDocument(IReadOnlyList<NicShowPart> Nics);

public sealed record NicShowPart(
    string Interface, string? PciId, string? SubsystemId, string? PciAddress, NicDriverPart Driver, string? PermanentAddress,
    NicLinkPart? Link, NicRingsPart? Rings, NicCoalescePart? Coalesce, NicPausePart? Pause, NicEeePart? Eee, NicChannelsPart? Channels,
    IReadOnlyDictionary<string, NicFeaturePart> Features);

/// <summary>`ppn nic tune --json` (also `--dry-run`).</summary>
public sealed record NicTuneDocument(IReadOnlyList<NicTunePart> Results);

public sealed record NicTunePart(
    string Interface, string? PciId, string? SubsystemId, string? PciAddress, string Profile, string Status, string? Error,
    IReadOnlyList<NicChangePart> Changes, IReadOnlyList<string> Notes, IReadOnlyList<string> RollbackErrors, NicStatePart? State);

public sealed record NicChangePart(string Setting, bool Applied, IReadOnlyList<NicFieldPart> Fields);

public sealed record NicFieldPart(string Field, string Before, string After);

public sealed record NicDriverPart(string Name, string Version, string Firmware, string BusInfo);

public sealed record NicLinkPart(uint? SpeedMbps, string Duplex, string Port, bool Autoneg, IReadOnlyList<string> Supported, IReadOnlyList<string> Advertising, IReadOnlyList<string> LinkPartner);

public sealed record NicStatePart(NicRingsPart? Rings, NicCoalescePart? Coalesce, NicPausePart? Pause, NicEeePart? Eee, NicChannelsPart? Channels,
    IReadOnlyDictionary<string, NicFeaturePart> Features);

public sealed record NicRingsPart(uint Rx, uint RxMax, uint RxMini, uint RxMiniMax, uint RxJumbo, uint RxJumboMax, uint Tx, uint TxMax);

public sealed record NicCoalescePart(uint RxUsecs, uint RxFrames, uint RxUsecsIrq, uint RxFramesIrq, uint TxUsecs, uint TxFrames,
    uint TxUsecsIrq, uint TxFramesIrq, uint StatsBlockUsecs, bool AdaptiveRx, bool AdaptiveTx);

public sealed record NicPausePart(bool Autoneg, bool Rx, bool Tx);

public sealed record NicEeePart(bool Enabled, bool Active, bool TxLpi, uint TxLpiTimerUsecs, uint Supported, uint Advertised, uint LinkPartner);

public sealed record NicChannelsPart(uint Rx, uint RxMax, uint Tx, uint TxMax, uint Other, uint OtherMax, uint Combined, uint CombinedMax);

public sealed record NicFeaturePart(bool Active, bool Requested, bool Fixed);

/// <summary>
/// The source-generated serialisers of the NIC documents; the CLI constructs one with the tools' options
/// (Ppn.Cli.CliJson.SerializerOptions: the relaxed encoder), <see cref="JsonSerializerContext.Default"/> is camelCase and indented.
/// </summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(NicShowDocument))]
[System.Text.Json.Serialization.JsonSerializable(typeof(NicTuneDocument))]
public sealed partial class NicJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
