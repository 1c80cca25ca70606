using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ppn.Genesis.Holding;

public sealed record HoldingOptions
{
    /// <summary>The holding port (docs/protocol/genesis.md §Claim): the one home of 9443.</summary>
    public const int DefaultPort = Ppn.Formats.PpnPorts.Holding;

    public int Port { get; init; } = DefaultPort;
    /// <summary>
    /// When set, every listening socket is also bound to this interface (SO_BINDTODEVICE, socket(7)), so only
    /// connections arriving on it are accepted. Linux is a weak host: a SYN for any local address is accepted on any
    /// link, so an address alone does not keep a listener off the others (the telemetry port on ppn0's address would
    /// answer a LAN host that routes 10.8.0.0/24 to the node's underlay address). Link-local addresses need none:
    /// their scope id binds them to their link already.
    /// </summary>
    public string? Device { get; init; }
    /// <summary>Connections served at once (the unclaimed node is on a hostile LAN); see <see cref="WhenFull"/>.</summary>
    public int MaxConnections { get; init; } = 64;
    /// <summary>
    /// The kernel's queue of completed handshakes not yet accepted: sized for floods, not for the cap, so a genuine
    /// SYN is not dropped (and retransmitted 1, 2, 4 s later) while the accept loop drains a burst. Linux caps it
    /// at net.core.somaxconn (4096 by default).
    /// </summary>
    public int Backlog { get; init; } = 1024;
    /// <summary>How long a connection may stay silent before it is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The most a peer may send before it is cut off (claim frames are small).</summary>
    public int MaxInboundBytes { get; init; } = 4096;
    /// <summary>
    /// The claim hello must arrive whole within this after the banner. The genuine claimant sends it at once; an
    /// unproven connection is never worth more than this.
    /// </summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>After a proven hello, the whole handshake must be done within this, however slowly bytes trickle in.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Claims (proven hellos) run at once; one Noise handshake is a few X25519 operations, so bounded by the CPUs.</summary>
    public int MaxConcurrentHandshakes { get; init; } = Math.Clamp(Environment.ProcessorCount, 2, 16);
    /// <summary>No connection lives longer than this, whatever it does (slowloris).</summary>
    public TimeSpan MaxConnectionLifetime { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Connections one source address may hold at once.</summary>
    public int PerSourceMaxConnections { get; init; } = 8;
    /// <summary>New connections per second one source address may open (token bucket, burst of twice this).</summary>
    public double PerSourceRatePerSecond { get; init; } = 10;
    /// <summary>After a claim in this run, 9443 keeps answering with the enrolled banner this long (0: not at all).</summary>
    public TimeSpan EnrolledAnnouncement { get; init; } = GenesisBanner.EnrolledAnnouncement;
    /// <summary>At the cap: close a connection to make room (so a flood cannot lock a claim out), or refuse the new one.</summary>
    public FullPolicy WhenFull { get; init; } = FullPolicy.Evict;
    /// <summary>
    /// The clock of the per-source rate buckets, and so of admission and of eviction's tie-break (a monotonic
    /// timestamp). Tests give a fake one so that those decisions do not depend on how fast a loaded machine runs them;
    /// the timeouts and the lifetime run on real time whatever this is.
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

internal enum HoldingPoint { BeforeAccept, EvictionChosen, Released }

public enum FullPolicy
{
    /// <summary>
    /// The source address holding the most connections loses its oldest unprotected one (among sources holding as
    /// many: the one with the fewest rate tokens left, i.e. the one opening connections fastest, then the oldest
    /// connection); a connection that proved a pinned authority key (<see cref="HoldingConnection.Protect"/>) is never
    /// evicted. When every connection is protected the new one is refused.
    /// </summary>
    Evict,
    RefuseNew,
}

/// <summary>
/// One accepted connection of the holding listener. The listener owns it: it is admitted, counted, evicted and
/// released under the listener's lock, and only its <see cref="Socket"/> is ever closed from outside the task
/// that serves it (closing a socket is idempotent and thread-safe; nothing else of it is shared).
/// </summary>
public sealed class HoldingConnection
{
    private readonly HoldingListener _owner;

    internal HoldingConnection(HoldingListener owner, Socket socket, IPAddress source, long sequence, HoldingOptions options)
    {
        _owner = owner;
        Socket = socket;
        Source = source;
        Sequence = sequence;
        Options = options;
    }

    public Socket Socket { get; }
    public IPAddress Source { get; }
    public HoldingOptions Options { get; }
    /// <summary>Admission order (the oldest has the lowest).</summary>
    internal long Sequence { get; }
    /// <summary>Guarded by the listener's lock.</summary>
    internal bool Protected { get; set; }
    /// <summary>Guarded by the listener's lock: false once evicted or released.</summary>
    internal bool Listed { get; set; }
    internal LinkedListNode<HoldingConnection>? SourceNode { get; set; }

    /// <summary>
    /// The peer proved a pinned authority key: from now on this connection is never evicted to make room. Only a
    /// claim handler that verified such a proof may call it, so only holders of a pinned key's private half (or a
    /// replay of one of their hellos, refused after its first use) ever hold a protected connection.
    /// </summary>
    public void Protect() => _owner.Protect(this);

    /// <summary>Aborts the connection (RST); the task serving it sees its socket fail and ends.</summary>
    internal void Abort() => Socket.Close(0);
}

/// <summary>What happens after the banner: the authenticated claim (<see cref="Claim.ClaimHandler"/>) plugs in here.</summary>
public interface IClaimHandler
{
    /// <summary>
    /// Serves one connection after its banner. Returning normally ends it gracefully (what was sent is delivered,
    /// then FIN); throwing, or the connection's lifetime ending, resets it.
    /// </summary>
    Task HandleAsync(HoldingConnection connection, CancellationToken cancellation);
}

/// <summary>
/// Until the claim protocol exists: read (bounded in bytes and idle time) and discard, then close politely,
/// so a technician's `nc` sees the banner and a clean end.
/// </summary>
public sealed class NoClaimYet : IClaimHandler
{
    public async Task HandleAsync(HoldingConnection holding, CancellationToken cancellation)
    {
        var (connection, options) = (holding.Socket, holding.Options);
        var buffer = new byte[512];
        int total = 0;
        while (total < options.MaxInboundBytes)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            idle.CancelAfter(options.IdleTimeout);
            int n;
            try
            {
                n = await connection.ReceiveAsync(buffer, SocketFlags.None, idle.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (n == 0)
            {
                return;
            }
            total += n;
        }
    }
}

/// <summary>
/// The holding pattern (Genesis Protocol step 4): TCP listeners on the node's link-local addresses. Each
/// connection first receives the banner line, then goes to the claim handler. The same bounded listener, without a
/// banner, serves the enrolled node's telemetry on its mesh address (appliance Telemetry/MetricsEndpoint): one home
/// for the node's hostile-network TCP discipline. Bounded everywhere: a
/// connection cap with fair eviction, a per-source rate and share, an idle timeout, a byte limit and a hard
/// lifetime. No exception a peer can cause leaves the accept loop; if a loop fails anyway (a bug, a broken
/// listening socket) it is restarted with a console line, and after repeated failures <see cref="Failed"/>
/// completes so the owner (<see cref="GenesisProtocol"/>) re-binds a fresh listener.
/// </summary>
public sealed class HoldingListener : IDisposable
{
    /// <summary>Consecutive failures of one accept loop (no successful accept in between) before it gives up.</summary>
    public const int MaxConsecutiveLoopFailures = 5;

    private readonly List<Socket> _listeners = new();
    private readonly CancellationTokenSource _stop = new();
    // Ends every connection's lifetime; cancelled by Dispose after protected (claiming) connections had their chance to finish.
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _loops = new();
    private readonly Func<string>? _banner;
    private readonly HoldingOptions _options;
    private readonly IClaimHandler _claims;
    private readonly Action<string> _log;
    private readonly TaskCompletionSource<string> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private readonly Dictionary<IPAddress, Source> _sources = new();
    private int _count;
    private long _sequence;
    private int _active;
    private long _evicted;
    private long _accepted;
    private long _refused;
    private long _errors;
    private long _restarts;

    private HoldingListener(Func<string>? banner, HoldingOptions options, IClaimHandler claims, Action<string> log)
    {
        _banner = banner;
        _options = options;
        _claims = claims;
        _log = log;
    }

    public IReadOnlyList<IPEndPoint> LocalEndPoints => _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!).ToList();
    public long Accepted => Interlocked.Read(ref _accepted);
    public long Refused => Interlocked.Read(ref _refused);
    /// <summary>Connections whose serving task has not finished yet.</summary>
    public int Active => Volatile.Read(ref _active);
    /// <summary>Connections closed to make room for newer ones (<see cref="FullPolicy.Evict"/>).</summary>
    public long Evicted => Interlocked.Read(ref _evicted);
    /// <summary>Times an accept loop failed and was restarted.</summary>
    public long LoopRestarts => Interlocked.Read(ref _restarts);
    /// <summary>
    /// Completes (with the reason) when an accept loop gave up after <see cref="MaxConsecutiveLoopFailures"/>
    /// failures in a row: the listener no longer serves that address and its owner should re-bind.
    /// </summary>
    public Task<string> Failed => _failed.Task;

    /// <summary>Test seam: called at named points of admission and release, to order races deterministically.</summary>
    internal Action<HoldingPoint>? TestHook { get; set; }

    public static HoldingListener Start(IEnumerable<IPEndPoint> endpoints, Func<string>? banner, HoldingOptions options, IClaimHandler claims, Action<string> log)
    {
        var listener = new HoldingListener(banner, options, claims, log);
        try
        {
            foreach (var endpoint in endpoints)
            {
                var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                listener._listeners.Add(socket);
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false;
                }
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                if (options.Device is { } device) BindToDevice(socket, device);
                socket.Bind(endpoint);
                socket.Listen(Math.Max(options.Backlog, 1));
            }
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        foreach (var socket in listener._listeners)
        {
            listener._loops.Add(Task.Run(() => listener.Supervise(socket)));
        }
        return listener;
    }

    private static void BindToDevice(Socket socket, string device)
    {
        // IFNAMSIZ is 16 with the terminating NUL (if.h); a longer name would be cut by the kernel, binding another device.
        if (device.Length is 0 or > 15 || !Ascii.IsValid(device)) throw new ArgumentException($"'{device}' is not an interface name", nameof(device));
        try
        {
            socket.SetRawSocketOption(Ppn.Linux.Interop.LibC.SOL_SOCKET, Ppn.Linux.Interop.LibC.SO_BINDTODEVICE, Encoding.ASCII.GetBytes(device + "\0"));
        }
        catch (SocketException e)
        {
            throw new IOException($"SO_BINDTODEVICE {device}: {e.Message} (the interface must exist; the call needs CAP_NET_RAW)", e);
        }
    }

    // Restarts a failed accept loop in place; after repeated failures reports Failed instead of spinning.
    private async Task Supervise(Socket listening)
    {
        var token = _stop.Token;
        string where = Describe(listening);
        int failures = 0;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await AcceptLoop(listening, () => failures = 0);
                return;
            }
            catch (Exception e) when (!token.IsCancellationRequested)
            {
                failures++;
                if (failures >= MaxConsecutiveLoopFailures)
                {
                    string reason = $"accept on {where} failed {failures} times in a row ({e.GetType().Name}: {e.Message})";
                    _log($"holding listener: {reason}; giving this listener up");
                    _failed.TrySetResult(reason);
                    return;
                }
                long restarts = Interlocked.Increment(ref _restarts);
                // Every restart is counted; the console gets the first ten, then every hundredth.
                if (restarts <= 10 || restarts % 100 == 0)
                {
                    _log($"holding listener: accept loop on {where} failed ({e.GetType().Name}: {e.Message}); restarted ({restarts} so far)");
                }
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * failures), token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (Exception)
            {
                return; // stopping: the listening socket was closed under the loop
            }
        }
    }

