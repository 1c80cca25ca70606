using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ppn.Genesis.Join;

namespace Ppn.Authority;

/// <summary>The hostile traffic of issue 13, each kind aimed at a holding node's 9443 from many link-local sources.</summary>
public enum Attack
{
    /// <summary>1000 connections (125 sources × 8) that read the banner and stay silent; each is reopened when the node closes it.</summary>
    IdleFlood,
    /// <summary>Connections that trickle one byte of a frame header every 300 ms, never completing a frame.</summary>
    Slowloris,
    /// <summary>Connect and reset (SO_LINGER 0) at once, from random sources, over and over.</summary>
    ChurnWithReset,
    /// <summary>Hellos naming the pinned authority key (public: in every beacon) without its proof, and version 1 hellos.</summary>
    HelloLockout,
    /// <summary>Random bytes and oversized frame headers.</summary>
    Garbage,
}

/// <summary>
/// Runs attacks from the authority's namespace (GenesisLab's auth0, or the rig's tap namespace) until disposed.
/// Sockets are made inside the namespace in batches (a socket stays in the namespace it was created in); every
/// loop is paced so two shared cores still run the node.
/// Only counts are kept: what the test asserts is the node's behaviour, never the attack's.
/// </summary>
public sealed class LinkAttack : IAsyncDisposable
{
    private readonly AuthorityNetwork _network;
    private readonly IReadOnlyList<IPAddress> _sources;
    private readonly IPEndPoint _target;
    private readonly byte[] _pinnedKey;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<Socket> _supply = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly List<Task> _workers = [];
    private long _connections;

    private LinkAttack(AuthorityNetwork network, IReadOnlyList<IPAddress> sources, IPEndPoint target, byte[] pinnedKey)
    {
        _network = network;
        _sources = sources;
        _target = target;
        _pinnedKey = pinnedKey;
    }

    /// <summary>Attack loops running (each keeps one connection going at a time).</summary>
    public int Workers => _workers.Count;

    /// <summary>Connections the attack made (accepted by the kernel; the node may have reset them at once).</summary>
    public long Connections => Interlocked.Read(ref _connections);

    public static LinkAttack Start(IEnumerable<Attack> kinds, AuthorityNetwork network, IReadOnlyList<IPAddress> sources, IPEndPoint target, byte[] pinnedKey)
    {
        var attack = new LinkAttack(network, sources, target, pinnedKey);
        foreach (var kind in kinds.Distinct())
        {
            switch (kind)
            {
                case Attack.IdleFlood:
                    foreach (var source in sources) for (int i = 0; i < 8; i++) attack.Spawn(() => attack.Idle(source));
                    break;
                case Attack.Slowloris:
                    foreach (var source in sources.Take(64)) for (int i = 0; i < 2; i++) attack.Spawn(() => attack.Slowloris(source));
                    break;
                case Attack.ChurnWithReset:
                    for (int i = 0; i < 16; i++) attack.Spawn(attack.Churn);
                    break;
                case Attack.HelloLockout:
                    foreach (var source in sources.Take(8)) for (int i = 0; i < 4; i++) attack.Spawn(() => attack.Lockout(source));
                    break;
                case Attack.Garbage:
                    foreach (var source in sources.Take(32)) attack.Spawn(() => attack.Garbage(source));
                    break;
            }
        }
        return attack;
    }

    private void Spawn(Func<Task> worker) => _workers.Add(Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await worker();
            }
            catch (Exception)
            {
                // The node reset or refused us (that is its job), or the attack is stopping: go again or end.
            }
            try { await Task.Delay(5, _stop.Token); } catch (OperationCanceledException) { return; }
        }
    }));

    private Socket Take()
    {
        if (!_supply.TryDequeue(out var socket))
        {
            foreach (var s in _network.Run(() => Enumerable.Range(0, 256).Select(_ => new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp)).ToList()))
            {
                _supply.Enqueue(s);
            }
            if (!_supply.TryDequeue(out socket)) throw new ObjectDisposedException(nameof(LinkAttack));
        }
        _open[socket] = 0;
        return socket;
    }

    private void Drop(Socket socket, bool reset = false)
    {
        if (reset) socket.LingerState = new LingerOption(true, 0);
        _open.TryRemove(socket, out _);
        socket.Dispose();
    }

    private async Task<Socket> ConnectAsync(IPAddress source)
    {
        var socket = Take();
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(_target, _stop.Token);
            Interlocked.Increment(ref _connections);
            return socket;
        }
        catch
        {
            Drop(socket);
            throw;
        }
    }

    // Reads until the node closes (or the attack stops); returns having read the banner or not.
    private async Task HoldUntilClosed(Socket socket)
    {
        var buffer = new byte[256];
        while (await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0) { }
    }

    private async Task Idle(IPAddress source)
    {
        var socket = await ConnectAsync(source);
        try { await HoldUntilClosed(socket); } finally { Drop(socket); }
    }

    private async Task Slowloris(IPAddress source)
    {
        var socket = await ConnectAsync(source);
        try
        {
            var one = new byte[] { 0x00 };
            while (!_stop.IsCancellationRequested)
            {
                await socket.SendAsync(one, SocketFlags.None, _stop.Token);
                await Task.Delay(300, _stop.Token);
            }
        }
        finally
        {
            Drop(socket);
        }
    }

    private async Task Churn()
    {
        var source = _sources[Random.Shared.Next(_sources.Count)];
        var socket = await ConnectAsync(source);
        Drop(socket, reset: true);
    }

    private async Task Lockout(IPAddress source)
    {
        var socket = await ConnectAsync(source);
        try
        {
            var line = new byte[1];
            while (await socket.ReceiveAsync(line, SocketFlags.None, _stop.Token) == 1 && line[0] != '\n') { }
            // Version 2 layout, the pinned key, a random nonce and a tag nobody can check but the node: it fails.
            byte[] hello = Random.Shared.Next(2) == 0
                ? [.. "PPNC\x02\0\0\0"u8, .. _pinnedKey, .. RandomNumberGenerator.GetBytes(GenesisWire.ClaimHelloNonceSize + GenesisWire.ClaimHelloTagSize)]
                : [.. "PPNC\x01\0\0\0"u8, .. _pinnedKey];
            await GenesisWire.SendFrameAsync(socket, hello, TimeSpan.FromSeconds(5), _stop.Token);
            await HoldUntilClosed(socket);
        }
        finally
        {
            Drop(socket);
        }
    }

    private async Task Garbage(IPAddress source)
    {
        var socket = await ConnectAsync(source);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var junk = RandomNumberGenerator.GetBytes(Random.Shared.Next(1, 600));
                if (Random.Shared.Next(3) == 0) { junk[0] = 0xff; junk[^1] = 0xff; } // an oversized frame header somewhere
                await socket.SendAsync(junk, SocketFlags.None, _stop.Token);
                await Task.Delay(100, _stop.Token);
            }
        }
        finally
        {
            Drop(socket);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        foreach (var socket in _open.Keys) socket.Dispose(); // wakes every pending receive
        await Task.WhenAll(_workers).WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var socket in _open.Keys) socket.Dispose();
        while (_supply.TryDequeue(out var s)) s.Dispose();
        _stop.Dispose();
    }
}
