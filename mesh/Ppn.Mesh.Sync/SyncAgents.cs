using System.Net;
using System.Net.Sockets;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync;

/// <summary>How an agent reaches ppn0 and the network: the appliance passes the kernel backends, tests a namespace.</summary>
public sealed record MeshAccess(
    Func<MeshConfig, BringUpReport> Apply,
    Func<WireGuardDevice?> Read,
    Func<AddressFamily, Socket> CreateSocket);

public sealed record SyncAgentOptions
{
    /// <summary>After a failed exchange, wait this long before the next (doubling up to <see cref="MaxBackoff"/>).</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// Requests start at least this far apart: a server (or a man in the middle of the underlay) that answers
    /// <c>NotModified</c> at once, instead of holding the request, cannot make the node reconnect in a spin. Legitimate
    /// early answers (the relay's hints change, about once a second at most) are far slower.
    /// </summary>
    public TimeSpan MinRequestSpacing { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Test seam: every wait of the pull loop (the spacing and the backoff).</summary>
    internal Func<TimeSpan, CancellationToken, Task> Delay { get; init; } = Task.Delay;
    /// <summary>Re-converge ppn0 at least this often even when nothing changed (drift repair, like the lifecycle's tick).</summary>
    public TimeSpan ConvergeInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The spokes' direct-path policy step.</summary>
    public TimeSpan PolicyTick { get; init; } = TimeSpan.FromSeconds(1);
    public SyncClientOptions Client { get; init; } = new();
    public SyncServerOptions Server { get; init; } = new();
}

/// <summary>
/// A node's sync as `ppn mesh status` and /run/ppn/status.json show it (docs/protocol/sync.md §Status): the serial of
/// the set (or kept roster) ppn0 is built from, its peer count, where it came from, and refusals by reason.
/// </summary>
public sealed record SyncStatus(string Role, ulong Serial, int Peers, string Source, IReadOnlyDictionary<string, long> Refusals)
{
    public const string Signed = "signed";
    public const string Roster = "roster";
    public const string NoSet = "none";

    /// <summary>Every refusal verdict of a set, 0 included (stable keys for scripts and metrics), in ordinal order.</summary>
    public static SortedDictionary<string, long> SetRefusals(PeerSetState state)
    {
        var counted = state.Refusals;
        var refusals = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var verdict in Enum.GetValues<SetVerdict>().Where(v => v != SetVerdict.Accepted)) refusals[verdict.ToString()] = counted.GetValueOrDefault(verdict);
        return refusals;
    }
}

/// <summary>Long-polls one sync server and offers every set it gets to the node's state.</summary>
internal static class PullLoop
{
    public static async Task RunAsync(IPEndPoint server, PeerSetState state, Func<AddressFamily, Socket> sockets, SyncAgentOptions options,
        Action<SyncReply>? onReply, Action<string> log, CancellationToken stopping)
    {
        var backoff = options.Backoff;
        string? lastError = null;
        long lastStart = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (lastStart != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(lastStart) is var since && since < options.MinRequestSpacing)
                {
                    await options.Delay(options.MinRequestSpacing - since, stopping);
                }
                lastStart = System.Diagnostics.Stopwatch.GetTimestamp();
                var reply = await SyncClient.ExchangeAsync(server, state.RequestSince, sockets, options.Client, stopping);
                var verdict = reply.Set is { } document ? state.Offer(document, out _) : SetVerdict.Accepted;
                onReply?.Invoke(reply);
                if (verdict != SetVerdict.Accepted)
                {
                    // A server that follows the protocol sends only a set above `since`, which verifies: a refused one is a
                    // replay or a forgery (a man in the middle of the underlay). Reconnecting at once would let it keep
                    // this node verifying old sets back to back, so it is a failure like any other, with the backoff.
                    throw new InvalidDataException($"the set it sent is refused ({verdict})");
                }
                backoff = options.Backoff;
                lastError = null;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Network and protocol failures are expected; anything else (a state file that cannot be written, a bug)
                // is said with its type, and the loop goes on: mesh sync that stops silently would keep revoked peers.
                string what = e is SocketException or TimeoutException or InvalidDataException or IOException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                if (what != lastError) log($"sync with {server}: {what}; retrying");
                lastError = what;
                try { await options.Delay(backoff, stopping); } catch (OperationCanceledException) { return; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxBackoff.Ticks));
            }
        }
    }
}

