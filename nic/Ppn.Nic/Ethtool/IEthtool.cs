namespace Ppn.Nic.Ethtool;

/// <summary>
/// The ethtool ioctl interface to one host's NICs (SIOCETHTOOL; no ethtool binary). Every call names the
/// interface; failures are <see cref="EthtoolException"/> with a kind the caller can act on.
/// Real implementation: <see cref="SystemEthtool"/>; test twin: FakeEthtool (nic/Ppn.Nic.Testing).
/// </summary>
public interface IEthtool
{
    DriverInfo GetDriverInfo(string iface);

    LinkSettings GetLinkSettings(string iface);
    void SetLinkSettings(string iface, LinkSettings settings);

    RingParams GetRingParams(string iface);
    void SetRingParams(string iface, RingParams rings);

    CoalesceParams GetCoalesce(string iface);
    void SetCoalesce(string iface, CoalesceParams coalesce);

    PauseParams GetPause(string iface);
    void SetPause(string iface, PauseParams pause);

    EeeParams GetEee(string iface);
    void SetEee(string iface, EeeParams eee);

    ChannelParams GetChannels(string iface);
    void SetChannels(string iface, ChannelParams channels);

    /// <summary>All netdev features in the kernel's string order (ETH_SS_FEATURES).</summary>
    IReadOnlyList<Feature> GetFeatures(string iface);

    /// <summary>Switches the named features; unknown names are <see cref="EthtoolErrorKind.OutOfRange"/>.</summary>
    FeatureSetResult SetFeatures(string iface, IReadOnlyList<FeatureRequest> changes);

    IReadOnlyList<NicStatistic> GetStatistics(string iface);

    /// <summary>ETHTOOL_PHYS_ID: blinks the port LED for <paramref name="seconds"/> (1..60); returns when done.</summary>
    void IdentifyPort(string iface, uint seconds);

    byte[] GetPermanentAddress(string iface);

    /// <summary>
    /// ETHTOOL_GLINK: whether the link is up (false while the interface is down). Since Linux 6.8 the query first
    /// runs the interface's pending linkwatch event (net/ethtool/ioctl.c ethtool_op_get_link, commit facd15dfd691),
    /// so operstate, and with it IPv6 address configuration, catches up with the carrier at once.
    /// </summary>
    bool GetLink(string iface);
}
