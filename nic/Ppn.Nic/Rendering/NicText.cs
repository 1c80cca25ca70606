using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Rendering;

/// <summary>Human output of `ppn nic show|tune|stats`, in the spirit of `ethtool` but one NIC per block.</summary>
public static class NicText
{
    public static void WriteShow(TextWriter o, NicSnapshot s)
    {
        var n = s.Nic;
        var d = s.State.Driver;
        o.WriteLine($"{n.Name}: {n.PciId ?? "no PCI id"}{(n.PciAddress is { } a ? $" at {a}" : "")}, driver {d.Driver} {d.Version}{(d.FirmwareVersion.Length > 0 ? $", firmware {d.FirmwareVersion}" : "")}");
        if (s.PermanentAddress is { Length: > 0 } mac) o.WriteLine($"  permanent address {NicJson.FormatAddress(mac)}");
        if (s.Link is { } l)
        {
            var speed = l.SpeedMbps is LinkSettings.SpeedUnknown or 0 ? "unknown speed" : $"{l.SpeedMbps} Mb/s";
            o.WriteLine($"  link: {speed}, {l.DuplexName} duplex, {l.PortName}, autoneg {OnOff(l.Autoneg)}");
            if (l.Advertising.BitNames() is { Count: > 0 } adv) o.WriteLine($"    advertising: {string.Join(' ', adv)}");
        }
        WriteState(o, s.State);
    }

    public static void WriteState(TextWriter o, NicState s)
    {
        o.WriteLine(s.Rings is { } r
            ? $"  rings: rx {r.Rx}/{r.RxMax}, rx-jumbo {r.RxJumbo}/{r.RxJumboMax}, tx {r.Tx}/{r.TxMax}"
            : "  rings: not supported by the driver");
        o.WriteLine(s.Coalesce is { } c
            ? $"  coalesce: rx {c.RxUsecs} us / {c.RxMaxFrames} frames, tx {c.TxUsecs} us / {c.TxMaxFrames} frames, adaptive rx {OnOff(c.AdaptiveRx)} tx {OnOff(c.AdaptiveTx)}"
            : "  coalesce: not supported by the driver");
        o.WriteLine(s.Pause is { } p
            ? $"  pause: autoneg {OnOff(p.Autoneg)}, rx {OnOff(p.Rx)}, tx {OnOff(p.Tx)}"
            : "  pause: not supported by the driver");
        o.WriteLine(s.Eee is { } e
            ? $"  eee: {(e.Enabled ? "enabled" : "disabled")}{(e.Active ? ", active" : "")}, tx-lpi {OnOff(e.TxLpiEnabled)} ({e.TxLpiTimerMicroseconds} us)"
            : "  eee: not supported by the driver");
        o.WriteLine(s.Channels is { } ch
            ? $"  channels: rx {ch.Rx}/{ch.MaxRx}, tx {ch.Tx}/{ch.MaxTx}, other {ch.Other}/{ch.MaxOther}, combined {ch.Combined}/{ch.MaxCombined}"
            : "  channels: not supported by the driver");
        var on = s.Features.Where(f => f.Active).Select(f => f.Fixed ? f.Name + "[fixed]" : f.Name).ToList();
        o.WriteLine($"  features on: {(on.Count == 0 ? "none" : string.Join(' ', on))}");
    }

    public static void WriteTune(TextWriter o, TuneResult r)
    {
        o.WriteLine(NicTuner.Summary(r));
        foreach (var c in r.Plan?.Changes ?? [])
        {
            bool revertFailed = r.RollbackErrors.Any(e => e.StartsWith(c.Setting + ":", StringComparison.Ordinal));
            var mark = r.Status switch
            {
                TuneStatus.Planned => "would set",
                _ when !r.Applied.Contains(c) => "not set",
                TuneStatus.RolledBack or TuneStatus.RollbackIncomplete => revertFailed ? "set, NOT reverted" : "set, then reverted",
                _ => "set",
            };
            o.WriteLine($"  {mark} {c.Setting}: {string.Join(", ", c.Fields.Select(f => $"{f.Field} {f.Before} -> {f.After}"))}");
        }
        foreach (var note in r.Plan?.Notes ?? [])
        {
            o.WriteLine($"  note: {note}");
        }
    }

    private static string OnOff(bool value) => value ? "on" : "off";
}
