using Ppn.Linux;

using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Testing;

/// <summary>
/// One NIC as the fake driver knows it. A null capability answers EOPNOTSUPP, as a driver without that
/// ethtool_ops member does. Limits mirror the checks drivers make (rings within the advertised maxima,
/// coalescing within <see cref="CoalesceLimits"/>, EEE advertisement fixed as tg3 has it).
/// </summary>
public sealed class FakeNic
{
    public required DriverInfo Driver { get; set; }
    public LinkSettings? Link { get; set; }
    public RingParams? Rings { get; set; }
    public CoalesceParams? Coalesce { get; set; }
    public CoalesceLimits? CoalesceLimits { get; set; }
    public PauseParams? Pause { get; set; }
    public EeeParams? Eee { get; set; }
    /// <summary>tg3_set_eee: "Changing advertised EEE modes is not supported" (EINVAL).</summary>
    public bool EeeAdvertisementFixed { get; set; }
    public ChannelParams? Channels { get; set; }
    public List<Feature> Features { get; set; } = [];
    public List<NicStatistic> Statistics { get; set; } = [];
    public byte[] PermanentAddress { get; set; } = [];
    public bool CanIdentify { get; set; }
    /// <summary>What GLINK answers; null: a driver without get_link (EOPNOTSUPP).</summary>
    public bool? LinkUp { get; set; } = true;
}

/// <summary>
/// Test twin of <see cref="SystemEthtool"/>: recorded NIC capabilities, a call log, injectable failures
/// (an errno for the Nth call of a command) and setters the "driver" silently ignores (read-back tests).
/// Command names are the ethtool ones: GDRVINFO, SRINGPARAM, SCOALESCE, SPAUSEPARAM, SEEE, SCHANNELS, SFEATURES...
/// </summary>
public sealed class FakeEthtool : IEthtool
{
    private readonly Dictionary<string, FakeNic> _nics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<(int Skip, Errno Errno)>> _failures = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    public List<string> Calls { get; } = [];

