using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Geralt;
using Ppn.Commands;
using Ppn.Commands.Bench;

// make bench (docs/performance.md): ppn's command path and startup against C baselines compiled in this run,
// each pair measured interleaved (A B, B A, ...) so machine load hits both alike; min/median/max per figure, the
// ratio of medians, and one line per goal. Exit 1 when the flood phase lost a valid command or was sender-bound.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception e) when (e is BenchError or FormatException or OverflowException)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 2;
}
var report = new Report();
var work = Directory.CreateTempSubdirectory("ppn-bench-");
try
{
    if (options.TimelineOnly)
    {
        BootTimeline.Write(options.BootConsole ?? throw new BenchError("--timeline-only needs --boot-console FILE"), report);
        return report.Summarise();
    }
    var bench = new Bench(options, work.FullName, report);
    bench.CompileBaselines();
    if (options.Runs("verify")) bench.Verify();
    if (options.Runs("intake") || options.Runs("flood"))
    {
        var capacity = bench.Capacity();
        if (options.Runs("flood")) bench.Flood(capacity);
    }
    if (options.Runs("receivers")) bench.Scaling();
    if (options.Runs("startup"))
    {
        bench.Startup();
        bench.ExecToListening(); // StartupFigures.cs
    }
    if (options.Runs("size")) bench.Size();
    if (options.Runs("boot"))
    {
        if (options.BootConsole is { } console) BootTimeline.Write(console, report);
        else report.Note("boot timeline: not measured — no --boot-console (make bench passes the newest out/rig/*/node-a.console.log when there is one)");
    }
}
catch (BenchError e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 2;
}
finally
{
    work.Delete(recursive: true);
}
return report.Summarise();

internal sealed class BenchError(string message) : Exception(message);

internal sealed record BenchOptions(string Repo, string? Ppn, int Reps, int Receivers, double FloodLoad, int FloodDatagrams, string? BootConsole, string? Initramfs, bool TimelineOnly, IReadOnlySet<string> Only)
{
    /// <summary>A Native AOT hello built with ppn's settings (make bench: out/bench/aot-hello/aot-hello): the startup floor.</summary>
    public string? AotHello { get; init; }

    /// <summary>The phases --only may name; all run when it is not given.</summary>
    public static readonly string[] Phases = ["verify", "intake", "flood", "receivers", "startup", "size", "boot"];

    public bool Runs(string phase) => Only.Count == 0 || Only.Contains(phase);

    public static BenchOptions Parse(string[] args)
    {
        string repo = Environment.GetEnvironmentVariable("PPN_REPO_ROOT") ?? Directory.GetCurrentDirectory();
        string? ppn = null, console = null, initramfs = null, aotHello = null;
        int reps = 5, receivers = 1, flood = 300_000;
        double load = 1.0;
        bool timelineOnly = false;
        var only = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new BenchError($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--repo": repo = Value(); break;
                case "--ppn": ppn = Value(); break;
                case "--reps": reps = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--receivers": receivers = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--flood-load": load = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--flood-datagrams": flood = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--boot-console": console = Value(); break;
                case "--initramfs": initramfs = Value(); break;
                case "--aot-hello": aotHello = Value(); break;
                case "--timeline-only": timelineOnly = true; break;
                case "--only":
                    foreach (var phase in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!Phases.Contains(phase)) throw new BenchError($"--only: unknown phase '{phase}' (phases: {string.Join(",", Phases)})");
                        only.Add(phase);
                    }
                    break;
                default:
                    throw new BenchError($"unknown option {args[i]} (--repo DIR --ppn FILE --reps N --receivers N --flood-load X --flood-datagrams N --boot-console FILE --initramfs FILE --aot-hello FILE --timeline-only --only {string.Join(",", Phases)})");
            }
        }
        if (!File.Exists(Path.Combine(repo, "ppn.slnx"))) throw new BenchError($"{repo} is not the repository (no ppn.slnx); pass --repo");
        if (reps < 1) throw new BenchError("--reps must be at least 1");
        if (aotHello is not null && !File.Exists(aotHello)) throw new BenchError($"--aot-hello {aotHello} does not exist (make bench publishes commands/Ppn.AotHello.Bench to out/bench/aot-hello)");
        return new BenchOptions(repo, ppn, reps, receivers, load, flood, console, initramfs, timelineOnly, only) { AotHello = aotHello };
    }
}

