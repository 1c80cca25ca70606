using System.Diagnostics;
using System.Net.Sockets;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Claim;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Join;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.UefiVars;

namespace Ppn.Genesis;

public enum GenesisPhase
{
    Starting,
    Holding,
    /// <summary>No usable identity (corrupt record, failed storage): holding with an error banner.</summary>
    HoldingWithoutIdentity,
    /// <summary>A verified, stored enrolment (join, claim, or restored from UEFI variables): the mesh may come up.</summary>
    Enrolled,
}

/// <summary>
/// What turns self-genesis into the whole Genesis Protocol: the pinned authority keys, the scan window, and
/// what to do with the enrolment once it is stored. Without a plan the protocol only self-geneses (holds for a claim).
/// </summary>
public sealed record GenesisPlan(AuthorityTrust Trust, TimeSpan ScanWindow, Action<EnrolmentGrant>? OnEnrolled = null)
{
    public GenesisTimeouts Timeouts { get; init; } = new();
    /// <summary>Join attempts in all (docs/protocol/genesis.md §Join retries); the back-off between them is <see cref="JoinRetry"/>'s.</summary>
    public int JoinAttempts { get; init; } = JoinRetryPolicy.DefaultMaxAttempts;
    /// <summary>The back-off; its budget is the scan window unless set (the authority is expected back within it).</summary>
    public JoinRetryPolicy JoinRetry { get; init; } = new();
}

/// <summary>Listens for an authority beacon for at most <c>window</c>; a verified beacon or null (nothing heard, or only rogue ones).</summary>
public interface IBeaconScanner
{
    VerifiedBeacon? Scan(TimeSpan window, CancellationToken cancellation);
}

/// <summary>For images without pinned authority keys: reports honestly that it heard nothing, so the node self-geneses.</summary>
public sealed class NoBeaconScanner : IBeaconScanner
{
    public VerifiedBeacon? Scan(TimeSpan window, CancellationToken cancellation) => null;
}

/// <summary>
/// The whole Genesis Protocol on a node (docs/protocol/genesis.md §State machine): identity (restore or create), a
/// stored enrolment restored; else, with a <see cref="GenesisPlan"/>, scan for a beacon and join; with no beacon (or no
/// plan), self-genesis: hold on TCP 9443 on the link-local addresses until claimed or cancelled, re-binding when
/// addresses change.
/// </summary>
public sealed class GenesisProtocol
{
    private readonly IVariableStore _store;
    private readonly EntropyMixer _mixer;
    private readonly IInterfaceAddressSource _addresses;
    private readonly IBeaconScanner _scanner;
    private readonly HoldingOptions _options;
    private readonly Action<string> _log;
    private readonly GenesisPlan? _plan;
    private ClaimHandler? _claims;

    public GenesisProtocol(IVariableStore store, EntropyMixer mixer, IInterfaceAddressSource addresses, IBeaconScanner scanner, HoldingOptions options, Action<string> log, GenesisPlan? plan = null)
    {
        _plan = plan;
        _store = store;
        _mixer = mixer;
        _addresses = addresses;
        _scanner = scanner;
        _options = options;
        _log = log;
    }

    public GenesisPhase Phase { get; private set; } = GenesisPhase.Starting;
    public string? PublicKeyBase64 { get; private set; }
    public HoldingListener? Listener { get; private set; }
    /// <summary>After a claim in this run: 9443 still answering with the enrolled banner (ends by itself); null otherwise.</summary>
    public EnrolledAnnouncement? Announcement { get; private set; }
    /// <summary>The verified, stored enrolment once <see cref="Phase"/> is <see cref="GenesisPhase.Enrolled"/>.</summary>
    public EnrolmentGrant? Enrolment { get; private set; }
    /// <summary>True when <see cref="Enrolment"/> was made in this run (join or claim), false when it was restored.</summary>
    public bool EnrolledThisRun { get; private set; }
    /// <summary>How <see cref="Enrolment"/> was made: "restored", "join" or "claim" (telemetry's ppn_enrolment_info origin).</summary>
    public string? EnrolledBy { get; private set; }
    /// <summary>Join attempts this run made (0: none: restored, or no beacon heard).</summary>
    public int JoinAttempts { get; private set; }
    /// <summary>Set when the authority's signed refusal sent this run to self-genesis.</summary>
    public RefusalReason? Refusal { get; private set; }