    /// <summary>Setters that return success but change nothing (a driver that clamps or ignores).</summary>
    public HashSet<string> IgnoredSets { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Called (outside the fake's lock) for each accepted PHYS_ID with the port and seconds: the real ioctl blocks for
    /// that long, so a test can block here to see which ports blink at the same time.
    /// </summary>
    public Action<string, uint>? Blinking { get; set; }

    public FakeEthtool Add(string iface, FakeNic nic)
    {
        _nics[iface] = nic;
        return this;
    }

    public FakeNic Nic(string iface) => _nics[iface];

    /// <summary>Makes the command fail with <paramref name="errno"/> after <paramref name="skip"/> successful calls.</summary>
    public void Fail(string command, Errno errno, int skip = 0)
    {
        if (!_failures.TryGetValue(command, out var queue))
        {
            _failures[command] = queue = new Queue<(int, Errno)>();
        }
        queue.Enqueue((skip, errno));
    }

    public DriverInfo GetDriverInfo(string iface) => Do(iface, "GDRVINFO", n => n.Driver);

    public LinkSettings GetLinkSettings(string iface) => Do(iface, "GLINKSETTINGS", n => n.Link ?? throw NotSupported("GLINKSETTINGS", iface));

    public void SetLinkSettings(string iface, LinkSettings settings) => Set(iface, "SLINKSETTINGS", n =>
    {
        _ = n.Link ?? throw NotSupported("SLINKSETTINGS", iface);
        n.Link = settings;
    });

    public RingParams GetRingParams(string iface) => Do(iface, "GRINGPARAM", n => n.Rings ?? throw NotSupported("GRINGPARAM", iface));

    public void SetRingParams(string iface, RingParams rings) => Set(iface, "SRINGPARAM", n =>
    {
        var current = n.Rings ?? throw NotSupported("SRINGPARAM", iface);
        if (rings.Rx > current.RxMax || rings.RxMini > current.RxMiniMax || rings.RxJumbo > current.RxJumboMax || rings.Tx > current.TxMax)
        {
            throw new EthtoolException("SRINGPARAM", iface, (int)Errno.EINVAL);
        }
        n.Rings = current with { Rx = rings.Rx, RxMini = rings.RxMini, RxJumbo = rings.RxJumbo, Tx = rings.Tx };
    });

    public CoalesceParams GetCoalesce(string iface) => Do(iface, "GCOALESCE", n => n.Coalesce ?? throw NotSupported("GCOALESCE", iface));

    public void SetCoalesce(string iface, CoalesceParams coalesce) => Set(iface, "SCOALESCE", n =>
    {
        _ = n.Coalesce ?? throw NotSupported("SCOALESCE", iface);
        if (n.CoalesceLimits is { } limits && !limits.Accepts(coalesce))
        {
            throw new EthtoolException("SCOALESCE", iface, (int)Errno.EINVAL);
        }
        n.Coalesce = coalesce;
    });

    public PauseParams GetPause(string iface) => Do(iface, "GPAUSEPARAM", n => n.Pause ?? throw NotSupported("GPAUSEPARAM", iface));

    public void SetPause(string iface, PauseParams pause) => Set(iface, "SPAUSEPARAM", n =>
    {
        _ = n.Pause ?? throw NotSupported("SPAUSEPARAM", iface);
        n.Pause = pause;
    });

    public EeeParams GetEee(string iface) => Do(iface, "GEEE", n => n.Eee ?? throw NotSupported("GEEE", iface));

    public void SetEee(string iface, EeeParams eee) => Set(iface, "SEEE", n =>
    {
        var current = n.Eee ?? throw NotSupported("SEEE", iface);
        if (n.EeeAdvertisementFixed && eee.Advertised != current.Advertised)
        {
            throw new EthtoolException("SEEE", iface, (int)Errno.EINVAL);
        }
        n.Eee = current with { Advertised = eee.Advertised, Enabled = eee.Enabled, TxLpiEnabled = eee.TxLpiEnabled, TxLpiTimerMicroseconds = eee.TxLpiTimerMicroseconds };
    });

    public ChannelParams GetChannels(string iface) => Do(iface, "GCHANNELS", n => n.Channels ?? throw NotSupported("GCHANNELS", iface));

    public void SetChannels(string iface, ChannelParams channels) => Set(iface, "SCHANNELS", n =>
    {
        var current = n.Channels ?? throw NotSupported("SCHANNELS", iface);
        if (channels.Rx > current.MaxRx || channels.Tx > current.MaxTx || channels.Other > current.MaxOther || channels.Combined > current.MaxCombined
            || channels.Rx + channels.Combined == 0 || channels.Tx + channels.Combined == 0)
        {
            throw new EthtoolException("SCHANNELS", iface, (int)Errno.EINVAL);
        }
        n.Channels = current with { Rx = channels.Rx, Tx = channels.Tx, Other = channels.Other, Combined = channels.Combined };
    });

    public IReadOnlyList<Feature> GetFeatures(string iface) => Do(iface, "GFEATURES", n => (IReadOnlyList<Feature>)n.Features.ToArray());

    public FeatureSetResult SetFeatures(string iface, IReadOnlyList<FeatureRequest> changes)
    {
        var result = FeatureSetResult.Done;
        Set(iface, "SFEATURES", n =>
        {
            foreach (var change in changes)
            {
                int i = n.Features.FindIndex(f => f.Name == change.Name);
                if (i < 0)
                {
                    throw new EthtoolException($"SFEATURES {change.Name}", iface, (int)Errno.EINVAL);
                }
            }
            foreach (var change in changes)
            {
                int i = n.Features.FindIndex(f => f.Name == change.Name);
                var f = n.Features[i];
                if (f.Fixed)
                {
                    result |= FeatureSetResult.Unsupported;
                    continue;
                }
                n.Features[i] = f with { Requested = change.Enable, Active = change.Enable };
            }
        });
        return result;
    }

    public IReadOnlyList<NicStatistic> GetStatistics(string iface) => Do(iface, "GSTATS", n => (IReadOnlyList<NicStatistic>)n.Statistics.ToArray());

    public void IdentifyPort(string iface, uint seconds)
    {
        if (seconds is 0 or > 60)
        {
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "identify blinks for 1..60 seconds");
        }
        Do(iface, "PHYS_ID", n => n.CanIdentify ? 0 : throw NotSupported("PHYS_ID", iface));
        Blinking?.Invoke(iface, seconds);
    }

    public byte[] GetPermanentAddress(string iface) => Do(iface, "GPERMADDR", n => n.PermanentAddress.ToArray());

    public bool GetLink(string iface) => Do(iface, "GLINK", n => n.LinkUp ?? throw NotSupported("GLINK", iface));

    private void Set(string iface, string command, Action<FakeNic> apply) => Do(iface, command, n =>
    {
        if (!IgnoredSets.Contains(command))
        {
            apply(n);
        }
        return 0;
    });

    private T Do<T>(string iface, string command, Func<FakeNic, T> body)
    {
        lock (_gate)
        {
            Calls.Add($"{command} {iface}");
            if (!_nics.TryGetValue(iface, out var nic))
            {
                throw new EthtoolException(command, iface, (int)Errno.ENODEV);
            }
            if (_failures.TryGetValue(command, out var queue) && queue.Count > 0)
            {
                var (skip, errno) = queue.Dequeue();
                if (skip == 0)
                {
                    throw new EthtoolException(command, iface, (int)errno);
                }
                var rest = queue.ToArray();
                queue.Clear();
                queue.Enqueue((skip - 1, errno));
                foreach (var r in rest) queue.Enqueue(r);
            }
            return body(nic);
        }
    }

    private static EthtoolException NotSupported(string command, string iface) => new(command, iface, (int)Errno.EOPNOTSUPP);
}
