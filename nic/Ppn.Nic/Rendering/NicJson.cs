using System.Text.Json;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Rendering;

/// <summary>
/// The JSON of `ppn nic show|tune|stats --json`, written with Utf8JsonWriter (AOT: no reflection).
/// Names are stable: the hw-tests scenarios and the control plane assert on them.
/// </summary>
public static class NicJson
{
    public static void WriteShow(Utf8JsonWriter w, IReadOnlyList<NicSnapshot> snapshots)
    {
        w.WriteStartObject();
        w.WriteStartArray("nics");
        foreach (var s in snapshots)
        {
            w.WriteStartObject();
            WriteIdentity(w, s.Nic);
            WriteDriver(w, s.State.Driver);
            if (s.PermanentAddress is { Length: > 0 } mac)
            {
                w.WriteString("permanentAddress", FormatAddress(mac));
            }
            else
            {
                w.WriteNull("permanentAddress");
            }
            WriteLink(w, s.Link);
            WriteState(w, s.State);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WriteTune(Utf8JsonWriter w, IReadOnlyList<TuneResult> results)
    {
        w.WriteStartObject();
        w.WriteStartArray("results");
        foreach (var r in results)
        {
            w.WriteStartObject();
            WriteIdentity(w, r.Nic);
            w.WriteString("profile", r.Profile);
            w.WriteString("status", StatusName(r.Status));
            if (r.Error is null) w.WriteNull("error"); else w.WriteString("error", r.Error);
            w.WriteStartArray("changes");
            foreach (var c in r.Plan?.Changes ?? [])
            {
                w.WriteStartObject();
                w.WriteString("setting", c.Setting);
                w.WriteBoolean("applied", r.Applied.Contains(c));
                w.WriteStartArray("fields");
                foreach (var f in c.Fields)
                {
                    w.WriteStartObject();
                    w.WriteString("field", f.Field);
                    w.WriteString("before", f.Before);
                    w.WriteString("after", f.After);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("notes");
            foreach (var n in r.Plan?.Notes ?? []) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteStartArray("rollbackErrors");
            foreach (var e in r.RollbackErrors) w.WriteStringValue(e);
            w.WriteEndArray();
            if (r.After is { } after)
            {
                w.WriteStartObject("state");
                WriteState(w, after);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("state");
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

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

    private static void WriteIdentity(Utf8JsonWriter w, NicIdentity nic)
    {
        w.WriteString("interface", nic.Name);
        WriteNullable(w, "pciId", nic.PciId);
        WriteNullable(w, "subsystemId", nic.SubsystemVendor is { } sv && nic.SubsystemDevice is { } sd ? $"{sv:x4}:{sd:x4}" : null);
        WriteNullable(w, "pciAddress", nic.PciAddress);
    }

    private static void WriteDriver(Utf8JsonWriter w, DriverInfo d)
    {
        w.WriteStartObject("driver");
        w.WriteString("name", d.Driver);
        w.WriteString("version", d.Version);
        w.WriteString("firmware", d.FirmwareVersion);
        w.WriteString("busInfo", d.BusInfo);
        w.WriteEndObject();
    }

    private static void WriteLink(Utf8JsonWriter w, LinkSettings? link)
    {
        if (link is null)
        {
            w.WriteNull("link");
            return;
        }
        w.WriteStartObject("link");
        if (link.SpeedMbps == LinkSettings.SpeedUnknown || link.SpeedMbps == 0) w.WriteNull("speedMbps"); else w.WriteNumber("speedMbps", link.SpeedMbps);
        w.WriteString("duplex", link.DuplexName);
        w.WriteString("port", link.PortName);
        w.WriteBoolean("autoneg", link.Autoneg);
        WriteNames(w, "supported", link.Supported.BitNames());
        WriteNames(w, "advertising", link.Advertising.BitNames());
        WriteNames(w, "linkPartner", link.LinkPartnerAdvertising.BitNames());
        w.WriteEndObject();
    }

    /// <summary>The tunable state (also the "state" read back after `tune`).</summary>
    private static void WriteState(Utf8JsonWriter w, NicState s)
    {
        if (s.Rings is { } r)
        {
            w.WriteStartObject("rings");
            w.WriteNumber("rx", r.Rx); w.WriteNumber("rxMax", r.RxMax);
            w.WriteNumber("rxMini", r.RxMini); w.WriteNumber("rxMiniMax", r.RxMiniMax);
            w.WriteNumber("rxJumbo", r.RxJumbo); w.WriteNumber("rxJumboMax", r.RxJumboMax);
            w.WriteNumber("tx", r.Tx); w.WriteNumber("txMax", r.TxMax);
            w.WriteEndObject();
        }
        else w.WriteNull("rings");

        if (s.Coalesce is { } c)
        {
            w.WriteStartObject("coalesce");
            w.WriteNumber("rxUsecs", c.RxUsecs); w.WriteNumber("rxFrames", c.RxMaxFrames);
            w.WriteNumber("rxUsecsIrq", c.RxUsecsIrq); w.WriteNumber("rxFramesIrq", c.RxMaxFramesIrq);
            w.WriteNumber("txUsecs", c.TxUsecs); w.WriteNumber("txFrames", c.TxMaxFrames);
            w.WriteNumber("txUsecsIrq", c.TxUsecsIrq); w.WriteNumber("txFramesIrq", c.TxMaxFramesIrq);
            w.WriteNumber("statsBlockUsecs", c.StatsBlockUsecs);
            w.WriteBoolean("adaptiveRx", c.AdaptiveRx); w.WriteBoolean("adaptiveTx", c.AdaptiveTx);
            w.WriteEndObject();
        }
        else w.WriteNull("coalesce");

        if (s.Pause is { } p)
        {
            w.WriteStartObject("pause");
            w.WriteBoolean("autoneg", p.Autoneg); w.WriteBoolean("rx", p.Rx); w.WriteBoolean("tx", p.Tx);
            w.WriteEndObject();
        }
        else w.WriteNull("pause");

        if (s.Eee is { } e)
        {
            w.WriteStartObject("eee");
            w.WriteBoolean("enabled", e.Enabled); w.WriteBoolean("active", e.Active); w.WriteBoolean("txLpi", e.TxLpiEnabled);
            w.WriteNumber("txLpiTimerUsecs", e.TxLpiTimerMicroseconds);
            w.WriteNumber("supported", e.Supported); w.WriteNumber("advertised", e.Advertised); w.WriteNumber("linkPartner", e.LinkPartnerAdvertised);
            w.WriteEndObject();
        }
        else w.WriteNull("eee");

        if (s.Channels is { } ch)
        {
            w.WriteStartObject("channels");
            w.WriteNumber("rx", ch.Rx); w.WriteNumber("rxMax", ch.MaxRx);
            w.WriteNumber("tx", ch.Tx); w.WriteNumber("txMax", ch.MaxTx);
            w.WriteNumber("other", ch.Other); w.WriteNumber("otherMax", ch.MaxOther);
            w.WriteNumber("combined", ch.Combined); w.WriteNumber("combinedMax", ch.MaxCombined);
            w.WriteEndObject();
        }
        else w.WriteNull("channels");

        w.WriteStartObject("features");
        foreach (var f in s.Features)
        {
            w.WriteStartObject(f.Name);
            w.WriteBoolean("active", f.Active);
            w.WriteBoolean("requested", f.Requested);
            w.WriteBoolean("fixed", f.Fixed);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteNames(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name); else w.WriteString(name, value);
    }
}
