using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Geralt;
using Ppn.Commands;

// Two ratios, measured in the same run on the same machine, loopback only, bounded (well under 2 minutes).
var root = FindRoot();
var authorityPrivate = Convert.FromHexString("a8" + string.Concat(Enumerable.Repeat("ab", 30)) + "6b");
var nodePrivate = Convert.FromHexString("c8" + string.Concat(Enumerable.Repeat("cd", 30)) + "4d");
var authorityPublic = new byte[32];
var nodePublic = new byte[32];
X25519.ComputePublicKey(authorityPublic, authorityPrivate);
X25519.ComputePublicKey(nodePublic, nodePrivate);
using var nodeRing = CommandKeyring.ForNode(nodePrivate, authorityPublic);
using var sealer = CommandSealer.ForNode(authorityPrivate, nodePublic);

VerifyCost();
Intake(datagrams: 200_000, validEvery: 1000);
return 0;

void VerifyCost()
{
    const int n = 500_000;
    var verifier = new CommandVerifier(nodeRing, new NodeAddressing(42), Provisioned(), 0);
    var forged = new byte[16];
    sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(42), 1, forged);
    forged[15] ^= 1;
    var valid = new byte[n][];
    for (int i = 0; i < n; i++)
    {
        valid[i] = new byte[16];
        sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(42), (uint)(i + 1), valid[i]);
    }
    var tag = new byte[32];
    var key = nodeRing.Key(0).ToArray(); // bench only: a copy, so the lambda can hold it
    for (int i = 0; i < 20_000; i++) { verifier.Verify(forged, out _); BLAKE2b.ComputeTag(tag, forged.AsSpan(0, 8), key); }

    double raw = Time(() => { for (int i = 0; i < n; i++) BLAKE2b.ComputeTag(tag, forged.AsSpan(0, 8), key); });
    double bad = Time(() => { for (int i = 0; i < n; i++) verifier.Verify(forged, out _); });
    double good = Time(() => { for (int i = 0; i < n; i++) verifier.Verify(valid[i], out _); });
    Console.WriteLine($"verify: raw keyed BLAKE2b-256 over 8 bytes   {raw / n,8:F1} ns");
    Console.WriteLine($"verify: forged packet (full path to tag)     {bad / n,8:F1} ns   ratio {bad / raw:F2}x");
    Console.WriteLine($"verify: valid packet (tag + window + floor)  {good / n,8:F1} ns   ratio {good / raw:F2}x");
}

void Intake(int datagrams, int validEvery)
{
    // Baseline: the C drain loop, compiled now with the machine's gcc.
    var drainBinary = Path.Combine(Path.GetTempPath(), $"ppn-recvmmsg-drain-{Environment.ProcessId}");
    Run("gcc", $"-O2 -o {drainBinary} {Path.Combine(root, "bench", "recvmmsg_drain.c")}");
    try
    {
        var c = DrainWithC(drainBinary, datagrams, validEvery);
        var ours = DrainWithListener(datagrams, validEvery);
        Console.WriteLine($"intake: C recvmmsg drain     {c.Received,7} of {datagrams} datagrams, {c.Rate / 1e3,8:F0} k/s");
        Console.WriteLine($"intake: ppn listener         {ours.Received,7} of {datagrams} datagrams, {ours.Rate / 1e3,8:F0} k/s   ratio {ours.Rate / c.Rate:F2}x of C");
        Console.WriteLine("intake: one sender thread on loopback; when both receivers take every datagram the sender is the bottleneck and the ratio says 'keeps up', not peak capacity");
        Console.WriteLine($"flood:  valid commands sent {ours.ValidSent}, accepted {ours.Accepted}, lost {ours.ValidSent - ours.Accepted} (goal 0); " +
            $"forged rejected {ours.Rejected}, executor queue overflows {ours.QueueFull}");
    }
    finally
    {
        File.Delete(drainBinary);
    }
}