    private static string Describe(Socket listening)
    {
        try
        {
            return listening.LocalEndPoint is IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } v6 ? $"[{v6.Address}]:{v6.Port}" : $"{listening.LocalEndPoint}";
        }
        catch (ObjectDisposedException)
        {
            return "a closed socket";
        }
    }

    private async Task AcceptLoop(Socket listening, Action accepted)
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            TestHook?.Invoke(HoldingPoint.BeforeAccept);
            Socket connection;
            try
            {
                connection = await listening.AcceptAsync(token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e) when (IsTransient(e.SocketErrorCode))
            {
                // A peer that reset before we accepted, or a momentary lack of descriptors or buffers (a flood):
                // not the listening socket's fault. Back off briefly when out of resources, so this cannot spin.
                Note($"accept: {e.SocketErrorCode}");
                if (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                {
                    try { await Task.Delay(50, token); } catch (OperationCanceledException) { return; }
                }
                continue;
            }
            accepted();
            HoldingConnection? admitted = null;
            try
            {
                admitted = Admit(connection);
            }
            catch (Exception e)
            {
                // Whatever admission throws, only this connection pays for it.
                Note($"admission failed: {e.GetType().Name}: {e.Message}");
            }
            if (admitted is null)
            {
                Interlocked.Increment(ref _refused);
                connection.Close(0);
                continue;
            }
            Interlocked.Increment(ref _accepted);
            Interlocked.Increment(ref _active);
            _ = Task.Run(() => Serve(admitted));
        }
    }

    // accept(2), Linux: errors already pending on the new connection (ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTUNREACH,
    // EOPNOTSUPP, ENETUNREACH...) are reported by accept itself and are to be treated like EAGAIN.
    private static bool IsTransient(SocketError error) => error is SocketError.ConnectionAborted or SocketError.ConnectionReset
        or SocketError.Interrupted or SocketError.TryAgain or SocketError.WouldBlock or SocketError.TooManyOpenSockets
        or SocketError.NoBufferSpaceAvailable or SocketError.NetworkDown or SocketError.NetworkUnreachable or SocketError.HostUnreachable
        or SocketError.ProtocolOption or SocketError.OperationNotSupported or SocketError.TimedOut;

    private sealed class Source
    {
        public double Tokens;
        /// <summary>When <see cref="Tokens"/> was last brought up to date (<see cref="HoldingOptions.Time"/>'s timestamp).</summary>
        public long Stamp;
        /// <summary>This source's listed connections, oldest first.</summary>
        public readonly LinkedList<HoldingConnection> Connections = new();
    }

    // Admission under one lock: per-source rate (token bucket) and share, then the global cap with fair eviction.
    // The victim is unlisted under the lock and only its socket is closed after it (HoldingConnection.Abort).
    private HoldingConnection? Admit(Socket connection)
    {
        IPAddress address;
        try
        {
            address = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        }
        catch (SocketException)
        {
            return null; // reset between accept and now (getpeername: ENOTCONN): nothing to serve
        }
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0) address = new IPAddress(address.GetAddressBytes());
        HoldingConnection? victim = null;
        HoldingConnection entry;
        lock (_gate)
        {
            long now = _options.Time.GetTimestamp();
            if (!_sources.TryGetValue(address, out var source))
            {
                if (_sources.Count >= 4096) PruneSources();
                source = new Source { Tokens = _options.PerSourceRatePerSecond * 2, Stamp = now };
                _sources[address] = source;
            }
            source.Tokens = TokensAt(source, now);
            source.Stamp = now;
            if (source.Tokens < 1 || source.Connections.Count >= _options.PerSourceMaxConnections) return null;
            if (_count >= _options.MaxConnections)
            {
                victim = _options.WhenFull == FullPolicy.Evict ? ChooseVictim(now) : null;
                if (victim is null) return null;
                Unlist(victim);
            }
            source.Tokens -= 1;
            entry = new HoldingConnection(this, connection, address, ++_sequence, _options) { Listed = true };
            entry.SourceNode = source.Connections.AddLast(entry);
            _count++;
        }
        if (victim is not null)
        {
            TestHook?.Invoke(HoldingPoint.EvictionChosen);
            Interlocked.Increment(ref _evicted);
            victim.Abort();
        }
        return entry;
    }

    // The source with the most connections loses its oldest unprotected one. Among sources holding as many, the
    // one that opened connections fastest lately (fewest rate tokens left) loses: a flooder that reconnects as
    // soon as it is evicted, not a claimant that connected once. Then the oldest connection.
    private HoldingConnection? ChooseVictim(long now)
    {
        HoldingConnection? best = null;
        int bestCount = 0;
        double bestTokens = 0;
        foreach (var source in _sources.Values)
        {
            if (source.Connections.Count == 0 || source.Connections.Count < bestCount) continue;
            HoldingConnection? oldest = null;
            for (var n = source.Connections.First; n is not null; n = n.Next)
            {
                if (!n.Value.Protected)
                {
                    oldest = n.Value;
                    break;
                }
            }
            if (oldest is null) continue;
            double tokens = TokensAt(source, now);
            if (best is null || source.Connections.Count > bestCount || tokens < bestTokens || (tokens == bestTokens && oldest.Sequence < best.Sequence))
            {
                (best, bestCount, bestTokens) = (oldest, source.Connections.Count, tokens);
            }
        }
        return best;
    }

    private double TokensAt(Source source, long now) =>
        Math.Min(_options.PerSourceRatePerSecond * 2, source.Tokens + _options.Time.GetElapsedTime(source.Stamp, now).TotalSeconds * _options.PerSourceRatePerSecond);

    private void Unlist(HoldingConnection connection)
    {
        if (!connection.Listed) return;
        connection.Listed = false;
        if (connection.SourceNode is { List: { } list } node) list.Remove(node);
        connection.SourceNode = null;
        _count--;
    }

    internal void Protect(HoldingConnection connection)
    {
        lock (_gate)
        {
            connection.Protected = true;
        }
    }

    private void PruneSources()
    {
        foreach (var key in _sources.Where(kv => kv.Value.Connections.Count == 0).Select(kv => kv.Key).ToList())
        {
            _sources.Remove(key);
        }
    }

    // The one place a connection ends: its serving task, exactly once.
    private async Task Serve(HoldingConnection entry)
    {
        var connection = entry.Socket;
        bool graceful = false;
        try
        {
            using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
            lifetime.CancelAfter(_options.MaxConnectionLifetime);
            // The lifetime ends the connection even when a handler ignores its token (a stuck send, say).
            using var abort = lifetime.Token.Register(static s => ((HoldingConnection)s!).Abort(), entry);
            var token = lifetime.Token;
            connection.NoDelay = true;
            // No banner: the peer speaks first (the node's telemetry endpoint, where the handler answers an HTTP request).
            if (_banner is not null)
            {
                using var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                sendTimeout.CancelAfter(_options.IdleTimeout);
                await connection.SendAsync(Encoding.ASCII.GetBytes(_banner()), SocketFlags.None, sendTimeout.Token);
            }
            await _claims.HandleAsync(entry, token);
            graceful = !token.IsCancellationRequested;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // A peer that vanishes or stalls, or a connection evicted or timed out, is normal on the holding port.
        }
        catch (Exception e)
        {
            Note($"connection handler failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Close(connection, graceful);
            lock (_gate)
            {
                Unlist(entry);
            }
            if (Interlocked.Decrement(ref _active) == 0 && _stop.IsCancellationRequested) _drained.TrySetResult();
            TestHook?.Invoke(HoldingPoint.Released);
        }
    }

    // Graceful: FIN after what was sent (an ack, a banner) so it is delivered; otherwise RST, freeing the slot at once.
    private static void Close(Socket connection, bool graceful)
    {
        if (graceful)
        {
            try
            {
                connection.Shutdown(SocketShutdown.Both);
                connection.Close();
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        connection.Close(0);
    }

    private void Note(string message)
    {
        // The first few problems are logged; after that only counted, so a flood cannot flood the console.
        if (Interlocked.Increment(ref _errors) <= 10)
        {
            _log(message);
        }
    }

    /// <summary>How long <see cref="Dispose"/> lets protected connections (a claim sending its ack) finish before resetting them.</summary>
    public static readonly TimeSpan ProtectedDrain = TimeSpan.FromSeconds(2);

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var socket in _listeners)
        {
            socket.Close(0);
        }
        try
        {
            Task.WaitAll(_loops.ToArray(), TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        // Unprotected connections go at once; a protected one is a claim whose ack may still be in flight: a reset now
        // would discard it, so it gets a short, bounded while to finish and close gracefully.
        List<HoldingConnection> unprotected;
        bool anyProtected;
        lock (_gate)
        {
            var listed = _sources.Values.SelectMany(s => s.Connections).ToList();
            unprotected = listed.Where(c => !c.Protected).ToList();
            anyProtected = listed.Count > unprotected.Count;
        }
        foreach (var connection in unprotected)
        {
            connection.Abort();
        }
        if (anyProtected && Volatile.Read(ref _active) > 0)
        {
            _drained.Task.Wait(ProtectedDrain);
        }
        _closing.Cancel();
        // The token sources are not disposed: connection tasks still finishing link their lifetimes to them, and a
        // CancellationTokenSource without a timer holds nothing that needs releasing.
    }
}
