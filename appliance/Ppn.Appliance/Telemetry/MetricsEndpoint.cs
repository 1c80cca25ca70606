using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ppn.Appliance.Lifecycle;
using Ppn.Genesis.Holding;

namespace Ppn.Appliance.Telemetry;

/// <summary>
/// <c>GET /metrics</c> on the node's mesh address, port 9100 (node_exporter's), in the Prometheus text format
/// 0.0.4 (docs/telemetry.md). Served by the genesis/ <see cref="HoldingListener"/> without a banner, so the
/// telemetry port has the holding port's hostile-network bounds: a connection cap, per-source rate and share,
/// a request deadline, a request size limit and a hard connection lifetime. Read-only: GET and HEAD of one path,
/// one response per connection, then close. The node opens no connection itself; the control plane scrapes it.
/// </summary>
public sealed class MetricsEndpoint : IRunningIntake
{
    public const int DefaultPort = Ppn.Formats.PpnPorts.Metrics;
    public const string Path = "/metrics";

    /// <summary>
    /// Bounds for a port only the hub's side of the mesh should reach: a scraper needs one connection per scrape
    /// interval; a request (Prometheus sends ~300 bytes of headers) must arrive whole within 5 s and fit 8 KiB.
    /// At the cap the source holding the most connections loses its oldest (<see cref="FullPolicy.Evict"/>): peers that
    /// hold slow connections from a few addresses (4 each) would otherwise keep the real scraper, one connection per
    /// interval, refused for as long as they like. Bound to ppn0 as well as to its address
    /// (<see cref="HoldingOptions.Device"/>): a weak-host kernel would otherwise answer the address on the underlay.
    /// </summary>
    public static HoldingOptions DefaultOptions => new()
    {
        Port = DefaultPort,
        Device = EnrolledMesh.Interface,
        MaxConnections = 16,
        Backlog = 64,
        IdleTimeout = TimeSpan.FromSeconds(5),
        HelloTimeout = TimeSpan.FromSeconds(5),
        MaxInboundBytes = 8192,
        MaxConnectionLifetime = TimeSpan.FromSeconds(15),
        PerSourceMaxConnections = 4,
        PerSourceRatePerSecond = 5,
        EnrolledAnnouncement = TimeSpan.Zero,
        WhenFull = FullPolicy.Evict,
    };

    private readonly HoldingListener _listener;

    private MetricsEndpoint(HoldingListener listener) => _listener = listener;

    /// <summary>Binds <paramref name="address"/>:port on the options' device (the grant's mesh address on ppn0: nothing on any other address or link).</summary>
    public static MetricsEndpoint Start(IPAddress address, NodeTelemetry telemetry, Action<string> log, HoldingOptions? options = null)
    {
        options ??= DefaultOptions;
        var listener = HoldingListener.Start([new IPEndPoint(address, options.Port)], banner: null, options, new Handler(telemetry, log),
            message => log($"metrics endpoint: {message}"));
        telemetry.Endpoint = () => (listener.Accepted, listener.Refused, listener.Evicted);
        return new MetricsEndpoint(listener);
    }

    public IPEndPoint LocalEndPoint => _listener.LocalEndPoints[0];

    /// <summary>Set when the accept loop gave up (the lifecycle then restarts the intake, this endpoint with it).</summary>
    public Exception? Failure => _listener.Failed.IsCompleted ? new IOException($"metrics endpoint: {_listener.Failed.Result}") : null;

    public void Dispose() => _listener.Dispose();

    /// <summary>"GET /metrics HTTP/1.1": method and path (the query string dropped); false for anything else. Never throws.</summary>
    public static bool TryParseRequestLine(ReadOnlySpan<byte> line, out string method, out string path) => Handler.TryParseRequestLine(line, out method, out path);

    /// <summary>One HTTP/1.x request per connection (RFC 9112 §3 request line; the headers are read, bounded, and ignored).</summary>
    internal sealed class Handler(NodeTelemetry telemetry, Action<string> log) : IClaimHandler
    {
        // Waited on asynchronously: 16 handlers blocked in a lock would each hold a pool thread of PID 1 while one
        // render (a netlink call, sysfs reads) runs, and a connection's lifetime could not end the wait.
        private readonly SemaphoreSlim _render = new(1, 1);
        private int _renderFailures;