    public void Run(CancellationToken cancellation)
    {
        NodeIdentity? identity = null;
        string banner;
        try
        {
            identity = new IdentityStore(_store, _mixer, _log).LoadOrCreate();
            PublicKeyBase64 = identity.PublicKeyBase64;
            _log($"identity {identity.Origin.ToString().ToLowerInvariant()}: {identity.PublicKeyBase64} (entropy: {identity.Sources})");
            banner = GenesisBanner.Format(identity.PublicKeyBase64);
        }
        catch (IdentityException e)
        {
            _log($"no usable identity ({e.Kind}): {e.Message}");
            banner = GenesisBanner.FormatError(e.Kind == IdentityErrorKind.Corrupt ? "identity-corrupt" : "identity-storage-failed");
        }

        try
        {
            if (identity is not null && _plan is not null && TryEnrol(identity, cancellation))
            {
                return;
            }
            if (identity is not null && _plan is not null)
            {
                _claims = new ClaimHandler(identity.Keys, _plan.Trust, new EnrolmentStore(_store), _log);
            }
            var nodeKey = identity?.Keys.PublicKey.ToArray();
            // Once claimed, the same listener says so (no gap in which a claimant whose ack was lost finds nothing).
            string CurrentBanner() => _claims?.ClaimedBy is { } by && nodeKey is not null ? GenesisBanner.FormatEnrolled(nodeKey, by) : banner;
            Hold(CurrentBanner, cancellation, identity is null ? GenesisPhase.HoldingWithoutIdentity : GenesisPhase.Holding);
            if (_claims is { Claimed.IsCompletedSuccessfully: true })
            {
                Enrolled(_claims.Claimed.Result, "claim");
            }
        }
        finally
        {
            _claims?.Dispose();
            identity?.Dispose();
        }
    }

    // Restored enrolment, else beacon scan and join; any failure falls through to self-genesis (never to an
    // unauthenticated state: nothing is used that a pinned key did not sign for this node's key).
    private bool TryEnrol(NodeIdentity identity, CancellationToken cancellation)
    {
        var plan = _plan!;
        var store = new EnrolmentStore(_store);
        var stored = store.TryLoad(identity.Keys.PublicKey, plan.Trust, out var origin, out var problem);
        if (stored is not null)
        {
            Enrolled(stored, $"restored ({origin.ToString().ToLowerInvariant()})");
            return true;
        }
        if (problem is not null)
        {
            _log($"stored enrolment not used: {problem}");
        }
        var joined = new BeaconJoin(_scanner, plan, store, _addresses, _log).Run(identity.Keys, cancellation);
        JoinAttempts = joined.JoinAttempts;
        Refusal = joined.Refusal;
        if (joined.HeardNoBeacon)
        {
            _log("no authority beacon in the scan window: self-genesis");
            return false;
        }
        if (joined.Grant is null)
        {
            _log($"mesh join failed ({joined.JoinFailure}): self-genesis");
            return false;
        }
        Enrolled(joined.Grant, "join");
        return true;
    }

    private void Enrolled(EnrolmentGrant grant, string how)
    {
        Enrolment = grant;
        EnrolledThisRun = !how.StartsWith("restored", StringComparison.Ordinal);
        EnrolledBy = EnrolledThisRun ? how : "restored";
        Phase = GenesisPhase.Enrolled;
        _log($"enrolled by {how}: node {grant.NodeId}, {grant.Address}/24, hub {grant.HubEndpoint} key {Convert.ToBase64String(grant.HubPublicKey)}, command-key epoch {grant.CommandKeyEpoch}");
        _plan?.OnEnrolled?.Invoke(grant);
    }

