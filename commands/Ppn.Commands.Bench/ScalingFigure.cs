using System.Diagnostics;
using System.Globalization;
using Ppn.Commands;
using Ppn.Commands.Bench;

/// <summary>
/// SO_REUSEPORT scaling: one receiver against one per core (at most the listener's 4), each pinned to its own CPU,
/// draining receive buffers pre-filled over 8 flows while no sender runs. What more receivers buy when the flood
/// comes from several flows and the node has the cores (docs/performance.md).
/// </summary>
internal sealed partial class Bench
{
    private const int Flows = 8;

    public void Scaling()
    {
        int many = Math.Min(Environment.ProcessorCount, 4);
        _report.Section($"receivers: 1 vs {many} SO_REUSEPORT receivers (one per CPU), each draining its pre-filled buffer (8 flows, no sender running)");
        if (many < 2)
        {
            _report.Note("receivers: not measured — this machine has 1 CPU");
            return;
        }
        const int fill = 120_000;
        // The sender sends batches of 64 round-robin over its 8 flows: each flow's first datagram is a valid command,
        // so every receiver stops at its first one (the first floor save is held; the others wait for its lock)
        // while the rest of the buffer fills with well-formed forgeries.
        var packets = WritePackets("scaling.bin", fill, i => i < Flows * 64 && i % 64 == 0 ? ValidCommand((uint)(i / 64 + 1)) : Forged(wellFormed: true, i));
        List<double> one = [], more = [];
        string split = "";
        for (int rep = 0; rep < _options.Reps; rep++)
        {
            void One() => one.Add(DrainWithReceivers(packets, fill, 1, out _));
            void More()
            {
                more.Add(DrainWithReceivers(packets, fill, many, out var perReceiver));
                split = string.Join(" + ", perReceiver.Select(n => n.ToString(CultureInfo.InvariantCulture)));
            }
            if (rep % 2 == 0) { One(); More(); } else { More(); One(); }
        }
        var s1 = Stats.Of(one);
        var sm = Stats.Of(more);
        Report.Line($"1 receiver            {new Stats(s1.Min / 1e3, s1.Median / 1e3, s1.Max / 1e3).Format("k datagrams/s", "F0")}");
        Report.Line($"{many} receivers           {new Stats(sm.Min / 1e3, sm.Median / 1e3, sm.Max / 1e3).Format("k datagrams/s", "F0")} (last split by receiver: {split})");
        _report.Note(string.Create(CultureInfo.InvariantCulture,
            $"receivers: {many} SO_REUSEPORT receivers drain {sm.Median / s1.Median:F2}x what one does (at most {many:F2}x on {many} free cores; the kernel spreads flows by hash, so an uneven split caps it)"));
    }

    private (int Length, byte[] Bytes) ValidCommand(uint counter)
    {
        var b = new byte[16];
        _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(NodeId), counter, b);
        return (16, b);
    }

    /// <summary>Datagrams per second from the release to the empty queues, all receivers together.</summary>
    private double DrainWithReceivers(string packets, int fill, int receivers, out long[] perReceiver)
    {
        using var store = new GatedStore();
        var journal = new CommandJournal();
        var verifier = new CommandVerifier(_ring, new NodeAddressing(NodeId), store, 0);
        using var listener = StartListener(verifier, journal, receivers, CapacityBuffer);
        Send(listener.LocalEndPoint.Port, packets, fill, rate: 0, sockets: Flows);
        if (!store.Entered.Wait(TimeSpan.FromSeconds(10))) throw new BenchError("receivers: the listener never took a first command");
        // Each held receiver has read its first batch; what is left in the kernel's queues is the figure.
        long arrived = fill - listener.KernelDrops;
        long before = listener.DatagramsReceived;
        var clock = Stopwatch.StartNew();
        store.Release.Set();
        // The receivers use every CPU: this thread polls (1 ms) instead of spinning on one of them.
        while (listener.DatagramsReceived < arrived)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) throw new BenchError($"receivers: drained {listener.DatagramsReceived} of {arrived} datagrams in 20 s");
            Thread.Sleep(1);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        perReceiver = listener.DatagramsPerReceiver();
        return (arrived - before) / seconds;
    }
}