/// <summary>min/median/max of one figure over the repetitions.</summary>
internal readonly record struct Stats(double Min, double Median, double Max)
{
    public static Stats Of(IReadOnlyCollection<double> values)
    {
        var s = values.Order().ToArray();
        double median = s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        return new Stats(s[0], median, s[^1]);
    }

    public string Format(string unit, string format = "F1") =>
        $"{Median.ToString(format, CultureInfo.InvariantCulture)} {unit} [{Min.ToString(format, CultureInfo.InvariantCulture)}..{Max.ToString(format, CultureInfo.InvariantCulture)}]";
}

internal sealed class Report
{
    private readonly List<string> _summary = [];
    private bool _failed;

    public void Section(string title) => Console.WriteLine($"\n== {title}");
    public static void Line(string text) => Console.WriteLine("   " + text);

    /// <summary>One goal: a ratio where lower is better (<paramref name="atMost"/>) or higher is better.</summary>
    public void Ratio(string figure, double ratio, double goal, bool atMost, string detail)
    {
        bool met = atMost ? ratio <= goal : ratio >= goal;
        string line = $"{figure}: {ratio.ToString("F2", CultureInfo.InvariantCulture)}x (goal {(atMost ? "at most" : "at least")} {goal.ToString("F2", CultureInfo.InvariantCulture)}x) — goal {(met ? "met" : "NOT met")}";
        Console.WriteLine($"   => {line}; {detail}");
        _summary.Add(line);
    }

    public void Gate(string figure, bool passed, string detail)
    {
        string line = $"{figure}: {(passed ? "passed" : "FAILED")} — {detail}";
        Console.WriteLine($"   => {line}");
        _summary.Add(line);
        _failed |= !passed;
    }

    public void Note(string line)
    {
        Console.WriteLine($"   => {line}");
        _summary.Add(line);
    }

    public int Summarise()
    {
        Console.WriteLine("\n== summary");
        foreach (var s in _summary) Console.WriteLine("   " + s);
        Console.WriteLine(_failed ? "bench FAILED (a gate above failed)" : "bench passed its gates (goals met or not are listed above)");
        return _failed ? 1 : 0;
    }
}

internal sealed partial class Bench
{
    private const int ReceiverCpu = 0;
    private const int SenderCpu = 1;
    /// <summary>verify: each repetition's 300 000 datagrams per side, in this many chunks interleaved with C's.</summary>
    private const int VerifyChunks = 10;
    /// <summary>intake capacity: fills drained per side and repetition, alternating which side goes first.</summary>
    private const int IntakeSamplesPerRep = 3;
    private const int RecordBytes = 32;
    private const int ValidEvery = 1000;
    private const ushort NodeId = 42;
    private static readonly int ReceiveBuffer = new CommandListenerOptions { BindAddress = IPAddress.Loopback }.ReceiveBufferBytes; // the listener's default (the flood)
    private const int CapacityBuffer = 16 << 20; // the pre-filled queue of the capacity figures, the same on both sides (the listener's default)

    private readonly BenchOptions _options;
    private readonly string _work;
    private readonly Report _report;
    private readonly byte[] _authorityPrivate = Convert.FromHexString("a8" + string.Concat(Enumerable.Repeat("ab", 30)) + "6b");
    private readonly byte[] _nodePrivate = Convert.FromHexString("c8" + string.Concat(Enumerable.Repeat("cd", 30)) + "4d");
    private readonly CommandKeyring _ring;
    private readonly CommandSealer _sealer;
    private string _drain = "", _drainVerify = "", _sender = "", _verify = "", _hello = "", _exec = "";

    public Bench(BenchOptions options, string work, Report report)
    {
        _options = options;
        _work = work;
        _report = report;
        var authorityPublic = new byte[32];
        var nodePublic = new byte[32];
        X25519.ComputePublicKey(authorityPublic, _authorityPrivate);
        X25519.ComputePublicKey(nodePublic, _nodePrivate);
        _ring = CommandKeyring.ForNode(_nodePrivate, authorityPublic);
        _sealer = CommandSealer.ForNode(_authorityPrivate, nodePublic);
        if (Environment.ProcessorCount < 2) throw new BenchError("needs 2 CPUs: the receiver and the sender are pinned to different ones");
    }

