using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ppn.Genesis.Holding;

public sealed record HoldingOptions
{
    public int Port { get; init; } = 9443;
    /// <summary>Connections served at once; more are closed on accept (the unclaimed node is on a hostile LAN).</summary>
    public int MaxConnections { get; init; } = 64;
    /// <summary>How long a connection may stay silent before it is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The most a peer may send before it is cut off (claim frames are small).</summary>
    public int MaxInboundBytes { get; init; } = 4096;
    /// <summary>The claim hello and the whole handshake must be done within this, however slowly bytes trickle in.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>No connection lives longer than this, whatever it does (slowloris).</summary>
    public TimeSpan MaxConnectionLifetime { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Connections one source address may hold at once.</summary>
    public int PerSourceMaxConnections { get; init; } = 8;
    /// <summary>New connections per second one source address may open (token bucket, burst of twice this).</summary>
    public double PerSourceRatePerSecond { get; init; } = 10;
    /// <summary>At the cap: close the oldest connection to make room (so a flood cannot lock a claim out), or refuse the new one.</summary>
    public FullPolicy WhenFull { get; init; } = FullPolicy.EvictOldest;
}

public enum FullPolicy
{
    EvictOldest,
    RefuseNew,
}

/// <summary>What happens after the banner: the authenticated claim (its own issue) plugs in here.</summary>
public interface IClaimHandler
{
    Task HandleAsync(Socket connection, HoldingOptions options, CancellationToken cancellation);
}

/// <summary>
/// Until the claim protocol exists: read (bounded in bytes and idle time) and discard, then close politely,
/// so a technician's `nc` sees the banner and a clean end.
/// </summary>
public sealed class NoClaimYet : IClaimHandler
{
    public async Task HandleAsync(Socket connection, HoldingOptions options, CancellationToken cancellation)
    {
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
/// connection first receives the banner line, then goes to the claim handler. Bounded everywhere: a
/// connection cap, an idle timeout, a byte limit; nothing a peer sends can throw out of the accept loop.
/// </summary>
public sealed class HoldingListener : IDisposable
{
    private readonly List<Socket> _listeners = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = new();
    private readonly Func<string> _banner;
    private readonly HoldingOptions _options;
    private readonly IClaimHandler _claims;
    private readonly Action<string> _log;
    private readonly object _gate = new();
    private readonly LinkedList<Entry> _order = new();
    private readonly Dictionary<IPAddress, Bucket> _sources = new();
    private int _active;
    private long _evicted;
    private long _accepted;
    private long _refused;
    private long _errors;

    private HoldingListener(Func<string> banner, HoldingOptions options, IClaimHandler claims, Action<string> log)
    {
        _banner = banner;
        _options = options;
        _claims = claims;
        _log = log;
    }

    public IReadOnlyList<IPEndPoint> LocalEndPoints => _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!).ToList();
    public long Accepted => Interlocked.Read(ref _accepted);
    public long Refused => Interlocked.Read(ref _refused);
    public int Active => Volatile.Read(ref _active);
    /// <summary>Connections closed to make room for newer ones (<see cref="FullPolicy.EvictOldest"/>).</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    public static HoldingListener Start(IEnumerable<IPEndPoint> endpoints, Func<string> banner, HoldingOptions options, IClaimHandler claims, Action<string> log)
    {
        var listener = new HoldingListener(banner, options, claims, log);
        try
        {
            foreach (var endpoint in endpoints)
            {
                var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false;
                }
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(endpoint);
                socket.Listen(options.MaxConnections);
                listener._listeners.Add(socket);
            }
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        foreach (var socket in listener._listeners)
        {
            listener._loops.Add(Task.Run(() => listener.AcceptLoop(socket)));
        }
        return listener;
    }

    private async Task AcceptLoop(Socket listening)
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listening.AcceptAsync(token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (token.IsCancellationRequested) return;
                Note($"accept failed: {e.Message}");
                continue;
            }
            var source = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            var admitted = Admit(source, connection, token);
            if (admitted is null)
            {
                Interlocked.Increment(ref _refused);
                connection.Close(0);
                continue;
            }
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => Serve(admitted));
        }
    }

    private sealed class Entry(Socket socket, IPAddress source, CancellationTokenSource lifetime)
    {
        public Socket Socket { get; } = socket;
        public IPAddress Source { get; } = source;
        public CancellationTokenSource Lifetime { get; } = lifetime;
        public LinkedListNode<Entry>? Node { get; set; }
    }

    private sealed class Bucket
    {
        public double Tokens;
        public long Stamp;
        public int Open;
    }

    // Admission under one lock: per-source rate (token bucket) and concurrency, then the global cap.
    private Entry? Admit(IPAddress source, Socket connection, CancellationToken token)
    {
        Entry? evicted = null;
        Entry entry;
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (!_sources.TryGetValue(source, out var bucket))
            {
                if (_sources.Count >= 4096) PruneSources();
                bucket = new Bucket { Tokens = _options.PerSourceRatePerSecond * 2, Stamp = now };
                _sources[source] = bucket;
            }
            bucket.Tokens = Math.Min(_options.PerSourceRatePerSecond * 2, bucket.Tokens + (now - bucket.Stamp) / 1000.0 * _options.PerSourceRatePerSecond);
            bucket.Stamp = now;
            if (bucket.Tokens < 1 || bucket.Open >= _options.PerSourceMaxConnections) return null;
            if (_order.Count >= _options.MaxConnections)
            {
                if (_options.WhenFull == FullPolicy.RefuseNew || _order.First is null) return null;
                evicted = _order.First.Value;
                _order.RemoveFirst();
                evicted.Node = null;
            }
            bucket.Tokens -= 1;
            bucket.Open++;
            var lifetime = CancellationTokenSource.CreateLinkedTokenSource(token);
            entry = new Entry(connection, source, lifetime);
            entry.Node = _order.AddLast(entry);
            Interlocked.Increment(ref _active);
        }
        if (evicted is not null)
        {
            Interlocked.Increment(ref _evicted);
            evicted.Lifetime.Cancel();
            try { evicted.Socket.Close(0); } catch (ObjectDisposedException) { }
        }
        entry.Lifetime.CancelAfter(_options.MaxConnectionLifetime);
        // The lifetime ends the connection even when a handler ignores its token (a stuck send, say).
        entry.Lifetime.Token.Register(static s => { try { ((Socket)s!).Close(0); } catch (ObjectDisposedException) { } }, connection);
        return entry;
    }

    private void PruneSources()
    {
        foreach (var key in _sources.Where(kv => kv.Value.Open == 0).Select(kv => kv.Key).ToList())
        {
            _sources.Remove(key);
        }
    }

    private void Release(Entry entry)
    {
        lock (_gate)
        {
            if (entry.Node is not null)
            {
                _order.Remove(entry.Node);
                entry.Node = null;
            }
            if (_sources.TryGetValue(entry.Source, out var bucket)) bucket.Open--;
        }
        Interlocked.Decrement(ref _active);
        entry.Lifetime.Dispose();
    }

    private async Task Serve(Entry entry)
    {
        var connection = entry.Socket;
        var token = entry.Lifetime.Token;
        try
        {
            connection.NoDelay = true;
            using (var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(token))
            {
                sendTimeout.CancelAfter(_options.IdleTimeout);
                await connection.SendAsync(Encoding.ASCII.GetBytes(_banner()), SocketFlags.None, sendTimeout.Token);
            }
            await _claims.HandleAsync(connection, _options, token);
            connection.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // A peer that vanishes or stalls is normal on the holding port.
        }
        catch (Exception e)
        {
            Note($"connection handler failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            connection.Close(0);
            Release(entry);
        }
    }

    private void Note(string message)
    {
        // The first few problems are logged; after that only counted, so a flood cannot flood the console.
        if (Interlocked.Increment(ref _errors) <= 10)
        {
            _log(message);
        }
    }

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
        _stop.Dispose();
    }
}