        public async Task HandleAsync(HoldingConnection connection, CancellationToken cancellation)
        {
            var (socket, options) = (connection.Socket, connection.Options);
            var buffer = new byte[options.MaxInboundBytes];
            int total = 0, headerEnd = -1;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                deadline.CancelAfter(options.HelloTimeout);
                while (headerEnd < 0)
                {
                    if (total == buffer.Length)
                    {
                        await Respond(socket, 431, "Request Header Fields Too Large", $"the request is over {buffer.Length} bytes\n", head: false, options, cancellation);
                        return;
                    }
                    int n;
                    try
                    {
                        n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, deadline.Token);
                    }
                    catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                    {
                        return; // too slow: closed without an answer
                    }
                    if (n == 0) return;
                    int from = Math.Max(0, total - 3);
                    total += n;
                    int at = buffer.AsSpan(from, total - from).IndexOf("\r\n\r\n"u8);
                    if (at >= 0) headerEnd = from + at;
                }
            }
            var request = buffer.AsSpan(0, headerEnd);
            int lineEnd = request.IndexOf("\r\n"u8);
            var line = lineEnd < 0 ? request : request[..lineEnd];
            if (!TryParseRequestLine(line, out var method, out var path))
            {
                await Respond(socket, 400, "Bad Request", "not an HTTP/1.x request line\n", head: false, options, cancellation);
                return;
            }
            bool head = method == "HEAD";
            if (method != "GET" && !head)
            {
                await Respond(socket, 405, "Method Not Allowed", "read-only: GET or HEAD " + Path + "\n", head: false, options, cancellation, "Allow: GET, HEAD\r\n");
                return;
            }
            if (path != Path)
            {
                await Respond(socket, 404, "Not Found", "the node serves only " + Path + "\n", head, options, cancellation);
                return;
            }
            byte[]? body;
            await _render.WaitAsync(cancellation);
            try
            {
                body = telemetry.Render();
            }
            catch (Exception e)
            {
                body = null;
                if (Interlocked.Increment(ref _renderFailures) <= 5) log($"metrics endpoint: rendering failed: {e.GetType().Name}: {e.Message}");
            }
            finally
            {
                _render.Release();
            }
            if (body is null)
            {
                await Respond(socket, 500, "Internal Server Error", "the metrics could not be collected; the node's console says why\n", head, options, cancellation);
                return;
            }
            await Send(socket, Header(200, "OK", PrometheusTextWriter.ContentType, body.Length, ""), head ? [] : body, options, cancellation);
        }

        /// <summary>"GET /metrics HTTP/1.1": method and path (the query string is ignored); false for anything else.</summary>
        internal static bool TryParseRequestLine(ReadOnlySpan<byte> line, out string method, out string path)
        {
            method = path = "";
            int first = line.IndexOf((byte)' ');
            if (first <= 0) return false;
            var rest = line[(first + 1)..];
            int second = rest.IndexOf((byte)' ');
            if (second <= 0) return false;
            var target = rest[..second];
            var version = rest[(second + 1)..];
            if (!version.SequenceEqual("HTTP/1.1"u8) && !version.SequenceEqual("HTTP/1.0"u8)) return false;
            foreach (byte b in line)
            {
                if (b is < 0x21 or > 0x7E && b != (byte)' ') return false; // no controls, no bytes beyond ASCII
            }
            int query = target.IndexOf((byte)'?');
            method = Encoding.ASCII.GetString(line[..first]);
            path = Encoding.ASCII.GetString(query < 0 ? target : target[..query]);
            return true;
        }

        private static byte[] Header(int status, string reason, string contentType, int length, string extra) => Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {reason}\r\nContent-Type: {contentType}\r\n" +
            $"Content-Length: {length.ToString(CultureInfo.InvariantCulture)}\r\nCache-Control: no-store\r\nConnection: close\r\n{extra}\r\n");

        private static Task Respond(Socket socket, int status, string reason, string text, bool head, HoldingOptions options, CancellationToken cancellation, string extra = "")
        {
            var body = Encoding.ASCII.GetBytes(text);
            return Send(socket, Header(status, reason, "text/plain; charset=utf-8", body.Length, extra), head ? [] : body, options, cancellation);
        }

        private static async Task Send(Socket socket, byte[] header, byte[] body, HoldingOptions options, CancellationToken cancellation)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(options.IdleTimeout);
            await socket.SendAsync(header, SocketFlags.None, timeout.Token);
            if (body.Length > 0) await socket.SendAsync(body, SocketFlags.None, timeout.Token);
        }
    }
}