    public void CompileBaselines()
    {
        _report.Section("baselines (gcc, this run)");
        var sodium = Path.Combine(AppContext.BaseDirectory, "libsodium.so");
        if (!File.Exists(sodium)) throw new BenchError($"{sodium} missing: run the Native AOT publish (make bench does)");
        string Compile(string name, string extra = "", string? outputName = null)
        {
            var output = Path.Combine(_work, outputName ?? name);
            Run("gcc", $"-O2 -Wall -o {output} {Path.Combine(_options.Repo, "bench", name + ".c")} {extra}");
            return output;
        }
        _drain = Compile("recvmmsg_drain");
        _sender = Compile("sendmmsg_sender");
        _hello = Compile("hello");
        _exec = Compile("exec_time");
        var dir = Path.GetDirectoryName(sodium)!;
        _verify = Compile("verify_blake2b", $"-shared -fPIC -L{dir} -l:libsodium.so -Wl,-rpath,{dir}", "libverify_blake2b.so");
        _drainVerify = Compile("recvmmsg_drain", "-DVERIFY", "recvmmsg_drain_verify");
        Report.Line($"gcc {Run("gcc", "-dumpfullversion").Trim()}; C verify links {sodium} (sha256 {Hash(sodium)})");
        if (_options.Ppn is { } ppn && File.Exists(Path.Combine(Path.GetDirectoryName(ppn)!, "libsodium.so")))
        {
            var shipped = Path.Combine(Path.GetDirectoryName(ppn)!, "libsodium.so");
            bool same = Hash(shipped) == Hash(sodium);
            Report.Line($"shipped {shipped}: {(same ? "the same file" : "DIFFERENT")}");
            if (!same) throw new BenchError($"{sodium} is not the libsodium.so ppn ships ({shipped}); rebuild both");
        }
        Report.Line($"load average at start: {File.ReadAllText("/proc/loadavg").Trim()} on {Environment.ProcessorCount} CPUs");
    }

