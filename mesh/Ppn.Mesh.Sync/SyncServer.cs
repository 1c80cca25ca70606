using System.Net;
using System.Net.Sockets;

namespace Ppn.Mesh.Sync;

/// <summary>What a sync server serves: the newest set it holds, and a signal when it changes.</summary>
public interface IPeerSetSource
{
    PeerSet? Current { get; }
    /// <summary>Completes when <see cref="Current"/> changes.</summary>
    Task Changed { get; }
}

/// <summary>A source of endpoint hints that says when they changed (a held request is then answered at once).</summary>
public interface IHintSource
{
    IReadOnlyList<EndpointHint> Hints();
    /// <summary>Completes when the hints change (a fresh task after each change).</summary>
    Task Changed { get; }
}

public sealed record SyncServerOptions
{
    /// <summary>How long a request with nothing newer is held before "not modified" (long poll); new hints end it early.</summary>
    public TimeSpan HoldTime { get; init; } = TimeSpan.FromSeconds(25);
    /// <summary>The 16 request bytes must arrive within this, or the connection is closed.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Writing the reply must finish within this (a reader that stalls is cut).</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Held connections in all: a relay holds one per spoke (253) plus catch-up room.</summary>
    public int MaxConnections { get; init; } = 512;
    /// <summary>Per source address: one long poll plus a reconnect overlapping it.</summary>
    public int MaxPerSource { get; init; } = 4;
    /// <summary>
    /// Only connections from inside this prefix are served; any other is closed at once (counted). The relay sets its
    /// mesh prefix when it listens on a mesh address: see <see cref="RelaySync"/>. Null: any source.
    /// </summary>
    public Ppn.Mesh.IpPrefix? Sources { get; init; }
}

