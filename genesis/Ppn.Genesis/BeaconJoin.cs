using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;

namespace Ppn.Genesis;

/// <summary>What a scan-and-join gave: no beacon heard, a join that failed (why), or the stored grant.</summary>
public sealed record BeaconJoinOutcome(EnrolmentGrant? Grant, string? JoinFailure)
{
    public bool HeardNoBeacon => Grant is null && JoinFailure is null;
    /// <summary>Join attempts made (0: no beacon heard).</summary>
    public int JoinAttempts { get; init; }
    /// <summary>The reason of a signed refusal, when the authority refused this node.</summary>
    public RefusalReason? Refusal { get; init; }
}

/// <summary>
/// Scan for a pinned authority's beacon, wait (bounded) for the node's own link-local address on that link, then
/// join through the registrar the beacon names (JoinClient stores the grant before it returns it). The one home of
/// scan-then-join: genesis at boot (<see cref="GenesisProtocol"/>) and a beacon-rescan command both run it.
/// </summary>
public sealed class BeaconJoin(IBeaconScanner scanner, GenesisPlan plan, EnrolmentStore store, IInterfaceAddressSource addresses, Action<string> log)
{
    /// <summary>How long the join waits for the node's own link-local address on the beacon's link to finish DAD.</summary>
    public static readonly TimeSpan LinkLocalWait = TimeSpan.FromSeconds(15);

    public BeaconJoinOutcome Run(NodeKeyPair keys, CancellationToken cancellation)
    {
        var beacon = scanner.Scan(plan.ScanWindow, cancellation);
        if (beacon is null)
        {
            return new BeaconJoinOutcome(null, null);
        }
        WaitForOwnLinkLocal(beacon.InterfaceIndex, cancellation);
        var retry = plan.JoinRetry with { MaxAttempts = plan.JoinAttempts, Budget = plan.JoinRetry.Budget ?? plan.ScanWindow };
        var outcome = new JoinClient(plan.Trust, store, log, plan.Timeouts, retry: retry).Join(keys, beacon, cancellation);
        return (outcome.Succeeded ? new BeaconJoinOutcome(outcome.Grant, null) : new BeaconJoinOutcome(null, outcome.Failure ?? "no reason given"))
            with { JoinAttempts = outcome.Attempts, Refusal = outcome.Refusal };
    }

    // A beacon can arrive (AF_PACKET needs no address) while the node's own link-local address is still tentative
    // (duplicate address detection right after link-up): a connect from it then fails with EADDRNOTAVAIL or
    // ENETUNREACH, and every join attempt would be spent before the address exists. Wait for it, bounded.
    private void WaitForOwnLinkLocal(int interfaceIndex, CancellationToken cancellation)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var changes = addresses.SubscribeToChanges();
        while (!addresses.Read().Any(a => a.IsUsable && a.InterfaceIndex == interfaceIndex))
        {
            var left = LinkLocalWait - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                log($"no usable link-local address on interface {interfaceIndex} after {LinkLocalWait.TotalSeconds:0} s; joining anyway");
                return;
            }
            if (cancellation.IsCancellationRequested) return;
            // Woken by the kernel's address or link notification; the slice only bounds how late a cancellation is seen.
            changes.Wait(left < CancellationSlice ? left : CancellationSlice);
        }
    }

    private static readonly TimeSpan CancellationSlice = TimeSpan.FromMilliseconds(250);
}