    // ---- verify: tag cost against libsodium's keyed BLAKE2b from C and against C doing our work (one compression
    // from the key's state), all in this process on one pinned CPU
    public unsafe void Verify()
    {
        _report.Section($"verify: one command, ours (AOT, CommandVerifier) vs C libsodium keyed BLAKE2b-256 over 8 bytes + compare, and vs C computing the tag as ours does (one compression from the key's state) (one thread pinned to CPU {ReceiverCpu}, {VerifyChunks} interleaved chunks per repetition)");
        const int n = 300_000;
        const int chunk = n / VerifyChunks;
        var forged = new byte[16];
        _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), 1, forged);
        forged[15] ^= 1;
        var valid = new byte[n * 16];
        for (int i = 0; i < n; i++) _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), (uint)(i + 1), valid.AsSpan(i * 16, 16));
        List<double> c = [], same = [], bad = [], good = [];
        var library = NativeLibrary.Load(_verify);
        try
        {
            var loop = (delegate* unmanaged<long, double>)NativeLibrary.GetExport(library, "verify_blake2b_loop");
            var stateLoop = (delegate* unmanaged<long, double>)NativeLibrary.GetExport(library, "verify_state_loop");
            double C(long count) => loop(count) is var ns and >= 0 ? ns : throw new BenchError($"{_verify}: libsodium failed to start, or a forged tag matched");
            double CSame(long count) => stateLoop(count) is var ns and >= 0 ? ns : throw new BenchError($"{_verify}: the C tag from the key's state disagrees with libsodium, or a forged tag matched");
            // The same thread, CPU, caches and libsodium for both sides; chunks of ~10 ms, the side that goes first rotating.
            Native.Pin(0, ReceiverCpu);
            try
            {
                C(20_000);
                CSame(20_000);
                for (int rep = 0; rep < _options.Reps; rep++)
                {
                    var verifier = new CommandVerifier(_ring, new NodeAddressing(NodeId), Provisioned(), 0);
                    for (int i = 0; i < 20_000; i++) verifier.Verify(forged, out _);
                    for (int k = 0; k < VerifyChunks; k++)
                    {
                        for (int side = 0; side < 4; side++)
                        {
                            switch ((rep + k + side) % 4)
                            {
                                case 0:
                                    c.Add(C(chunk));
                                    break;
                                case 3:
                                    same.Add(CSame(chunk));
                                    break;
                                case 1:
                                {
                                    long start = Stopwatch.GetTimestamp();
                                    for (int i = 0; i < chunk; i++) verifier.Verify(forged, out _);
                                    bad.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / chunk);
                                    break;
                                }
                                case 2:
                                {
                                    long start = Stopwatch.GetTimestamp();
                                    for (int i = k * chunk; i < (k + 1) * chunk; i++) verifier.Verify(valid.AsSpan(i * 16, 16), out _);
                                    good.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / chunk);
                                    break;
                                }
                            }
                        }
                    }
                    if (verifier.Counters[CommandVerdict.Accepted] != n) throw new BenchError("valid packets were not all accepted");
                }
            }
            finally
            {
                Native.Unpin(0);
            }
        }
        finally
        {
            NativeLibrary.Free(library);
        }
        var sc = Stats.Of(c);
        var ss = Stats.Of(same);
        var sb = Stats.Of(bad);
        var sg = Stats.Of(good);
        Report.Line($"C libsodium          {sc.Format("ns")}");
        Report.Line($"C, tag from the key's state {ss.Format("ns")}");
        Report.Line($"ours, forged (bad tag) {sb.Format("ns")}");
        Report.Line($"ours, valid (tag + window + floor) {sg.Format("ns")}");
        _report.Ratio("verify forged vs C libsodium", sb.Median / sc.Median, 1.15, atMost: true, "median ns per datagram over every chunk, lower is better");
        _report.Ratio("verify valid vs C libsodium", sg.Median / sc.Median, 1.15, atMost: true, "median ns per datagram over every chunk, lower is better");
        _report.Ratio("verify forged vs C doing the same work", sb.Median / ss.Median, 1.15, atMost: true, "C computing the tag from the key's state as ours does: what the parse, checks and counters around it cost");
    }

    // ---- capacity: drain a pre-filled receive buffer, receiver pinned, buffer filled by the C sendmmsg sender.
    // Two rounds on each socket: the first fill overflows, so in the second every queued datagram carries the
    // socket's drop count (SO_RXQ_OVFL), as on a node that has ever dropped anything.
    public double Capacity()
    {
        _report.Section($"intake capacity: drain a receive buffer pre-filled with well-formed forgeries (receiver pinned to CPU {ReceiverCpu}, C sender on CPU {SenderCpu}; {IntakeSamplesPerRep} fills per side and repetition; each socket filled twice: a fresh socket, then the same socket after the first fill overflowed)");
        const int fill = 60_000; // more than a 16 MiB request (32 MiB granted) holds: what does not fit is dropped by the kernel
        var packets = WritePackets("prefill.bin", 1, _ => Forged(wellFormed: true, 0));
        var c = new Samples[2];
        var v = new Samples[2];
        var o = new Samples[2];
        for (int r = 0; r < 2; r++) (c[r], v[r], o[r]) = (new(), new(), new());
        long cQueued = 0, oQueued = 0, oCarried = 0;
        for (int rep = 0; rep < _options.Reps; rep++)
        {
            void MeasureC()
            {
                var plain = DrainWithC(_drain, packets, fill);
                for (int r = 0; r < 2; r++) c[r].Add(plain[r]);
                cQueued = plain[0].Queued;
                var same = DrainWithC(_drainVerify, packets, fill);
                for (int r = 0; r < 2; r++) v[r].Add(same[r]);
            }
            void MeasureOurs()
            {
                var ours = DrainWithListener(packets, fill, out oCarried);
                for (int r = 0; r < 2; r++) o[r].Add(ours[r]);
                oQueued = ours[0].Queued;
            }
            for (int sample = 0; sample < IntakeSamplesPerRep; sample++)
            {
                if ((rep + sample) % 2 == 0) { MeasureC(); MeasureOurs(); } else { MeasureOurs(); MeasureC(); }
            }
        }
        for (int r = 0; r < 2; r++)
        {
            string suffix = r == 0 ? "" : " after an overflow";
            var (cr, vr, or, cc, vc, oc) = (Stats.Of(c[r].Rate), Stats.Of(v[r].Rate), Stats.Of(o[r].Rate), Stats.Of(c[r].Cpu), Stats.Of(v[r].Cpu), Stats.Of(o[r].Cpu));
            Report.Line(r == 0 ? "fresh socket (the datagrams carry no drop count):" : $"after an overflow (every datagram queued carries the drop count; ppn's last batch read {oCarried}):");
            Report.Line($"C recvmmsg drain           {Scale(cr, 1e-3).Format("k datagrams/s", "F0")}, CPU {cc.Format("ns/datagram")} ({cQueued} queued)");
            Report.Line($"C drain, the same work     {Scale(vr, 1e-3).Format("k datagrams/s", "F0")}, CPU {vc.Format("ns/datagram")}");
            Report.Line($"ppn listener               {Scale(or, 1e-3).Format("k datagrams/s", "F0")}, CPU {oc.Format("ns/datagram")} ({oQueued} queued; every one verified)");
            // Against the drain that verifies nothing, the hash alone bounds any verifying receiver: C computing the tag
            // the same way reaches only v/c. Printed beside the ratio so the reader sees how much of the gap is ours.
            _report.Ratio("intake capacity vs C recvmmsg drain" + suffix, or.Median / cr.Median, 0.9, atMost: false,
                string.Create(CultureInfo.InvariantCulture, $"median datagrams/s draining a full buffer, higher is better (the drain verifies nothing; C doing the same work reaches {vr.Median / cr.Median:F2}x)"));
            _report.Ratio("intake CPU per datagram vs C recvmmsg drain" + suffix, oc.Median / cc.Median, 1.2, atMost: true,
                string.Create(CultureInfo.InvariantCulture, $"median receiver-thread CPU ns per datagram, lower is better (the drain verifies nothing; C doing the same work needs {vc.Median / cc.Median:F2}x)"));
            _report.Ratio("intake capacity vs C drain doing the same work" + suffix, or.Median / vr.Median, 0.9, atMost: false, "tag, SO_RXQ_OVFL and its control message in C: what ppn adds beyond the kernel and the hash");
            _report.Ratio("intake CPU per datagram vs C drain doing the same work" + suffix, oc.Median / vc.Median, 1.2, atMost: true, "the same work in C");
        }
        return Stats.Of(o[0].Rate).Median;
    }

    private sealed class Samples
    {
        public readonly List<double> Rate = [], Cpu = [];
        public void Add((long Queued, double Ns, long Cpu) drain)
        {
            Rate.Add(drain.Queued / (drain.Ns / 1e9));
            Cpu.Add(drain.Cpu / (double)drain.Queued);
        }
    }

    /// <summary>Two fills and drains of one C drain's socket: a fresh one, then after the first overflowed.</summary>
    private (long Queued, double Ns, long Cpu)[] DrainWithC(string drain, string packets, int fill)
    {
        using var p = Process.Start(new ProcessStartInfo(drain, $"--cpu {ReceiverCpu} --rcvbuf {CapacityBuffer} --rounds 2")
        { RedirectStandardOutput = true, RedirectStandardInput = true })!;
        try
        {
            int port = int.Parse((p.StandardOutput.ReadLine() ?? throw new BenchError("recvmmsg_drain did not start")).Split(' ')[1], CultureInfo.InvariantCulture);
            var rounds = new (long, double, long)[2];
            for (int r = 0; r < 2; r++)
            {
                Send(port, packets, fill, rate: 0, sockets: 1);
                p.StandardInput.WriteLine("go");
                p.StandardInput.Flush();
                var parts = (p.StandardOutput.ReadLine() ?? throw new BenchError("recvmmsg_drain printed nothing")).Split(' ');
                // The -DVERIFY drain also prints how many tags matched: every queued datagram is a forgery.
                if (parts.Length > 7 && parts[6] == "authentic" && parts[7] != "0") throw new BenchError($"{drain}: {parts[7]} forged tags matched");
                // ... and the drop count its batches carried: none in the first round, the first fill's in the second.
                if (parts.Length > 9 && parts[8] == "kernel_drops" && (parts[9] == "0") != (r == 0))
                    throw new BenchError($"{drain}: round {r + 1} read a drop count of {parts[9]} (expected {(r == 0 ? "none" : "the first fill's")})");
                rounds[r] = (long.Parse(parts[1], CultureInfo.InvariantCulture), double.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[5], CultureInfo.InvariantCulture));
            }
            if (!p.WaitForExit(30_000)) throw new BenchError("recvmmsg_drain did not exit");
            return rounds;
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }

    /// <summary>Two fills and drains of one listener's socket, as <see cref="DrainWithC"/>.</summary>
    private (long Queued, double Ns, long Cpu)[] DrainWithListener(string packets, int fill, out long carried)
    {
        // The receive thread is held inside a valid command's floor save while the C sender fills the buffer;
        // released, it drains what was queued. Its CPU time comes from the kernel (schedstat).
        using var store = new GatedStore();
        var journal = new CommandJournal();
        var verifier = new CommandVerifier(_ring, new NodeAddressing(NodeId), store, 0);
        using var listener = StartListener(verifier, journal, receivers: 1, CapacityBuffer);
        int rx = Native.FindThread("ppn-cmd-rx0");
        var rounds = new (long, double, long)[2];
        carried = 0;
        for (int r = 0; r < 2; r++)
        {
            using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
            {
                // Counter 1, then 1 + BlockSize: each starts a new block, so each is held in its floor save.
                var first = new byte[16];
                _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), 1 + (uint)r * CommandVerifier.BlockSize, first);
                client.SendTo(first, listener.LocalEndPoint);
            }
            if (!store.Entered.Wait(TimeSpan.FromSeconds(10))) throw new BenchError("the listener never took the gating command");
            store.Entered.Reset();
            long dropsBefore = listener.KernelDrops;
            Send(listener.LocalEndPoint.Port, packets, fill, rate: 0, sockets: 1);
            long queued = fill - (listener.KernelDrops - dropsBefore);
            long target = listener.DatagramsReceived + queued;
            Native.Pin(0, SenderCpu);
            var clock = Stopwatch.StartNew();
            long start = listener.DatagramsReceived;
            store.Release.Set();
            // As the C drain does, time from the first receive call on (the thread's wake-up latency is the scheduler's,
            // not the listener's): spin until the first batch after the release is counted, then stop watching from a
            // CPU. A spinning watcher would push other load onto the receiver's CPU, which the C drain never has; the
            // receiver's own schedstat (on a CPU + waiting for one) is its wall time while it drains.
            while (listener.DatagramsReceived == start)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(20)) throw new BenchError("the listener did not resume");
            }
            var begin = Native.Schedstat(rx);
            long resumed = listener.DatagramsReceived;
            clock.Restart();
            while (listener.DatagramsReceived < target)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(20)) throw new BenchError($"the listener drained {listener.DatagramsReceived} of {target} datagrams in 20 s");
                Thread.Sleep(1);
            }
            // Drained: the thread retries its empty queue for at most the busy-poll window (50 µs, about 1 ns a datagram
            // over 40 000) and then sleeps in poll(2), so reading it a little later changes next to nothing.
            // This thread stayed on the sender's CPU while it polled, so its wake-ups never preempted the receiver.
            var end = Native.Schedstat(rx);
            Native.Unpin(0);
            store.Release.Reset();
            long cpu = end.Running - begin.Running;
            double ns = (cpu + end.Waiting - begin.Waiting) * (double)queued / Math.Max(1, target - resumed); // the first batch at the same rate
            cpu = (long)(cpu * (double)queued / Math.Max(1, target - resumed));
            rounds[r] = (queued, ns, cpu);
            carried = listener.KernelDropsFromControlMessages;
            if ((carried == 0) != (r == 0))
                throw new BenchError($"the listener's round {r + 1} read a drop count of {carried} (expected {(r == 0 ? "none" : "the first fill's")})");
        }
        return rounds;
    }

    // ---- flood: the listener under floods at and beyond its capacity; fails on a lost valid command or a sender-bound run
    public void Flood(double capacity)
    {
        int receivers = _options.Receivers;
        _report.Section($"flood: {_options.FloodDatagrams} datagrams, one valid command in {ValidEvery}, C sendmmsg sender (UDP GSO, 8 source ports) on CPU {SenderCpu}, {receivers} receiver(s) from CPU {ReceiverCpu}");
        int valid = _options.FloodDatagrams / ValidEvery;
        // Wrong shapes: refused by the in-kernel prefilter. Well-formed: only the tag is wrong, so each costs a verify.
        var wrongShape = WritePackets("flood-wrong-shape.bin", _options.FloodDatagrams, i => Flooded(i, wellFormed: false));
        var wellFormed = WritePackets("flood-well-formed.bin", _options.FloodDatagrams, i => Flooded(i, wellFormed: true));
        double pace = capacity * _options.FloodLoad;
        for (int rep = 0; rep < _options.Reps; rep++)
        {
            var a = FloodOnce(wrongShape, rate: 0, receivers);
            bool aBound = a.Offered < capacity;
            _report.Gate($"flood of wrong shapes, unpaced, rep {rep + 1}", a.Lost == 0 && !aBound,
                $"offered {a.Offered / 1e3:F0} k/s ({(aBound ? "BELOW" : "at or above")} the receiver's capacity {capacity / 1e3:F0} k/s{(aBound ? ": sender-bound, the run proves nothing" : "")}); " +
                $"valid {valid} sent, {valid - a.Lost} accepted, {a.Lost} lost; kernel drops {a.KernelDrops}, verified {a.Received}");
            var b = FloodOnce(wellFormed, rate: pace, receivers);
            bool bBound = b.Offered < pace * 0.97;
            // A sender-bound run proved nothing either way (no command was lost, but the pace was not offered): it is
            // repeated once, and both are reported. One sender on one CPU offers only about what one receiver drains
            // here (docs/performance.md), so a moment of load on that CPU can cost the pace. A lost command is never repeated.
            string repeated = "";
            if (bBound && b.Lost == 0)
            {
                repeated = $" (a first run offered only {b.Offered / 1e3:F0} k/s, sender-bound: repeated)";
                b = FloodOnce(wellFormed, rate: pace, receivers);
                bBound = b.Offered < pace * 0.97;
            }
            _report.Gate($"flood of well-formed forgeries paced at {_options.FloodLoad:F2}x capacity, rep {rep + 1}", b.Lost == 0 && !bBound,
                $"offered {b.Offered / 1e3:F0} k/s of {pace / 1e3:F0} k/s asked{(bBound ? " (sender-bound: the sender could not keep the pace)" : "")}{repeated}; " +
                $"valid {valid} sent, {valid - b.Lost} accepted, {b.Lost} lost; kernel drops {b.KernelDrops} (queue overflows), verified {b.Received}");
        }
    }

    private (double Offered, long Lost, long KernelDrops, long Received) FloodOnce(string packets, double rate, int receivers)
    {
        var journal = new CommandJournal();
        var verifier = new CommandVerifier(_ring, new NodeAddressing(NodeId), Provisioned(), 0);
        using var listener = StartListener(verifier, journal, receivers, ReceiveBuffer);
        int count = _options.FloodDatagrams;
        // UDP GSO: one sender core offers several times what one sendmmsg entry per datagram can, so the flood
        // can reach the receiver's capacity; the receiver still gets each datagram on its own (docs/performance.md).
        var (sent, ns) = Send(listener.LocalEndPoint.Port, packets, count, rate, sockets: 8, gso: true);
        // Loopback accounts for every datagram within sendto: each one is read or dropped by the kernel.
        var clock = Stopwatch.StartNew();
        while (listener.DatagramsReceived + listener.KernelDrops < sent)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new BenchError($"flood: {listener.DatagramsReceived} read + {listener.KernelDrops} dropped of {sent} after 30 s");
            Thread.Sleep(1);
        }
        long validSent = count / ValidEvery;
        return (sent / (ns / 1e9), validSent - verifier.Counters[CommandVerdict.Accepted], listener.KernelDrops, listener.DatagramsReceived);
    }

    /// <summary>The real listener on loopback, its receivers pinned from <see cref="ReceiverCpu"/> on, one per CPU.</summary>
    private static CommandListener StartListener(CommandVerifier verifier, CommandJournal journal, int receivers, int receiveBuffer)
    {
        var listener = CommandListener.Start(new CommandListenerOptions
        {
            BindAddress = IPAddress.Loopback,
            Port = 0,
            Receivers = receivers,
            ReceiveBufferBytes = receiveBuffer,
            ExecutorQueueCapacity = 1024,
        }, verifier, new CommandDispatcher(new DiscardingEffects(), journal), journal);
        for (int r = 0; r < receivers; r++) Native.Pin(Native.FindThread($"ppn-cmd-rx{r}"), (ReceiverCpu + r) % Environment.ProcessorCount);
        return listener;
    }

    private (int Length, byte[] Bytes) Flooded(int i, bool wellFormed)
    {
        if (i % ValidEvery == ValidEvery / 2)
        {
            var b = new byte[16];
            _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), (uint)(i / ValidEvery + 1), b);
            return (16, b);
        }
        return Forged(wellFormed, i);
    }

    private (int Length, byte[] Bytes) Forged(bool wellFormed, int i)
    {
        var b = new byte[16];
        if (wellFormed)
        {
            _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), 7, b);
            b[15] ^= 1;
            return (16, b);
        }
        // A mix of what a blind forger sends: other targets (most), other lengths, other versions; in runs of 64
        // so that the GSO sender can send each run as one message (one length per message).
        switch (i / 64 % 10)
        {
            case 0: return (17, new byte[17]);
            case 1:
                _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), 7, b);
                b[0] = (byte)(0x20 | (b[0] & 0x0F));
                return (16, b);
            default:
                _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node((ushort)(NodeId + 1 + i % 1000)), 7, b);
                return (16, b);
        }
    }

    private string WritePackets(string name, int count, Func<int, (int Length, byte[] Bytes)> make)
    {
        var path = Path.Combine(_work, name);
        var all = new byte[count * RecordBytes];
        for (int i = 0; i < count; i++)
        {
            var (length, bytes) = make(i);
            all[i * RecordBytes] = (byte)length;
            bytes.AsSpan(0, length).CopyTo(all.AsSpan(i * RecordBytes + 1));
        }
        File.WriteAllBytes(path, all);
        return path;
    }

    private (long Sent, double Ns) Send(int port, string packets, int count, double rate, int sockets, bool gso = false)
    {
        var line = Run(_sender, string.Create(CultureInfo.InvariantCulture,
            $"--port {port} --packets {packets} --count {count} --rate {rate:F0} --cpu {SenderCpu} --sockets {sockets} --gso {(gso ? 1 : 0)}")).Split(' ');
        return (long.Parse(line[1], CultureInfo.InvariantCulture), double.Parse(line[3], CultureInfo.InvariantCulture));
    }

    // ---- startup: `ppn version` against a C hello, both through fork + execv + wait
    public void Startup()
    {
        _report.Section("startup: `ppn version` vs a C hello (fork, execv, wait; 10 starts per turn, turns interleaved)");
        if (_options.Ppn is not { } ppn || !File.Exists(ppn))
        {
            _report.Note("startup: not measured — no --ppn (make bench passes out/bin/ppn)");
            return;
        }
        List<double> hello = [], aot = [], ours = [];
        List<double> Starts(string command) => [.. Run(_exec, $"10 {command}").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => double.Parse(s, CultureInfo.InvariantCulture) / 1e6)];
        var aotHello = _options.AotHello;
        for (int rep = 0; rep < _options.Reps; rep++)
        {
            // Interleaved, the order turned every repetition: C hello, AOT hello, ppn version, then the other way round.
            Action[] turn = aotHello is null
                ? [() => hello.AddRange(Starts(_hello)), () => ours.AddRange(Starts($"{ppn} version"))]
                : [() => hello.AddRange(Starts(_hello)), () => aot.AddRange(Starts(aotHello)), () => ours.AddRange(Starts($"{ppn} version"))];
            if (rep % 2 == 1) Array.Reverse(turn);
            foreach (var run in turn) run();
        }
        var h = Stats.Of(hello);
        var p = Stats.Of(ours);
        Report.Line($"C hello      {h.Format("ms", "F2")}");
        if (aot.Count > 0) Report.Line($"AOT hello    {Stats.Of(aot).Format("ms", "F2")} (Native AOT, ppn's build settings: the floor)");
        Report.Line($"ppn version  {p.Format("ms", "F2")}");
        string floor = "";
        if (aot.Count > 0)
        {
            var a = Stats.Of(aot);
            floor = string.Create(CultureInfo.InvariantCulture,
                $" (a Native AOT hello with ppn's settings is {a.Median / h.Median:F2}x: no .NET program starts faster; ppn version is {p.Median / a.Median:F2}x of it)");
        }
        else
        {
            floor = " (no --aot-hello: the Native AOT floor not measured)";
        }
        _report.Ratio("ppn version vs C hello", p.Median / h.Median, 3.0, atMost: true, "median wall time of one start, lower is better" + floor);
    }

    // ---- size: the binary and its share of the initramfs
    public void Size()
    {
        _report.Section("size");
        if (_options.Ppn is not { } ppn || !File.Exists(ppn))
        {
            _report.Note("size: not measured — no --ppn");
            return;
        }
        long raw = new FileInfo(ppn).Length;
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        using (var input = File.OpenRead(ppn))
        {
            input.CopyTo(gz);
        }
        Report.Line($"ppn {raw / 1024.0:F0} KiB, gzip {buffer.Length / 1024.0:F0} KiB");
        if (_options.Initramfs is { } initramfs && File.Exists(initramfs))
        {
            long whole = new FileInfo(initramfs).Length;
            _report.Note($"size: ppn (gzip) is {100.0 * buffer.Length / whole:F0} % of {Path.GetFileName(initramfs)} ({whole / 1024.0:F0} KiB)");
        }
        else
        {
            _report.Note($"size: ppn {raw / 1024.0:F0} KiB, gzip {buffer.Length / 1024.0:F0} KiB (no --initramfs to compare with)");
        }
    }

    private static Stats Scale(Stats s, double k) => new(s.Min * k, s.Median * k, s.Max * k);

    private static InMemoryReplayStateStore Provisioned()
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        return store;
    }

    private static string Hash(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..16];

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill();
            throw new BenchError($"{file} {args} did not finish in 120 s");
        }
        if (p.ExitCode != 0) throw new BenchError($"{file} {args} failed ({p.ExitCode}): {error.Result.Trim()}");
        return output.Result;
    }
}

/// <summary>A replay store whose first save blocks until released: holds the receive thread while the buffer fills.</summary>
internal sealed class GatedStore : IReplayStateStore, IDisposable
{
    private readonly InMemoryReplayStateStore _inner = new();
    public readonly ManualResetEventSlim Entered = new();
    public readonly ManualResetEventSlim Release = new();

    public GatedStore() => _inner.Save(new ReplayState(0, 0));

    public ReplayStateLoad Load(out ReplayState state) => _inner.Load(out state);
    public byte? LastKnownEpoch() => _inner.LastKnownEpoch();

    /// <summary>Every save after the first (the constructor's) is held until <see cref="Release"/> is set.</summary>
    public void Save(ReplayState state)
    {
        Entered.Set();
        Release.Wait(TimeSpan.FromSeconds(60));
        _inner.Save(state);
    }

    public void Dispose() => Release.Set();
}
