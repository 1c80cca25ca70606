using System.Net;
using System.Net.NetworkInformation;
using Ppn.Formats;

namespace Ppn.Appliance.SelfTests;

/// <summary>
/// `ppn.selftest=mesh-ping:10.8.0.3,10.8.0.1` on the kernel command line: once the node is enrolled and ppn0 is
/// up, it sends ICMP echo requests to each mesh address through the tunnel (a spoke reaches another spoke only
/// through the hub) and prints one JSON line per address (<see cref="MeshPingSelfTestResult"/>) and a summary, as the other self-tests do. Proves the
/// whole mesh path on a bench; every wait is bounded.
/// </summary>
public static class MeshPingSelfTest
{
    public const string Key = "ppn.selftest";
    public const string Prefix = "mesh-ping:";

    public static IReadOnlyList<IPAddress> Targets(KernelCommandLine cmdline) =>
        cmdline.Values(Key)
            .Where(v => v.StartsWith(Prefix, StringComparison.Ordinal))
            .SelectMany(v => v[Prefix.Length..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            .Select(t => IPAddress.TryParse(t, out var a) ? a : null)
            .OfType<IPAddress>()
            .ToList();

    /// <param name="attempts">Echo requests per address until one is answered (the first ones may start the WireGuard handshake).</param>
    public static void Run(IReadOnlyList<IPAddress> targets, Action<string> log, int attempts = 120, int timeoutMs = 1000, CancellationToken stopping = default)
    {
        int passed = 0;
        using var ping = new Ping();
        foreach (var target in targets)
        {
            long? rtt = null;
            string? error = null;
            int tries = 0;
            for (; tries < attempts && rtt is null && !stopping.IsCancellationRequested; tries++)
            {
                try
                {
                    var reply = ping.Send(target, timeoutMs);
                    if (reply.Status == IPStatus.Success) rtt = reply.RoundtripTime;
                    else error = reply.Status.ToString();
                }
                catch (PingException e)
                {
                    error = e.InnerException?.Message ?? e.Message;
                    stopping.WaitHandle.WaitOne(timeoutMs); // a send error returns at once: keep the attempt's pace
                }
            }
            if (rtt is not null) passed++;
            var result = new MeshPingSelfTestResult
            {
                Target = target.ToString(),
                Passed = rtt is not null,
                Attempts = tries,
                RttMs = rtt,
                Error = rtt is null ? error : null, // a failed attempt before the answered one is not the result
            };
            log(SelfTestLine.Message(SelfTestLine.MeshPing, result, SelfTestJson.Default.MeshPingSelfTestResult));
        }
        log($"mesh-ping: {passed} passed, {targets.Count - passed} failed");
    }
}
