using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Fleet;

/// <summary>
/// A real Prometheus (Debian's `prometheus`, scripts/install-deps.sh) inside a rig namespace, with a generated
/// configuration scraping the given targets every second, its storage in the rig's work directory and its HTTP API
/// on the namespace's loopback only. Queried through /api/v1/query. Dispose kills it by its pid.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    public const string Binary = "/usr/bin/prometheus";
    public const int ApiPort = 9090;
    private readonly Process _process;
    private readonly NetworkNamespace _ns;
    private readonly StringBuilder _log = new();

    private PrometheusServer(Process process, NetworkNamespace ns)
    {
        _process = process;
        _ns = ns;
    }

    public static PrometheusServer Start(NetworkNamespace ns, string workDirectory, string job, IEnumerable<IPEndPoint> targets)
    {
        if (!File.Exists(Binary)) throw new RigInfrastructureException(RigFault.CaptureFailed, $"no {Binary}: install the Debian package prometheus (scripts/install-deps.sh)");
        var dir = Path.Combine(workDirectory, "prometheus");
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "prometheus.yml");
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: {job}
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """));
        // The namespace's loopback carries the API; the rig namespace may have it down.
        ns.Run("ip", "link", "set", "lo", "up");
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns.Name, Binary, $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}",
                     $"--web.listen-address=127.0.0.1:{ApiPort}", "--log.level=warn" })
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(psi)!;
        var server = new PrometheusServer(process, ns);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server._log) server._log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server._log) server._log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>An instant query: every result's labels and value (NaN-free), or null when Prometheus is not answering yet.</summary>
    public IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>? Query(string promql)
    {
        if (_process.HasExited) throw new RigInfrastructureException(RigFault.CaptureFailed, $"prometheus exited ({_process.ExitCode}):\n{Log}");
        string body;
        try
        {
            body = Get($"/api/v1/query?query={Uri.EscapeDataString(promql)}");
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException)
        {
            return null;
        }
        using var doc = JsonDocument.Parse(body);
        if (doc.RootElement.GetProperty("status").GetString() != "success") return null;
        var results = new List<(IReadOnlyDictionary<string, string>, double)>();
        foreach (var r in doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            var value = double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
            results.Add((labels, value));
        }
        return results;
    }

    /// <summary>The single value of <paramref name="promql"/>, or null (no answer yet, no series, or several).</summary>
    public double? Scalar(string promql) => Query(promql) is [var only] ? only.Value : null;

    /// <summary>
    /// Polls (every 0.5 s, bounded) until <paramref name="promql"/> has one value for which <paramref name="holds"/> is
    /// true: that value, or null at the deadline (the caller decides whose failure that is; <see cref="Describe"/> says
    /// what Prometheus last saw).
    /// </summary>
    public double? WaitFor(string promql, Func<double, bool> holds, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Scalar(promql) is { } v && holds(v)) return v;
            Thread.Sleep(500); // polling an external server's API at its scrape cadence, not synchronising threads
        }
        return null;
    }

    /// <summary>What <paramref name="promql"/> gives now, and Prometheus's own log, for a failure message.</summary>
    public string Describe(string promql)
    {
        var now = Query(promql);
        var shown = now is null ? "no answer" : now.Count == 0 ? "no series" : string.Join("; ", now.Select(r => $"{{{string.Join(",", r.Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {r.Value.ToString(CultureInfo.InvariantCulture)}"));
        return $"{promql} = {shown}; prometheus log:\n{Log}";
    }

    private string Get(string pathAndQuery)
    {
        using var socket = _ns.CreateTcpSocket(AddressFamily.InterNetwork);
        socket.ReceiveTimeout = socket.SendTimeout = 5000;
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, ApiPort), cts.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("prometheus API connect timed out");
            }
        }
        socket.Send(Encoding.ASCII.GetBytes($"GET {pathAndQuery} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"));
        var response = new MemoryStream();
        var buffer = new byte[16384];
        int n;
        while ((n = socket.Receive(buffer)) > 0) response.Write(buffer, 0, n);
        var text = Encoding.UTF8.GetString(response.ToArray());
        int body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (body < 0 || !text.StartsWith("HTTP/1.", StringComparison.Ordinal)) throw new IOException($"not an HTTP response from prometheus: {text[..Math.Min(200, text.Length)]}");
        return text[(body + 4)..];
    }

    public void Dispose() => HostCommand.Stop(_process);
}
