using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tuning;

/// <summary>
/// Everything tunable that one NIC reports. A null part is one the driver does not implement (EOPNOTSUPP);
/// other errors propagate, because a plan made from a half-read state would be wrong.
/// </summary>
public sealed record NicState(
    string Interface,
    DriverInfo Driver,
    RingParams? Rings,
    CoalesceParams? Coalesce,
    PauseParams? Pause,
    EeeParams? Eee,
    ChannelParams? Channels,
    IReadOnlyList<Feature> Features)
{
    public static NicState Read(IEthtool ethtool, string iface) => new(
        iface,
        ethtool.GetDriverInfo(iface),
        Optional(() => ethtool.GetRingParams(iface)),
        OptionalRef(() => ethtool.GetCoalesce(iface)),
        Optional(() => ethtool.GetPause(iface)),
        Optional(() => ethtool.GetEee(iface)),
        Optional(() => ethtool.GetChannels(iface)),
        OptionalRef(() => ethtool.GetFeatures(iface)) ?? []);

    public Feature? FindFeature(string name)
    {
        foreach (var f in Features)
        {
            if (f.Name == name) return f;
        }
        return null;
    }

    internal static T? Optional<T>(Func<T> read) where T : struct
    {
        try
        {
            return read();
        }
        catch (EthtoolException e) when (e.Kind == EthtoolErrorKind.NotSupported)
        {
            return null;
        }
    }

    internal static T? OptionalRef<T>(Func<T> read) where T : class
    {
        try
        {
            return read();
        }
        catch (EthtoolException e) when (e.Kind == EthtoolErrorKind.NotSupported)
        {
            return null;
        }
    }
}
