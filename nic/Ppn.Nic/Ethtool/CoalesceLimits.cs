namespace Ppn.Nic.Ethtool;

/// <summary>The driver-side range checks for ETHTOOL_SCOALESCE (e.g. tg3_set_coalesce for 5705_PLUS chips).</summary>
public sealed record CoalesceLimits(
    uint MaxRxUsecs, uint MaxTxUsecs, uint MaxRxFrames, uint MaxTxFrames,
    uint MaxRxUsecsIrq, uint MaxTxUsecsIrq, uint MaxRxFramesIrq, uint MaxTxFramesIrq,
    uint MinStatsBlockUsecs, uint MaxStatsBlockUsecs, bool UsecsMustBeNonZero, bool AdaptiveSupported)
{
    public bool Accepts(CoalesceParams c) =>
        c.RxUsecs <= MaxRxUsecs && c.TxUsecs <= MaxTxUsecs &&
        (!UsecsMustBeNonZero || (c.RxUsecs != 0 && c.TxUsecs != 0)) &&
        c.RxMaxFrames <= MaxRxFrames && c.TxMaxFrames <= MaxTxFrames &&
        c.RxUsecsIrq <= MaxRxUsecsIrq && c.TxUsecsIrq <= MaxTxUsecsIrq &&
        c.RxMaxFramesIrq <= MaxRxFramesIrq && c.TxMaxFramesIrq <= MaxTxFramesIrq &&
        c.StatsBlockUsecs >= MinStatsBlockUsecs && c.StatsBlockUsecs <= MaxStatsBlockUsecs &&
        (AdaptiveSupported || (!c.AdaptiveRx && !c.AdaptiveTx));
}
