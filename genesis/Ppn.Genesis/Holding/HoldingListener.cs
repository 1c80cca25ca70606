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
    private int _active;
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
            if (Interlocked.Increment(ref _active) > _options.MaxConnections)
            {
                Interlocked.Decrement(ref _active);
                Interlocked.Increment(ref _refused);
                connection.Close(0);
                continue;
            }
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => Serve(connection, token));
        }
    }

    private async Task Serve(Socket connection, CancellationToken token)
    {
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
            Interlocked.Decrement(ref _active);
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
