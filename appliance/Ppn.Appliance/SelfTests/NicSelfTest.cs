using Ppn.Formats;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Rendering;
using Ppn.Nic.Tuning;

namespace Ppn.Appliance.SelfTests;

/// <summary>
/// `ppn.selftest=nic`: proves our ethtool ioctls against a real driver on a booted node (the rig boots QEMU's
/// e1000e with the real e1000e driver; build hosts only have veth, which implements none of these). For every
/// physical NIC it reads everything, then for rings, coalescing (rx-usecs), pause and EEE: reads the current
/// value, sets a different in-range one, reads it back, restores the original and reads that back. It also
/// checks that an out-of-range ring is refused as out of range, and that <see cref="NicTuner.Apply"/> rolls a
/// real driver back after an injected failure. Each check is one console line
/// "ppn: selftest: nic: {json}" (<see cref="NicSelfTestCheck"/> and the document of that check) whose "result" is passed, failed or unsupported (the driver does not
/// implement the request: said as such, never counted as a pass); then "nic: N passed, N failed, N unsupported".
/// The NIC is left as it was found.
/// </summary>
public static class NicSelfTest
{
    public enum Outcome
    {
        Passed,
        Failed,
        /// <summary>The driver answered EOPNOTSUPP: it does not do that. Neither a pass nor a failure.</summary>
        Unsupported,
    }

    /// <summary>A check's verdict and what it saw: the document of its console line, header not yet filled in.</summary>
    private sealed record Check(string Name, string? Interface, Outcome Outcome, NicSelfTestCheck Details);

    // Candidate values tried in order; the first that differs from the current value and fits the driver's
    // maximum is used. Ring sizes are multiples of 8 (e1000e rounds up to REQ_RX_DESCRIPTOR_MULTIPLE) and at
    // least 64 (E1000_MIN_RXD); rx-usecs values are exact under e1000e's ITR conversion (1000000/usecs,
    // low two bits cleared), and inside tg3's 1..1023.
    private static readonly uint[] RingCandidates = [512, 256, 1024, 128, 64];
    private static readonly uint[] RxUsecsCandidates = [100, 250, 50];

    public static (int Passed, int Failed, int Unsupported) Run(Action<string> log) =>
        Run(new SystemEthtool(), new SysfsNicDiscovery(), log);

