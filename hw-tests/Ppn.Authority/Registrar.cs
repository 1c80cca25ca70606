using System.Net;
using System.Net.Sockets;
using Ppn.Genesis;
using Ppn.Genesis.Join;

namespace Ppn.Authority;

/// <summary>
/// The registrar a beacon points at (docs/protocol/genesis.md §Join): TCP, one Noise IK exchange per
/// connection as the responder proving the authority's static key, the grant from the pairing registry, then
/// the node's ack. <see cref="DropNextReplies"/> makes it lose replies on purpose (after the registry
/// assigned), to show that the node's retry gets the same assignment.
/// </summary>
public sealed class Registrar : IAsyncDisposable
{
    private readonly AuthorityCredential _credential;
    private readonly PairingRegistry _registry;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly GenesisTimeouts _timeouts;
    private readonly Func<ulong> _clock;
    private readonly HashSet<Task> _inFlight = [];
    private int _dropReplies;
    private long _served;

    public Registrar(AuthorityCredential credential, PairingRegistry registry, AuthorityNetwork network, int port, GenesisTimeouts timeouts, Func<ulong> clock)
    {
        _credential = credential;
        _registry = registry;
        _timeouts = timeouts;
        _clock = clock;
        _listener = network.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.DualMode = false;
            // A registrar restarted on the same port (the herd's power-restore scenario) must bind past its old
            // connections' TIME_WAIT; and a fleet powered on at once connects in one burst: a backlog for the whole
            // /24, so no SYN is dropped and retransmitted a second later.
            _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            _listener.Listen(512);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
        Port = (ushort)((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptLoop);
    }

    public ushort Port { get; }

    /// <summary>Exchanges answered (whatever their outcome).</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>The next <paramref name="count"/> joins are assigned in the registry, then the connection is closed instead of replying.</summary>
    public void DropNextReplies(int count) => Volatile.Write(ref _dropReplies, count);

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested) return;
                continue;
            }
            var task = Task.Run(() => ServeAsync(connection));
            lock (_inFlight) _inFlight.Add(task);
            _ = task.ContinueWith(t => { lock (_inFlight) _inFlight.Remove(t); }, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using (connection)
        {
            bool dropped = false;
            AuthorityExchange? exchange = null;
            try
            {
                connection.NoDelay = true;
                exchange = await AuthorityResponder.RespondAsync(connection, _credential.NoisePrivateKeyMemory, RequestKind.Join, default, (key, _, _) =>
                {
                    var grant = _registry.Assign(key, BindingOrigin.Join, _clock());
                    if (Interlocked.Decrement(ref _dropReplies) >= 0)
                    {
                        dropped = true;
                        connection.Close(0);
                        return null;
                    }
                    return grant;
                }, _timeouts, _stop.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                exchange = null;
            }
            finally
            {
                Interlocked.Increment(ref _served);
            }
            var outcome = dropped ? "reply dropped (simulated loss)" : exchange is null ? "connection failed" : exchange.Failure ?? $"ack {exchange.Ack}";
            _registry.RecordExchange(exchange?.NodePublicKey, BindingOrigin.Join, outcome);
            if (exchange is { Ack: { } ack, Failure: null }) _registry.RecordAck(exchange.NodePublicKey, ack);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { await _loop.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        Task[] serving;
        lock (_inFlight) serving = [.. _inFlight];
        // Handlers end within a frame timeout once the stop token fires; the registry must outlive them.
        try { await Task.WhenAll(serving).WaitAsync(_timeouts.Frame * 2 + TimeSpan.FromSeconds(1)); } catch (TimeoutException) { }
        _stop.Dispose();
    }
}
