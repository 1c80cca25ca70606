using System.Net;
using System.Net.Sockets;

namespace Ppn.Mesh.Sync;

public sealed record SyncReply(ReplyStatus Status, byte[]? Set, IReadOnlyList<EndpointHint> Hints);

public sealed record SyncClientOptions
{
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>The server's hold time plus a margin: a reply later than this means the server is gone.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(35);
}

/// <summary>One long-poll exchange on the sync port (docs/protocol/sync.md §Sync port). Every bound is the client's own.</summary>
public static class SyncClient
{
    /// <param name="socketFactory">Creates the TCP socket (in the caller's namespace; the appliance's is its own).</param>
    public static async Task<SyncReply> ExchangeAsync(IPEndPoint server, ulong since, Func<AddressFamily, Socket> socketFactory, SyncClientOptions? options, CancellationToken cancellation)
    {
        options ??= new SyncClientOptions();
        using var socket = socketFactory(server.AddressFamily);
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
        {
            connect.CancelAfter(options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(server, connect.Token);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new TimeoutException($"sync server {server}: no connection within {options.ConnectTimeout.TotalSeconds:0} s");
            }
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(options.ReplyTimeout);
        try
        {
            var request = new byte[SyncWire.RequestSize];
            SyncWire.WriteRequest(request, since);
            await socket.SendAsync(request, SocketFlags.None, deadline.Token);
            var header = new byte[SyncWire.ReplyHeaderSize];
            await ReadExactlyAsync(socket, header, deadline.Token, server);
            if (!SyncWire.TryParseReplyHeader(header, out var status, out int setLength, out int hintCount, out var error))
            {
                throw new InvalidDataException($"sync server {server}: {error}");
            }
            byte[]? set = null;
            if (setLength > 0)
            {
                set = new byte[setLength];
                await ReadExactlyAsync(socket, set, deadline.Token, server);
            }
            var hintBytes = new byte[hintCount * EndpointHint.Size];
            await ReadExactlyAsync(socket, hintBytes, deadline.Token, server);
            var hints = new List<EndpointHint>(hintCount);
            for (int i = 0; i < hintCount; i++)
            {
                if (SyncWire.TryParseHint(hintBytes.AsSpan(i * EndpointHint.Size, EndpointHint.Size), out var hint)) hints.Add(hint!);
            }
            return new SyncReply(status, set, hints);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"sync server {server}: no complete reply within {options.ReplyTimeout.TotalSeconds:0} s");
        }
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellation, IPEndPoint server)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[got..], SocketFlags.None, cancellation);
            if (n == 0) throw new InvalidDataException($"sync server {server} closed the connection mid-reply");
            got += n;
        }
    }
}