    public static (int Passed, int Failed, int Unsupported) Run(IEthtool ethtool, INicDiscovery discovery, Action<string> log)
    {
        var checks = new List<Check>();
        void Report(Check check)
        {
            checks.Add(check);
            var line = check.Details with
            {
                Check = check.Name,
                Interface = check.Interface,
                Result = ResultName(check.Outcome),
                Passed = check.Outcome == Outcome.Passed,
            };
            log(SelfTestLine.Message(SelfTestLine.Nic, line, SelfTestJson.Default.NicSelfTestCheck));
        }

        IReadOnlyList<NicIdentity> nics = [];
        try
        {
            nics = discovery.List().Where(n => n.IsPhysical).ToList();
            Report(new Check("discovery lists the physical NICs", null, nics.Count > 0 ? Outcome.Passed : Outcome.Failed,
                new NicDiscoveryCheck { Interfaces = nics.Select(n => n.Name).ToList() }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(new Check("discovery lists the physical NICs", null, Outcome.Failed, new NicSelfTestNote { Error = e.Message }));
        }

        foreach (var nic in nics)
        {
            Report(Guard(nic, "every read answers or says the driver does not do it", () => ReadAll(ethtool, nic)));
            Report(Guard(nic, "rings: set, read back, restore", () => Rings(ethtool, nic.Name)));
            Report(Guard(nic, "rings: beyond the advertised maximum is out of range and changes nothing", () => RingBeyondMaximum(ethtool, nic.Name)));
            Report(Guard(nic, "coalesce rx-usecs: set, read back, restore", () => Coalesce(ethtool, nic.Name)));
            Report(Guard(nic, "pause: set, read back, restore", () => Pause(ethtool, nic.Name)));
            Report(Guard(nic, "eee: set, read back, restore", () => Eee(ethtool, nic.Name)));
            Report(Guard(nic, "apply rolls back an applied change after a refused one", () => Rollback(ethtool, nic)));
        }

        int passed = checks.Count(c => c.Outcome == Outcome.Passed);
        int failed = checks.Count(c => c.Outcome == Outcome.Failed);
        int unsupported = checks.Count(c => c.Outcome == Outcome.Unsupported);
        log($"nic: {passed} passed, {failed} failed, {unsupported} unsupported by driver");
        return (passed, failed, unsupported);
    }

    public static string ResultName(Outcome outcome) => outcome switch
    {
        Outcome.Passed => NicSelfTestResult.Passed,
        Outcome.Failed => NicSelfTestResult.Failed,
        _ => NicSelfTestResult.Unsupported,
    };

    /// <summary>Runs one check; EOPNOTSUPP is "unsupported by driver", any other error a failure with its message.</summary>
    private static Check Guard(NicIdentity nic, string name, Func<(Outcome Outcome, NicSelfTestCheck Details)> body)
    {
        try
        {
            var (outcome, details) = body();
            return new Check(name, nic.Name, outcome, details);
        }
        catch (EthtoolException e) when (e.Kind == EthtoolErrorKind.NotSupported)
        {
            return new Check(name, nic.Name, Outcome.Unsupported, Unsupported($"{e.Command} answered EOPNOTSUPP"));
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException)
        {
            return new Check(name, nic.Name, Outcome.Failed, new NicSelfTestNote { Error = $"{e.GetType().Name}: {e.Message}" });
        }
    }

    private static (Outcome, NicSelfTestCheck) ReadAll(IEthtool ethtool, NicIdentity nic)
    {
        var snapshot = NicSnapshot.Read(ethtool, nic);
        IReadOnlyList<NicStatistic> stats;
        try
        {
            stats = ethtool.GetStatistics(nic.Name);
        }
        catch (EthtoolException e) when (e.Kind == EthtoolErrorKind.NotSupported)
        {
            stats = [];
        }
        var d = snapshot.State.Driver;
        // GDRVINFO's n_stats is the kernel's ETH_SS_STATS count; GSTATS must deliver exactly that many.
        bool ok = d.Driver.Length > 0
            && (nic.PciAddress is null || d.BusInfo == nic.PciAddress)
            && stats.Count == d.StatisticCount;
        string? linkText = null;
        if (snapshot.Link is { } link)
        {
            // Right after boot autonegotiation may still run: the kernel reports SPEED_UNKNOWN then.
            var speed = link.SpeedMbps is LinkSettings.SpeedUnknown or 0 ? "speed unknown (no link yet)" : $"{link.SpeedMbps} Mb/s {link.DuplexName}";
            linkText = $"{speed}, autoneg {(link.Autoneg ? "on" : "off")}";
        }
        return (ok ? Outcome.Passed : Outcome.Failed, new NicReadCheck
        {
            Driver = d.Driver,
            BusInfo = d.BusInfo,
            PciId = nic.PciId,
            PermanentAddress = snapshot.PermanentAddress is { Length: > 0 } mac ? NicJson.FormatAddress(mac) : null,
            Link = linkText,
            Statistics = stats.Count,
            DriverStatisticCount = d.StatisticCount,
            Unsupported = Unsupported(snapshot.State).ToList(),
        });
    }

    private static (Outcome, NicSelfTestCheck) Rings(IEthtool ethtool, string iface)
    {
        var before = ethtool.GetRingParams(iface);
        var target = before with { Rx = Pick(RingCandidates, before.Rx, before.RxMax), Tx = Pick(RingCandidates, before.Tx, before.TxMax) };
        if (target == before)
        {
            return (Outcome.Unsupported, Unsupported("no ring size other than the current one is advertised"));
        }
        var (readBack, restored) = SetReadBackRestore(before, target, p => ethtool.SetRingParams(iface, p), () => ethtool.GetRingParams(iface));
        bool ok = readBack.Rx == target.Rx && readBack.Tx == target.Tx && restored.Rx == before.Rx && restored.Tx == before.Tx;
        return (ok ? Outcome.Passed : Outcome.Failed, new NicRingsCheck
        {
            Before = new(before.Rx, before.Tx),
            Set = new(target.Rx, target.Tx),
            ReadBack = new(readBack.Rx, readBack.Tx),
            Restored = new(restored.Rx, restored.Tx),
            Max = new(before.RxMax, before.TxMax),
        });
    }

    private static (Outcome, NicSelfTestCheck) RingBeyondMaximum(IEthtool ethtool, string iface)
    {
        var before = ethtool.GetRingParams(iface);
        if (before.RxMax == 0)
        {
            return (Outcome.Unsupported, Unsupported("no rx ring advertised"));
        }
        EthtoolErrorKind? kind = null;
        try
        {
            ethtool.SetRingParams(iface, before with { Rx = before.RxMax + 8 });
        }
        catch (EthtoolException e)
        {
            kind = e.Kind;
        }
        finally
        {
            if (kind is null)
            {
                ethtool.SetRingParams(iface, before); // accepted against the rules: put it back
            }
        }
        var after = ethtool.GetRingParams(iface);
        bool ok = kind == EthtoolErrorKind.OutOfRange && after == before;
        return (ok ? Outcome.Passed : Outcome.Failed, new NicRingBeyondMaximumCheck
        {
            RequestedRx = before.RxMax + 8,
            Answer = kind?.ToString() ?? "accepted",
            Unchanged = after == before,
        });
    }

    private static (Outcome, NicSelfTestCheck) Coalesce(IEthtool ethtool, string iface)
    {
        var before = ethtool.GetCoalesce(iface);
        // Only rx-usecs moves: the one parameter every coalescing driver takes (e1000e takes nothing else;
        // the kernel refuses a non-zero field the driver does not declare with EOPNOTSUPP).
        var target = before with { RxUsecs = Pick(RxUsecsCandidates, before.RxUsecs, uint.MaxValue) };
        var (readBack, restored) = SetReadBackRestore(before, target, p => ethtool.SetCoalesce(iface, p), () => ethtool.GetCoalesce(iface));
        bool ok = readBack == target && restored == before;
        return (ok ? Outcome.Passed : Outcome.Failed, new NicCoalesceCheck
        {
            Before = before.RxUsecs,
            Set = target.RxUsecs,
            ReadBack = readBack.RxUsecs,
            Restored = restored.RxUsecs,
        });
    }

    private static (Outcome, NicSelfTestCheck) Pause(IEthtool ethtool, string iface)
    {
        var before = ethtool.GetPause(iface);
        // A forced (non-autonegotiated) mode reads back exactly; with autoneg the driver reports what the link
        // partner agreed to, which the test does not control.
        var target = before == new PauseParams(false, true, false) ? new PauseParams(false, false, true) : new PauseParams(false, true, false);
        var (readBack, restored) = SetReadBackRestore(before, target, p => ethtool.SetPause(iface, p), () => ethtool.GetPause(iface));
        bool restoredOk = restored.Autoneg == before.Autoneg && (before.Autoneg || restored == before);
        bool ok = readBack == target && restoredOk;
        return (ok ? Outcome.Passed : Outcome.Failed, new NicPauseCheck
        {
            Before = Settings(before),
            Set = Settings(target),
            ReadBack = Settings(readBack),
            Restored = Settings(restored),
        });
    }

    private static (Outcome, NicSelfTestCheck) Eee(IEthtool ethtool, string iface)
    {
        var before = ethtool.GetEee(iface);
        // The enable bits only: tg3 (and others) refuse a changed advertisement.
        var target = before with { Enabled = !before.Enabled, TxLpiEnabled = !before.Enabled };
        var (readBack, restored) = SetReadBackRestore(before, target, p => ethtool.SetEee(iface, p), () => ethtool.GetEee(iface));
        bool ok = readBack.Enabled == target.Enabled && readBack.TxLpiEnabled == target.TxLpiEnabled
            && restored.Enabled == before.Enabled && restored.TxLpiEnabled == before.TxLpiEnabled;
        return (ok ? Outcome.Passed : Outcome.Failed, new NicEeeCheck
        {
            Before = before.Enabled,
            Set = target.Enabled,
            ReadBack = readBack.Enabled,
            Restored = restored.Enabled,
        });
    }

    /// <summary>
    /// A two-change plan whose second change the driver must refuse (an rx ring beyond its maximum): the
    /// tuner has to revert the first (rx-usecs) and leave the NIC exactly as it was read.
    /// </summary>
    private static (Outcome, NicSelfTestCheck) Rollback(IEthtool ethtool, NicIdentity nic)
    {
        var before = NicState.Read(ethtool, nic.Name);
        if (before.Coalesce is not { } coalesce || before.Rings is not { } rings || rings.RxMax == 0)
        {
            return (Outcome.Unsupported, Unsupported("needs coalescing and an rx ring"));
        }
        var plan = new TuningPlan(nic.Name, "selftest",
        [
            new CoalesceChange(coalesce, coalesce with { RxUsecs = Pick(RxUsecsCandidates, coalesce.RxUsecs, uint.MaxValue) }),
            new RingChange(rings, rings with { Rx = rings.RxMax + 8 }),
        ], []);
        var result = NicTuner.Apply(ethtool, nic, "selftest", plan);
        var after = NicState.Read(ethtool, nic.Name);
        bool ok = result.Status == TuneStatus.RolledBack && result.Applied.Count == 1
            && after.Coalesce == before.Coalesce && after.Rings == before.Rings;
        return (ok ? Outcome.Passed : Outcome.Failed, new NicRollbackCheck
        {
            Status = NicJson.StatusName(result.Status),
            Applied = result.Applied.Count,
            Error = result.Error,
            StateAsBefore = after.Coalesce == before.Coalesce && after.Rings == before.Rings,
        });
    }

    /// <summary>
    /// Sets <paramref name="target"/> and reads it back, then puts <paramref name="before"/> back (also when the set or
    /// the read-back threw: the NIC is left as it was found) and reads that back.
    /// </summary>
    private static (T ReadBack, T Restored) SetReadBackRestore<T>(T before, T target, Action<T> set, Func<T> get)
    {
        T readBack;
        try
        {
            set(target);
            readBack = get();
        }
        finally
        {
            set(before);
        }
        return (readBack, get());
    }

    private static uint Pick(uint[] candidates, uint current, uint max)
    {
        if (max == 0)
        {
            return current; // the ring does not exist (e.g. tg3's jumbo ring at MTU 1500)
        }
        foreach (var c in candidates)
        {
            if (c != current && c <= max) return c;
        }
        return current;
    }

    private static IEnumerable<string> Unsupported(NicState s)
    {
        if (s.Rings is null) yield return "rings";
        if (s.Coalesce is null) yield return "coalesce";
        if (s.Pause is null) yield return "pause";
        if (s.Eee is null) yield return "eee";
        if (s.Channels is null) yield return "channels";
        if (s.Features.Count == 0) yield return "features";
    }

    private static NicSelfTestNote Unsupported(string why) => new() { Detail = "unsupported by driver: " + why };

    private static NicPauseSettings Settings(PauseParams p) => new(p.Autoneg, p.Rx, p.Tx);
}
