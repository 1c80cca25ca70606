using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tuning;

/// <summary>A plan is a value: the ordered changes (before/after) and notes on what was left alone and why.</summary>
public sealed record TuningPlan(string Interface, string Profile, IReadOnlyList<NicChange> Changes, IReadOnlyList<string> Notes)
{
    public bool IsEmpty => Changes.Count == 0;
}

/// <summary>Turns (profile, current state) into a plan within the driver's advertised maxima.</summary>
public static class TuningPlanner
{
    /// <summary>
    /// Order: cheap, non-disruptive changes first (coalesce, features, EEE), then those that renegotiate or
    /// reset the device (pause restarts autoneg; channels and rings make tg3 halt and restart the chip).
    /// A failure therefore rolls back before the link was bounced where possible.
    /// </summary>
    public static TuningPlan Plan(TuningProfile profile, NicState state, int cpuCount)
    {
        var changes = new List<NicChange>();
        var notes = new List<string>();

        if (profile.Coalesce is { } target)
        {
            if (state.Coalesce is { } before)
            {
                var after = PlanCoalesce(before, target);
                if (after != before)
                {
                    changes.Add(new CoalesceChange(before, after));
                }
            }
            else
            {
                notes.Add("coalesce: the driver does not do that; left alone");
            }
        }

        var featureChanges = new List<NicChange>();
        foreach (var wanted in profile.Features)
        {
            if (state.FindFeature(wanted.Name) is not { } f)
            {
                continue;
            }
            if (f.Active == wanted.Enable)
            {
                continue;
            }
            if (f.Fixed)
            {
                notes.Add($"feature {wanted.Name}: fixed {(f.Active ? "on" : "off")} by the driver; left alone");
                continue;
            }
            featureChanges.Add(new FeatureChange(wanted.Name, f.Active, wanted.Enable));
        }
        changes.AddRange(featureChanges);

        if (profile.Eee is { } eeeWanted)
        {
            if (state.Eee is { } eee)
            {
                // Only the enable bits move: tg3_set_eee refuses a changed advertisement (EINVAL).
                var after = eee with { Enabled = eeeWanted, TxLpiEnabled = eeeWanted };
                if (after.Enabled != eee.Enabled || after.TxLpiEnabled != eee.TxLpiEnabled)
                {
                    changes.Add(new EeeChange(eee, after));
                }
            }
            else
            {
                notes.Add("eee: the driver does not do that (no EEE on this PHY); nothing to turn off");
            }
        }

        if (profile.Pause is { } pauseWanted)
        {
            if (state.Pause is { } pause)
            {
                if (pause != pauseWanted)
                {
                    changes.Add(new PauseChange(pause, pauseWanted));
                }
            }
            else
            {
                notes.Add("pause: the driver does not do that; left alone");
            }
        }

        if (profile.Channels == ChannelPolicy.RxQueuesToCpuCount)
        {
            if (state.Channels is { } ch)
            {
                var cpus = (uint)Math.Max(1, cpuCount);
                var after = ch;
                if (ch.MaxCombined > 0 && ch.Combined > 0)
                {
                    after = ch with { Combined = Math.Min(ch.MaxCombined, cpus) };
                }
                else if (ch.MaxRx > 0)
                {
                    after = ch with { Rx = Math.Min(ch.MaxRx, cpus) };
                }
                if (after != ch)
                {
                    changes.Add(new ChannelChange(ch, after));
                }
            }
            else
            {
                notes.Add("channels: the driver does not do that; left alone");
            }
        }

        if (profile.RingsToMaximum)
        {
            if (state.Rings is { } r)
            {
                // A maximum of 0 means the ring does not exist (e.g. tg3's jumbo ring with MTU 1500).
                var after = r with
                {
                    Rx = r.RxMax > 0 ? r.RxMax : r.Rx,
                    RxJumbo = r.RxJumboMax > 0 ? r.RxJumboMax : r.RxJumbo,
                    Tx = r.TxMax > 0 ? r.TxMax : r.Tx,
                };
                if (after != r)
                {
                    changes.Add(new RingChange(r, after));
                }
            }
            else
            {
                notes.Add("rings: the driver does not do that; left alone");
            }
        }

        return new TuningPlan(state.Interface, profile.Name, changes, notes);
    }

    internal static CoalesceParams PlanCoalesce(CoalesceParams before, CoalesceTarget target)
    {
        var l = target.Limits;
        uint Clamp(uint value, uint max, bool nonZero) => Math.Max(nonZero ? 1u : 0u, Math.Min(value, max));
        var after = before with
        {
            RxUsecs = target.RxUsecs is { } ru ? Clamp(ru, l.MaxRxUsecs, l.UsecsMustBeNonZero) : before.RxUsecs,
            RxMaxFrames = target.RxMaxFrames is { } rf ? Math.Min(rf, l.MaxRxFrames) : before.RxMaxFrames,
            TxUsecs = target.TxUsecs is { } tu ? Clamp(tu, l.MaxTxUsecs, l.UsecsMustBeNonZero) : before.TxUsecs,
            TxMaxFrames = target.TxMaxFrames is { } tf ? Math.Min(tf, l.MaxTxFrames) : before.TxMaxFrames,
            AdaptiveRx = l.AdaptiveSupported && before.AdaptiveRx,
            AdaptiveTx = l.AdaptiveSupported && before.AdaptiveTx,
        };
        if (target.ZeroPerIrqAndStatsFields)
        {
            after = after with { RxUsecsIrq = 0, TxUsecsIrq = 0, StatsBlockUsecs = 0 };
        }
        return after;
    }
}