/// <summary>
/// The relay role's sync (docs/protocol/sync.md §Relay): long-polls the authority, keeps the verified set
/// (persisted), converges ppn0 to base + set on every accepted set and every <see cref="SyncAgentOptions.ConvergeInterval"/>,
/// and serves the set with its observed endpoints to the spokes on the sync port inside ppn0. With a
/// <paramref name="roster"/> store it keeps the roster of every accepted set there and, holding no set at start (a
/// reboot of a RAM-only image), forwards for the kept roster's spokes until the authority's first set replaces it
/// (§Relay roster); the roster is never served.
/// </summary>
public sealed class RelaySync(MeshConfig baseConfig, PeerSetState state, IPEndPoint authority, MeshAccess mesh,
    Func<Socket> bindListener, Action<string> log, SyncAgentOptions? options = null, IRelayRosterStore? roster = null)
{
    private readonly SemaphoreSlim _converging = new(1, 1);
    private readonly SyncAgentOptions _options = options ?? new SyncAgentOptions();
    private readonly Lock _rosterGate = new();
    private RelayRoster? _restored;
    private RelayRoster? _kept;
    private bool _rosterLoaded;
    private bool _rosterWriteFailed;
    private readonly Dictionary<RosterVerdict, long> _rosterRefused = [];
    private int _peers;

    public PeerSetState State => state;

    /// <summary>The kept roster ppn0 is built from while no signed set is held; null otherwise.</summary>
    public RelayRoster? RestoredRoster { get { lock (_rosterGate) return _restored; } }

    /// <summary>Refused rosters by reason (at most one per start: the roster is read once).</summary>
    public IReadOnlyDictionary<RosterVerdict, long> RosterRefusals { get { lock (_rosterGate) return new Dictionary<RosterVerdict, long>(_rosterRefused); } }

    /// <summary>What ppn0 was last converged to, for status (sync.md §Status).</summary>
    public SyncStatus Status()
    {
        var refusals = SyncStatus.SetRefusals(state);
        var roster = RosterRefusals;
        foreach (var reason in Enum.GetValues<RosterVerdict>().Where(v => v is not RosterVerdict.Accepted and not RosterVerdict.None))
        {
            refusals["Roster" + reason] = roster.GetValueOrDefault(reason);
        }
        var source = state.Current is not null ? SyncStatus.Signed : RestoredRoster is not null ? SyncStatus.Roster : SyncStatus.NoSet;
        return new SyncStatus("relay", state.Current?.Serial ?? RestoredRoster?.Serial ?? 0, Volatile.Read(ref _peers), source, refusals);
    }

    /// <summary>
    /// Reads the kept roster once, before the first bring-up, when no signed set is held (sync.md §Relay roster). A
    /// refused roster is said in one line and counted; the relay then starts with no spokes, never with part of them.
    /// </summary>
    public void RestoreRoster()
    {
        lock (_rosterGate)
        {
            if (_rosterLoaded || roster is null) return;
            _rosterLoaded = true;
            RosterVerdict verdict;
            RelayRoster? kept;
            string detail;
            try
            {
                verdict = RelayRosterKeeping.Load(roster, baseConfig.PrivateKey.PublicKey().Bytes, state.Serial, out kept, out detail);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                log($"the relay roster cannot be read ({e.Message}){(state.Current is null ? "; starting with no spokes until the authority answers" : "")}");
                return;
            }
            if (state.Current is not null)
            {
                // A service restart: the set's file survived and is what ppn0 is built from. The kept roster only spares a rewrite.
                if (verdict == RosterVerdict.Accepted) _kept = kept;
                return;
            }
            if (verdict == RosterVerdict.Accepted)
            {
                _restored = _kept = kept;
                log($"relay roster restored: {detail} (unsigned: forwarded for, never served; the authority's next set replaces it)");
                // The roster is kept after the floor; a floor write that failed leaves it ahead. Its serial is a floor too.
                if (kept!.Serial > state.FloorSerial)
                {
                    log($"the serial floor {state.FloorSerial} is below the roster's {kept.Serial} (a floor write failed): raised to it");
                    state.RaiseFloor(kept.Serial);
                }
            }
            else if (verdict != RosterVerdict.None)
            {
                _rosterRefused[verdict] = _rosterRefused.GetValueOrDefault(verdict) + 1;
                log($"the relay roster is refused ({verdict}: {detail}); starting with no spokes until the authority answers");
            }
        }
    }

    /// <summary>Keeps the roster of an accepted set when it differs from the one kept; a failed write is said once and the set still used.</summary>
    private void KeepRoster(PeerSet set)
    {
        lock (_rosterGate)
        {
            _restored = null;
            if (roster is null) return;
            var next = RelayRoster.From(set);
            if (next.SameAs(_kept)) return;
            try
            {
                RelayRosterKeeping.Save(roster, next);
                _kept = next;
                _rosterWriteFailed = false;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                if (!_rosterWriteFailed) log($"the relay roster cannot be kept ({e.Message}): after a reboot the relay forwards for no spoke until the authority answers");
                _rosterWriteFailed = true;
            }
        }
    }
    /// <summary>Completes once the sync server listens (ppn0 is up with the relay's address).</summary>
    public Task Listening => _listening.Task;
    private readonly TaskCompletionSource<EndPoint> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public SyncServer? Server { get; private set; }

    public async Task RunAsync(CancellationToken stopping)
    {
        RestoreRoster();
        // ppn0 first: the listener binds the relay's mesh address.
        while (!await ConvergeAsync())
        {
            try { await Task.Delay(_options.Backoff, stopping); } catch (OperationCanceledException) { return; }
        }
        var listener = bindListener();
        var serving = _options.Server;
        var meshPrefix = baseConfig.Address.Network();
        if (serving.Sources is null && listener.LocalEndPoint is IPEndPoint local && meshPrefix.Contains(new IpPrefix(local.Address, 32)))
        {
            // Binding 10.8.0.1 does not keep the underlay out: Linux takes a packet for any local address on any
            // interface (the weak host model), so a neighbour routing 10.8.0.1 at the relay's underlay address reaches the
            // listener. So only mesh sources are served: a neighbour that forges one never completes the TCP handshake
            // (the relay answers it through ppn0), and through ppn0 WireGuard admits a mesh source only from the peer
            // whose AllowedIPs hold it (sync.md §Sync port).
            serving = serving with { Sources = meshPrefix };
        }
        await using var server = new SyncServer(listener, state, _hints, serving);
        Server = server;
        _listening.TrySetResult(server.LocalEndPoint);
        log($"sync: serving the peer set on {server.LocalEndPoint}; pulling from the authority at {authority}");
        var pulling = PullLoop.RunAsync(authority, state, mesh.CreateSocket, _options, null, log, stopping);
        var converging = ConvergeOnChangesAsync(stopping);
        var watching = WatchEndpointsAsync(stopping);
        await Task.WhenAll(pulling, converging, watching);
    }

    private readonly RelayHints _hints = new();

    /// <summary>Reads the spokes' endpoints every <see cref="SyncAgentOptions.PolicyTick"/>: a new or moved endpoint answers held requests at once.</summary>
    private async Task WatchEndpointsAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using var device = mesh.Read();
                if (device is not null) _hints.Update(MeshPlan.HintsFrom(device, DateTimeOffset.UtcNow));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // hints are optional; the set is what matters
            }
            try { await Task.Delay(_options.PolicyTick, stopping); } catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>The relay's current hints; "changed" means a spoke appeared, left or moved (ages alone are no change).</summary>
    private sealed class RelayHints : IHintSource
    {
        private readonly Lock _gate = new();
        private IReadOnlyList<EndpointHint> _hints = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<EndpointHint> Hints() { lock (_gate) return _hints; }
        public Task Changed { get { lock (_gate) return _changed.Task; } }

        public void Update(IReadOnlyList<EndpointHint> hints)
        {
            TaskCompletionSource? fire = null;
            lock (_gate)
            {
                bool same = hints.Count == _hints.Count && hints.All(h => _hints.Any(o => o.PublicKey == h.PublicKey && o.Endpoint.Equals(h.Endpoint)));
                _hints = hints;
                if (!same)
                {
                    fire = _changed;
                    _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
            fire?.TrySetResult();
        }
    }

    private async Task ConvergeOnChangesAsync(CancellationToken stopping)
    {
        // The change signal is taken before each converge reads the set: a set accepted while a converge runs (two in
        // quick succession) then wakes the next one at once. Taken after, it would be missed until the next interval,
        // and with it the roster of that set (a power cut in between left a roster below the floor: Stale at the boot).
        var changed = state.Changed;
        await ConvergeAsync();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await changed.WaitAsync(_options.ConvergeInterval, stopping);
            }
            catch (TimeoutException) { }
            catch (OperationCanceledException) { return; }
            changed = state.Changed;
            await ConvergeAsync();
        }
    }

    /// <summary>ppn0 = base + the current set. False (logged) when the bring-up failed; the next tick retries.</summary>
    public async Task<bool> ConvergeAsync()
    {
        await _converging.WaitAsync();
        try
        {
            var set = state.Current;
            if (set is not null) KeepRoster(set);
            var restored = RestoredRoster;
            using var config = set is null && restored is not null ? MeshPlan.Relay(baseConfig, restored) : MeshPlan.Relay(baseConfig, set);
            var report = mesh.Apply(config);
            Volatile.Write(ref _peers, config.Peers.Count);
            if (report.Changed)
            {
                var from = set is null && restored is not null ? $"the kept roster of serial {restored.Serial}" : $"peer set serial {set?.Serial ?? 0}";
                log($"ppn0 converged to {from} ({config.Peers.Count} peer(s)): {string.Join("; ", report.Changes)}");
            }
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log($"ppn0 bring-up failed: {e.Message}");
            return false;
        }
        finally
        {
            _converging.Release();
        }
    }
}

