using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tuning;

public enum TuneStatus
{
    /// <summary>The NIC already matches the profile.</summary>
    NothingToDo,
    /// <summary>--dry-run: planned, not applied.</summary>
    Planned,
    /// <summary>Every change applied and read back.</summary>
    Applied,
    /// <summary>A change failed (or did not read back); every applied change was reverted.</summary>
    RolledBack,
    /// <summary>A change failed and at least one revert failed too: the NIC is in a mixed state.</summary>
    RollbackIncomplete,
    /// <summary>The NIC could not be read (no such interface, permission...): nothing was changed.</summary>
    Failed,
}

/// <summary>The outcome for one NIC: the plan, what happened, and the state read back afterwards.</summary>
public sealed record TuneResult(
    NicIdentity Nic,
    string Profile,
    TuneStatus Status,
    TuningPlan? Plan,
    IReadOnlyList<NicChange> Applied,
    string? Error,
    IReadOnlyList<string> RollbackErrors,
    NicState? After)
{
    public bool Succeeded => Status is TuneStatus.NothingToDo or TuneStatus.Planned or TuneStatus.Applied;
}

public sealed record TuneReport(IReadOnlyList<TuneResult> Results)
{
    public bool AllSucceeded => Results.All(r => r.Succeeded);
}

/// <summary>
/// Read current → plan within the driver's maxima → apply in order → read back → on failure revert what was
/// applied, newest first. Running it twice plans nothing the second time.
/// </summary>
public static class NicTuner
{
    /// <summary>
    /// What the appliance runs at boot before genesis and on the `nic-retune` command: every physical NIC,
    /// its profile from <paramref name="catalog"/>. Never throws for a per-NIC failure; each is in the report
    /// and in the log.
    /// </summary>
    public static TuneReport TuneAll(IEthtool ethtool, INicDiscovery discovery, Action<string> log, ProfileCatalog? catalog = null, int? cpuCount = null)
    {
        catalog ??= ProfileCatalog.Default;
        IReadOnlyList<NicIdentity> nics;
        try
        {
            nics = discovery.List().Where(n => n.IsPhysical).ToList();
        }
        catch (Exception e)
        {
            log($"cannot list NICs: {e.Message}");
            return new TuneReport([]);
        }
        var results = new List<TuneResult>();
        foreach (var nic in nics)
        {
            var result = Tune(ethtool, nic, catalog.Select(nic), cpuCount ?? Environment.ProcessorCount, dryRun: false);
            log(Summary(result));
            results.Add(result);
        }
        return new TuneReport(results);
    }

    /// <summary>One NIC with one profile. Never throws for driver errors; they are in the result.</summary>
    public static TuneResult Tune(IEthtool ethtool, NicIdentity nic, TuningProfile profile, int cpuCount, bool dryRun)
    {
        NicState before;
        TuningPlan plan;
        try
        {
            before = NicState.Read(ethtool, nic.Name);
            plan = TuningPlanner.Plan(profile, before, cpuCount);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
        {
            return new TuneResult(nic, profile.Name, TuneStatus.Failed, null, [], e.Message, [], null);
        }
        if (plan.IsEmpty)
        {
            return new TuneResult(nic, profile.Name, TuneStatus.NothingToDo, plan, [], null, [], before);
        }
        if (dryRun)
        {
            return new TuneResult(nic, profile.Name, TuneStatus.Planned, plan, [], null, [], before);
        }
        return Apply(ethtool, nic, profile.Name, plan);
    }

    public static TuneResult Apply(IEthtool ethtool, NicIdentity nic, string profile, TuningPlan plan)
    {
        var applied = new List<NicChange>();
        string? error = null;
        foreach (var change in plan.Changes)
        {
            try
            {
                change.Apply(ethtool, plan.Interface);
                applied.Add(change);
            }
            catch (Exception e) when (e is IOException or ArgumentException)
            {
                error = $"{change.Setting}: {e.Message}";
                break;
            }
        }

        NicState? after = null;
        if (error is null)
        {
            try
            {
                after = NicState.Read(ethtool, plan.Interface);
                var unmet = plan.Changes.Where(c => !c.IsSatisfiedBy(after)).Select(c => c.Setting).ToList();
                if (unmet.Count > 0)
                {
                    error = $"read-back: the driver accepted but does not report {string.Join(", ", unmet)} as set";
                }
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                error = $"read-back: {e.Message}";
            }
        }
        if (error is null)
        {
            return new TuneResult(nic, profile, TuneStatus.Applied, plan, applied, null, [], after);
        }

        var rollbackErrors = new List<string>();
        for (int i = applied.Count - 1; i >= 0; i--)
        {
            try
            {
                applied[i].Revert(ethtool, plan.Interface);
            }
            catch (Exception e) when (e is IOException or ArgumentException)
            {
                rollbackErrors.Add($"{applied[i].Setting}: {e.Message}");
            }
        }
        try
        {
            after = NicState.Read(ethtool, plan.Interface);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            after = null;
        }
        return new TuneResult(nic, profile, rollbackErrors.Count == 0 ? TuneStatus.RolledBack : TuneStatus.RollbackIncomplete,
            plan, applied, error, rollbackErrors, after);
    }

    public static string Summary(TuneResult r) => r.Status switch
    {
        // The generic profile never changes anything: "already tuned" would claim a tuning that did not happen.
        TuneStatus.NothingToDo when r.Profile == ProfileCatalog.Generic.Name => $"{r.Nic.Name}: profile {r.Profile}: nothing to change (no tuning profile for this NIC)",
        TuneStatus.NothingToDo => $"{r.Nic.Name}: profile {r.Profile}: already tuned",
        TuneStatus.Planned => $"{r.Nic.Name}: profile {r.Profile}: {r.Plan!.Changes.Count} change(s) planned",
        TuneStatus.Applied => $"{r.Nic.Name}: profile {r.Profile}: applied {r.Applied.Count} change(s)",
        TuneStatus.RolledBack => $"{r.Nic.Name}: profile {r.Profile}: {r.Error}; rolled back {r.Applied.Count} change(s)",
        TuneStatus.RollbackIncomplete => $"{r.Nic.Name}: profile {r.Profile}: {r.Error}; ROLLBACK INCOMPLETE: {string.Join("; ", r.RollbackErrors)}",
        _ => $"{r.Nic.Name}: profile {r.Profile}: not tuned: {r.Error}",
    };
}
