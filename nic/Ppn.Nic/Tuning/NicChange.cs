using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tuning;

/// <summary>
/// One typed change in a <see cref="TuningPlan"/>: what it was, what it becomes, how to apply it and how to
/// put it back. Each change is one ethtool set request, so a failure leaves the earlier ones to roll back.
/// </summary>
public abstract record NicChange
{
    /// <summary>"rings", "coalesce", "pause", "eee", "channels", "feature rx-gro".</summary>
    public abstract string Setting { get; }

    /// <summary>(field, before, after) for every field that differs, for --dry-run and JSON.</summary>
    public abstract IReadOnlyList<FieldChange> Fields { get; }

    public abstract void Apply(IEthtool ethtool, string iface);
    public abstract void Revert(IEthtool ethtool, string iface);

    /// <summary>Does the read-back state show this change in effect?</summary>
    public abstract bool IsSatisfiedBy(NicState state);
}

public readonly record struct FieldChange(string Field, string Before, string After);

public sealed record RingChange(RingParams Before, RingParams After) : NicChange
{
    public override string Setting => "rings";

    public override IReadOnlyList<FieldChange> Fields => Diff.Of(
        ("rx", Before.Rx, After.Rx), ("rx-mini", Before.RxMini, After.RxMini),
        ("rx-jumbo", Before.RxJumbo, After.RxJumbo), ("tx", Before.Tx, After.Tx));

    public override void Apply(IEthtool ethtool, string iface) => ethtool.SetRingParams(iface, After);
    public override void Revert(IEthtool ethtool, string iface) => ethtool.SetRingParams(iface, Before);

    public override bool IsSatisfiedBy(NicState state) => state.Rings is { } r &&
        r.Rx == After.Rx && r.RxMini == After.RxMini && r.RxJumbo == After.RxJumbo && r.Tx == After.Tx;
}

public sealed record CoalesceChange(CoalesceParams Before, CoalesceParams After) : NicChange
{
    public override string Setting => "coalesce";

    public override IReadOnlyList<FieldChange> Fields => Diff.Of(
        ("rx-usecs", Before.RxUsecs, After.RxUsecs), ("rx-frames", Before.RxMaxFrames, After.RxMaxFrames),
        ("rx-usecs-irq", Before.RxUsecsIrq, After.RxUsecsIrq), ("rx-frames-irq", Before.RxMaxFramesIrq, After.RxMaxFramesIrq),
        ("tx-usecs", Before.TxUsecs, After.TxUsecs), ("tx-frames", Before.TxMaxFrames, After.TxMaxFrames),
        ("tx-usecs-irq", Before.TxUsecsIrq, After.TxUsecsIrq), ("tx-frames-irq", Before.TxMaxFramesIrq, After.TxMaxFramesIrq),
        ("stats-block-usecs", Before.StatsBlockUsecs, After.StatsBlockUsecs),
        ("adaptive-rx", Before.AdaptiveRx ? 1u : 0u, After.AdaptiveRx ? 1u : 0u),
        ("adaptive-tx", Before.AdaptiveTx ? 1u : 0u, After.AdaptiveTx ? 1u : 0u));

    public override void Apply(IEthtool ethtool, string iface) => ethtool.SetCoalesce(iface, After);
    public override void Revert(IEthtool ethtool, string iface) => ethtool.SetCoalesce(iface, Before);

    public override bool IsSatisfiedBy(NicState state) => state.Coalesce == After;
}

public sealed record PauseChange(PauseParams Before, PauseParams After) : NicChange
{
    public override string Setting => "pause";

    public override IReadOnlyList<FieldChange> Fields => Diff.Of(
        ("autoneg", Before.Autoneg, After.Autoneg), ("rx", Before.Rx, After.Rx), ("tx", Before.Tx, After.Tx));

    public override void Apply(IEthtool ethtool, string iface) => ethtool.SetPause(iface, After);
    public override void Revert(IEthtool ethtool, string iface) => ethtool.SetPause(iface, Before);
    public override bool IsSatisfiedBy(NicState state) => state.Pause == After;
}

public sealed record EeeChange(EeeParams Before, EeeParams After) : NicChange
{
    public override string Setting => "eee";

    public override IReadOnlyList<FieldChange> Fields => Diff.Of(
        ("enabled", Before.Enabled, After.Enabled), ("tx-lpi", Before.TxLpiEnabled, After.TxLpiEnabled));

    public override void Apply(IEthtool ethtool, string iface) => ethtool.SetEee(iface, After);
    public override void Revert(IEthtool ethtool, string iface) => ethtool.SetEee(iface, Before);

    public override bool IsSatisfiedBy(NicState state) => state.Eee is { } e &&
        e.Enabled == After.Enabled && e.TxLpiEnabled == After.TxLpiEnabled;
}

public sealed record ChannelChange(ChannelParams Before, ChannelParams After) : NicChange
{
    public override string Setting => "channels";

    public override IReadOnlyList<FieldChange> Fields => Diff.Of(
        ("rx", Before.Rx, After.Rx), ("tx", Before.Tx, After.Tx),
        ("other", Before.Other, After.Other), ("combined", Before.Combined, After.Combined));

    public override void Apply(IEthtool ethtool, string iface) => ethtool.SetChannels(iface, After);
    public override void Revert(IEthtool ethtool, string iface) => ethtool.SetChannels(iface, Before);

    public override bool IsSatisfiedBy(NicState state) => state.Channels is { } c &&
        c.Rx == After.Rx && c.Tx == After.Tx && c.Other == After.Other && c.Combined == After.Combined;
}

public sealed record FeatureChange(string Name, bool Before, bool After) : NicChange
{
    public override string Setting => $"feature {Name}";

    public override IReadOnlyList<FieldChange> Fields => Diff.Of(("active", Before, After));

    public override void Apply(IEthtool ethtool, string iface) => ethtool.SetFeatures(iface, [new FeatureRequest(Name, After)]);
    public override void Revert(IEthtool ethtool, string iface) => ethtool.SetFeatures(iface, [new FeatureRequest(Name, Before)]);
    public override bool IsSatisfiedBy(NicState state) => state.FindFeature(Name) is { } f && f.Active == After;
}

internal static class Diff
{
    public static IReadOnlyList<FieldChange> Of(params (string Field, uint Before, uint After)[] fields) =>
        fields.Where(f => f.Before != f.After)
              .Select(f => new FieldChange(f.Field, f.Before.ToString(System.Globalization.CultureInfo.InvariantCulture), f.After.ToString(System.Globalization.CultureInfo.InvariantCulture)))
              .ToList();

    public static IReadOnlyList<FieldChange> Of(params (string Field, bool Before, bool After)[] fields) =>
        fields.Where(f => f.Before != f.After)
              .Select(f => new FieldChange(f.Field, f.Before ? "on" : "off", f.After ? "on" : "off"))
              .ToList();
}