/// <summary>
/// A spoke's sync (docs/protocol/sync.md §Spoke): long-polls the relay's sync port through ppn0, keeps the verified
/// set (persisted), and steps the direct-path policy every <see cref="SyncAgentOptions.PolicyTick"/>; ppn0 = the
/// enrolment's hub peer + the policy's peers.
/// </summary>
public sealed class SpokeSync
{
    private readonly Func<MeshConfig> _enrolled;
    private readonly PeerSetState _state;
    private readonly IPEndPoint _relay;
    private readonly MeshAccess _mesh;
    private readonly Action<string> _log;
    private readonly SyncAgentOptions _options;
    private readonly DirectPaths _paths;
    private readonly object _gate = new();
    private IReadOnlyList<EndpointHint> _hints = [];
    private IReadOnlyList<MeshPeer> _peers = [];
    private readonly WireGuardKey _self;

    /// <param name="enrolled">The enrolment's ppn0 (own key, address, the hub as the only peer); a fresh copy per call.</param>
    public SpokeSync(Func<MeshConfig> enrolled, WireGuardKey self, PeerSetState state, IPEndPoint relaySync, MeshAccess mesh, Action<string> log,
        SyncAgentOptions? options = null, DirectPathOptions? direct = null)
    {
        _enrolled = enrolled;
        _self = self;
        _state = state;
        _relay = relaySync;
        _mesh = mesh;
        _log = log;
        _options = options ?? new SyncAgentOptions();
        _paths = new DirectPaths(self, direct);
    }