(long Received, double Rate) DrainWithC(string binary, int datagrams, int validEvery)
{
    using var p = Process.Start(new ProcessStartInfo(binary, datagrams.ToString()) { RedirectStandardOutput = true })!;
    var portLine = p.StandardOutput.ReadLine() ?? throw new InvalidOperationException("drain did not start");
    int port = int.Parse(portLine.Split(' ')[1]);
    Blast(new IPEndPoint(IPAddress.Loopback, port), datagrams, validEvery);
    var result = p.StandardOutput.ReadLine() ?? throw new InvalidOperationException("drain printed nothing");
    if (!p.WaitForExit(30_000)) p.Kill();
    var parts = result.Split(' ');
    long received = long.Parse(parts[1]);
    long ns = long.Parse(parts[3]);
    return (received, received / (ns / 1e9));
}

(long Received, double Rate, int ValidSent, long Accepted, long Rejected, long QueueFull) DrainWithListener(int datagrams, int validEvery)
{
    var effects = new CountingEffects();
    var journal = new CommandJournal();
    var verifier = new CommandVerifier(nodeRing, new NodeAddressing(42), Provisioned(), 0);
    using var listener = CommandListener.Start(new CommandListenerOptions { BindAddress = IPAddress.Loopback, Port = 0, ExecutorQueueCapacity = 1024 },
        verifier, new CommandDispatcher(effects, journal), journal);
    // A sampler thread notes when the first datagram arrived and when the count last moved (500 ms idle or the
    // total ends it); the rate is first-to-last datagram, as the C drain reports it.
    var clock = Stopwatch.StartNew();
    long lastCount = -1;
    double firstSeen = -1, lastChange = 0;
    var sampler = new Thread(() =>
    {
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            long count = listener.DatagramsReceived;
            double t = clock.Elapsed.TotalSeconds;
            if (count > 0 && firstSeen < 0) firstSeen = t;
            if (count != lastCount) { lastCount = count; lastChange = t; }
            if (count >= datagrams || (count > 0 && t - lastChange > 0.5)) break;
            Thread.Sleep(1);
        }
    });
    sampler.Start();
    int validSent = Blast(listener.LocalEndPoint, datagrams, validEvery);
    sampler.Join();
    double seconds = Math.Max(lastChange - Math.Max(firstSeen, 0), 1e-6);
    return (lastCount, listener.DatagramsReceived / seconds, validSent, verifier.Counters[CommandVerdict.Accepted],
        verifier.Counters.Rejected, listener.QueueFull);
}

// Sends the flood from one socket as fast as it can: forged datagrams, with one valid command every validEvery.
int Blast(IPEndPoint target, int datagrams, int validEvery)
{
    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    socket.Connect(target);
    var forged = new byte[16];
    sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(42), 1, forged);
    forged[15] ^= 1;
    var counter = new AuthorityCounter();
    var valid = new byte[16];
    int validSent = 0;
    for (int i = 0; i < datagrams; i++)
    {
        if (i % validEvery == validEvery / 2)
        {
            sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(42), counter.Next(), valid);
            socket.Send(valid);
            validSent++;
        }
        else
        {
            socket.Send(forged);
        }
    }
    return validSent;
}

static InMemoryReplayStateStore Provisioned()
{
    var store = new InMemoryReplayStateStore();
    store.Save(new ReplayState(0, 0));
    return store;
}

static double Time(Action action)
{
    var clock = Stopwatch.StartNew();
    action();
    return clock.Elapsed.TotalNanoseconds;
}

static void Run(string file, string args)
{
    using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
    var error = p.StandardError.ReadToEnd();
    if (!p.WaitForExit(60_000) || p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed: {error}");
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx"))) return dir.FullName;
    }
    return Environment.GetEnvironmentVariable("PPN_REPO_ROOT") ?? throw new InvalidOperationException("ppn.slnx not found");
}

internal sealed class CountingEffects : ICommandEffects
{
    public int Count;
    public void HealthProbe() => Interlocked.Increment(ref Count);
    public void Identify(int seconds) => Interlocked.Increment(ref Count);
    public void Reboot() => Interlocked.Increment(ref Count);
    public void Poweroff() => Interlocked.Increment(ref Count);
    public void RetuneNic() => Interlocked.Increment(ref Count);
    public void RescanBeacon() => Interlocked.Increment(ref Count);
    public void GenesisReset() => Interlocked.Increment(ref Count);
}