/// <summary>
/// The sync port's server (docs/protocol/sync.md §Sync port): one request, one reply per connection; a request
/// naming the current serial or newer is held until the set changes or the hold time ends. Bounded like the 9443
/// holding listener: total and per-source connection caps (over them the connection is closed at once), a
/// request deadline, a write deadline, fixed request size. It serves signed data only, so it needs no
/// authentication: whatever it forwards, every receiver verifies.
/// </summary>
public sealed class SyncServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPeerSetSource _source;
    private readonly IHintSource? _hints;
    private readonly SyncServerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<IPAddress, int> _perSource = [];
    private readonly Task _accepting;
    private int _open;
    private long _refusedConnections;
    private long _foreignConnections;
    private long _badRequests;
    private long _acceptFailures;

    /// <param name="listener">A bound TCP socket (the caller picks the namespace, address and port).</param>
    public SyncServer(Socket listener, IPeerSetSource source, IHintSource? hints = null, SyncServerOptions? options = null)
    {
        _listener = listener;
        _source = source;
        _hints = hints;
        _options = options ?? new SyncServerOptions();
        _listener.Listen(64);
        _accepting = AcceptLoopAsync();
    }

    public EndPoint LocalEndPoint => _listener.LocalEndPoint!;
    public long RefusedConnections => Interlocked.Read(ref _refusedConnections);
    /// <summary>Connections closed at once because their source is outside <see cref="SyncServerOptions.Sources"/>.</summary>
    public long ForeignConnections => Interlocked.Read(ref _foreignConnections);
    public long BadRequests => Interlocked.Read(ref _badRequests);
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>A TCP socket bound to <paramref name="address"/>:<paramref name="port"/>, created in the calling thread's namespace.</summary>
    public static Socket Bind(IPAddress address, int port = SyncWire.DefaultPort)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The first wait after a failed accept; it doubles with each failure in a row up to <see cref="MaxAcceptBackoff"/>.</summary>
    public static readonly TimeSpan MinAcceptBackoff = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan MaxAcceptBackoff = TimeSpan.FromSeconds(1);

    /// <summary>Accepts that failed (out of descriptors or buffers, a listening socket the kernel closed), each followed by a backoff.</summary>
    public long AcceptFailures => Interlocked.Read(ref _acceptFailures);

    /// <summary>Test seam: the backoff wait after a failed accept.</summary>
    internal Func<TimeSpan, CancellationToken, Task> Delay { get; set; } = Task.Delay;

    private async Task AcceptLoopAsync()
    {
        var backoff = MinAcceptBackoff;
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
                backoff = MinAcceptBackoff;
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue; // a peer that reset before the accept: its own connection, nothing to wait for
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // EMFILE, ENFILE, ENOBUFS, ENOMEM, or a listening socket the kernel closed: accept(2) fails again at once, so
                // retrying at once would spin PID 1 on a core. Back off as Go's net/http does (5 ms doubling to 1 s).
                Interlocked.Increment(ref _acceptFailures);
                try { await Delay(backoff, _stop.Token); } catch (OperationCanceledException) { return; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxAcceptBackoff.Ticks));
                continue;
            }
            var source = (client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            if (source.IsIPv4MappedToIPv6) source = source.MapToIPv4();
            if (_options.Sources is { } allowed && !allowed.Contains(new Ppn.Mesh.IpPrefix(source, source.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)))
            {
                Interlocked.Increment(ref _foreignConnections);
                client.Dispose();
                continue;
            }
            bool admitted;
            lock (_perSource)
            {
                admitted = _open < _options.MaxConnections && _perSource.GetValueOrDefault(source) < _options.MaxPerSource;
                if (admitted)
                {
                    _open++;
                    _perSource[source] = _perSource.GetValueOrDefault(source) + 1;
                }
            }
            if (!admitted)
            {
                Interlocked.Increment(ref _refusedConnections);
                client.Dispose();
                continue;
            }
            _ = ServeAsync(client, source);
        }
    }

    private async Task ServeAsync(Socket client, IPAddress source)
    {
        try
        {
            using (client)
            {
                var request = new byte[SyncWire.RequestSize];
                using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                {
                    deadline.CancelAfter(_options.RequestTimeout);
                    int got = 0;
                    while (got < request.Length)
                    {
                        int n = await client.ReceiveAsync(request.AsMemory(got), SocketFlags.None, deadline.Token);
                        if (n == 0) return;
                        got += n;
                    }
                }
                if (!SyncWire.TryParseRequest(request, out ulong since))
                {
                    Interlocked.Increment(ref _badRequests);
                    return;
                }
                var set = await WaitForNewerAsync(since);
                var hints = _hints?.Hints() ?? [];
                int hintCount = Math.Min(hints.Count, SyncWire.MaxHints);
                int setLength = set?.Bytes.Length ?? 0;
                // The header and hints are this reply's own; the set is sent from the one signed document every held
                // request shares: a new set answers up to 512 held requests at once, and a copy for each would add up to ~90 MB.
                var header = new byte[SyncWire.ReplyHeaderSize];
                SyncWire.WriteReplyHeader(header, set is null ? ReplyStatus.NotModified : ReplyStatus.Set, setLength, hintCount);
                var hintBytes = new byte[hintCount * EndpointHint.Size];
                for (int i = 0; i < hintCount; i++)
                {
                    SyncWire.WriteHint(hintBytes.AsSpan(i * EndpointHint.Size), hints[i]);
                }
                using var write = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                write.CancelAfter(_options.WriteTimeout);
                client.NoDelay = true; // three writes, one reply: Nagle would hold the last one for the reader's delayed ACK
                await SendAllAsync(client, header, write.Token);
                if (set is not null) await SendAllAsync(client, set.Bytes, write.Token);
                await SendAllAsync(client, hintBytes, write.Token);
                client.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // A peer that stalls, resets or is cut by a deadline costs only its own connection.
        }
        finally
        {
            lock (_perSource)
            {
                _open--;
                if (--_perSource[source] == 0) _perSource.Remove(source);
            }
        }
    }

    private static async Task SendAllAsync(Socket client, ReadOnlyMemory<byte> bytes, CancellationToken cancellation)
    {
        int sent = 0;
        while (sent < bytes.Length)
        {
            sent += await client.SendAsync(bytes[sent..], SocketFlags.None, cancellation);
        }
    }

    private async Task<PeerSet?> WaitForNewerAsync(ulong since)
    {
        using var hold = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        hold.CancelAfter(_options.HoldTime);
        var hintsChanged = _hints?.Changed ?? Task.Delay(Timeout.Infinite, hold.Token);
        while (true)
        {
            var changed = _source.Changed;
            if (_source.Current is { } current && current.Serial > since) return current;
            if (hintsChanged.IsCompleted) return null; // new endpoints: "not modified" with fresh hints, now
            try
            {
                await Task.WhenAny(changed, hintsChanged).WaitAsync(hold.Token);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                return null;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { await _accepting; } catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (OpenConnections > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        _stop.Dispose();
    }
}