    private void Hold(Func<string> banner, CancellationToken outer, GenesisPhase phase)
    {
        // A successful claim ends the holding pattern as cancellation does.
        using var claimedOrCancelled = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _claims?.Claimed.ContinueWith(_ => { try { claimedOrCancelled.Cancel(); } catch (ObjectDisposedException) { } }, TaskContinuationOptions.OnlyOnRanToCompletion);
        var cancellation = claimedOrCancelled.Token;
        while (!cancellation.IsCancellationRequested)
        {
            var waited = Stopwatch.StartNew();
            var addresses = ProcNetIfInet6.WaitForLinkLocal(_addresses, TimeSpan.FromSeconds(10));
            if (addresses.Count > 0)
            {
                // The network wait of the boot timeline (docs/performance.md): carrier, then DAD unless optimistic.
                int optimistic = addresses.Count(a => a.IsTentative && a.IsOptimistic);
                _log($"link-local address(es) usable after {waited.ElapsedMilliseconds} ms" +
                    (optimistic > 0 ? $" ({optimistic} optimistic: duplicate address detection still runs)" : ""));
            }
            if (addresses.Count == 0)
            {
                _log("no usable IPv6 link-local address yet (links down or DAD pending); retrying");
                cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(5));
                continue;
            }
            var endpoints = addresses.Select(a => a.EndPoint(_options.Port)).ToList();
            HoldingListener listener;
            try
            {
                listener = HoldingListener.Start(endpoints, banner, _options, (IClaimHandler?)_claims ?? new NoClaimYet(), _log);
            }
            catch (SocketException e)
            {
                // An address that vanished between reading and binding, say: read them again shortly.
                _log($"holding listener could not bind ({e.SocketErrorCode}: {e.Message}); retrying");
                cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                continue;
            }
            bool handedOver = false;
            try
            {
                Listener = listener;
                Phase = phase;
                foreach (var a in addresses)
                {
                    _log($"holding on [{a.Address}%{a.InterfaceName}]:{_options.Port}");
                }
                // Re-check the addresses now and then: a link that comes up later gets its listener too. A listener
                // whose accept loop gave up (HoldingListener.Failed) is replaced by a fresh one.
                var bound = addresses.Select(a => (a.Address, a.InterfaceIndex)).ToHashSet();
                var wake = new[] { cancellation.WaitHandle, ((IAsyncResult)listener.Failed).AsyncWaitHandle };
                while (true)
                {
                    int which = WaitHandle.WaitAny(wake, TimeSpan.FromSeconds(30));
                    if (which == 0) break;
                    if (which == 1)
                    {
                        _log($"holding listener failed ({listener.Failed.Result}): re-binding");
                        break;
                    }
                    var now = _addresses.Read().Where(a => a.IsUsable).Select(a => (a.Address, a.InterfaceIndex)).ToHashSet();
                    if (!now.SetEquals(bound))
                    {
                        _log("link-local addresses changed: re-binding the holding listener");
                        break;
                    }
                }
                if (_claims is { Claimed.IsCompletedSuccessfully: true } && !outer.IsCancellationRequested && _options.EnrolledAnnouncement > TimeSpan.Zero)
                {
                    Announcement = new EnrolledAnnouncement(listener, _options.EnrolledAnnouncement, outer, _log);
                    handedOver = true;
                }
            }
            finally
            {
                Listener = null;
                if (!handedOver) listener.Dispose();
            }
        }
    }
}

/// <summary>
/// The holding listener of a node claimed in this run, kept answering with the enrolled banner
/// (docs/protocol/genesis.md §Claim) so a claimant whose ack was lost can tell; it closes itself after the
/// period, when the node stops, or when disposed.
/// </summary>
public sealed class EnrolledAnnouncement : IDisposable
{
    private readonly HoldingListener _listener;
    private readonly Action<string> _log;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    internal EnrolledAnnouncement(HoldingListener listener, TimeSpan period, CancellationToken stopping, Action<string> log)
    {
        _listener = listener;
        _log = log;
        log($"claimed: 9443 answers with the enrolled banner for {period.TotalMinutes:0.#} min");
        _ = Task.Delay(period, stopping).ContinueWith(_ => Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>Completes once the listener is closed.</summary>
    public Task Ended => _ended.Task;

    public HoldingListener Listener => _listener;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _listener.Dispose();
        _log("the enrolled banner on 9443 is withdrawn");
        _ended.TrySetResult();
    }
}