    public PeerSetState State => _state;

    /// <summary>The spoke's sync for status (sync.md §Status): peers = the hub and the direct-path policy's peers.</summary>
    public SyncStatus Status() => new("spoke", _state.Current?.Serial ?? 0, 1 + DirectPeers.Count,
        _state.Current is not null ? SyncStatus.Signed : SyncStatus.NoSet, SyncStatus.SetRefusals(_state));

    public DirectState? StateOf(WireGuardKey peer) { lock (_gate) return _paths.StateOf(peer); }

    /// <summary>The peers besides the hub ppn0 should carry now (the appliance's own converge tick uses them too).</summary>
    public IReadOnlyList<MeshPeer> DirectPeers { get { lock (_gate) return _peers; } }

    /// <summary>Transitions so far, newest last (bounded to the last 256).</summary>
    public IReadOnlyList<DirectTransition> Transitions { get { lock (_gate) return _transitions.ToList(); } }
    private readonly Queue<DirectTransition> _transitions = new();

    public async Task RunAsync(CancellationToken stopping)
    {
        var pulling = PullLoop.RunAsync(_relay, _state, _mesh.CreateSocket, _options, reply => { lock (_gate) _hints = reply.Hints; }, _log, stopping);
        var stepping = StepLoopAsync(stopping);
        await Task.WhenAll(pulling, stepping);
    }

    private async Task StepLoopAsync(CancellationToken stopping)
    {
        var lastConverge = DateTimeOffset.MinValue;
        ulong convergedSerial = ulong.MaxValue;
        bool saidRevoked = false;
        while (!stopping.IsCancellationRequested)
        {
            var changed = _state.Changed;
            bool apply;
            try
            {
                apply = Step(out var revoked);
                // Said once, when it becomes true: the step runs every second for as long as the node lives.
                if (revoked && !saidRevoked) _log("this node's key is revoked in the peer set: no direct paths");
                saidRevoked = revoked;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _log($"direct paths: reading ppn0 failed: {e.Message}");
                apply = false;
            }
            var now = DateTimeOffset.UtcNow;
            if (apply || _state.Serial != convergedSerial || now - lastConverge >= _options.ConvergeInterval)
            {
                if (Converge())
                {
                    lastConverge = now;
                    convergedSerial = _state.Serial;
                }
            }
            try
            {
                await changed.WaitAsync(_options.PolicyTick, stopping);
            }
            catch (TimeoutException) { }
            catch (OperationCanceledException) { return; }
        }
    }

    private bool Step(out bool selfRevoked)
    {
        using var device = _mesh.Read();
        var set = _state.Current;
        selfRevoked = set?.IsRevoked(_self.Bytes) == true;
        IReadOnlyList<EndpointHint> hints;
        lock (_gate) hints = _hints;
        PeerObservation? Observe(WireGuardKey key)
        {
            var peer = device?.Peers.FirstOrDefault(p => p.PublicKey == key);
            return peer is null ? null : new PeerObservation(peer.LastHandshake, peer.ReceiveBytes, peer.Endpoint);
        }
        lock (_gate)
        {
            var transitions = _paths.Step(selfRevoked ? null : set, hints, Observe, DateTimeOffset.UtcNow);
            foreach (var t in transitions)
            {
                _log($"direct path to {t.Address}: {t.From} -> {t.To} ({t.Reason})");
                _transitions.Enqueue(t);
                if (_transitions.Count > 256) _transitions.Dequeue();
            }
            _peers = _paths.Peers();
            return transitions.Count > 0;
        }
    }

    /// <summary>ppn0 = enrolment + policy peers; false (logged) when the bring-up failed.</summary>
    public bool Converge()
    {
        try
        {
            using var enrolled = _enrolled();
            using var config = MeshPlan.Spoke(enrolled, DirectPeers);
            var report = _mesh.Apply(config);
            if (report.Changed) _log($"ppn0: {string.Join("; ", report.Changes)}");
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log($"ppn0 bring-up failed: {e.Message}");
            return false;
        }
    }
}
