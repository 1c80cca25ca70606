using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ppn.Commands.Tests;

public class ListenerTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly CommandKeyring _node = TestKeys.NodeRing();
    private readonly CommandSealer _sealer = TestKeys.Sealer();
    private readonly RecordingEffects _effects = new();
    private readonly CommandJournal _journal = new();

    public void Dispose()
    {
        _node.Dispose();
        _sealer.Dispose();
    }

    private CommandListener Start(IPAddress bind, out CommandVerifier verifier, int queue = 64, bool prefilter = true, int receivers = 0,
        IReplayStateStore? store = null, int receiveBuffer = 4 << 20)
    {
        if (store is null)
        {
            var memory = new InMemoryReplayStateStore();
            memory.Save(new ReplayState(0, 0));
            store = memory;
        }
        verifier = new CommandVerifier(_node, new NodeAddressing(42, 7), store, 0);
        return CommandListener.Start(new CommandListenerOptions
        {
            BindAddress = bind,
            Port = 0,
            ExecutorQueueCapacity = queue,
            KernelPrefilter = prefilter,
            Receivers = receivers,
            ReceiveBufferBytes = receiveBuffer,
        }, verifier, new CommandDispatcher(_effects, _journal), _journal);
    }

    private byte[] Seal(uint counter, CommandIntent intent = CommandIntent.Noop, TargetSelector? target = null)
    {
        var b = new byte[16];
        _sealer.Seal(0, intent, 0, target ?? TargetSelector.Node(42), counter, b);
        return b;
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void The_kernel_prefilter_drops_wrong_length_version_and_target_and_counts_them(string address)
    {
        var bind = IPAddress.Parse(address);
        using var listener = Start(bind, out var verifier);
        Assert.True(listener.KernelPrefilter);
        using var sender = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(bind, 0));
        var wrongVersion = Seal(1);
        wrongVersion[0] = (byte)((2 << 4) | (wrongVersion[0] & 0x0F));
        var reservedKind = Seal(1);
        reservedKind[2] |= 0xC0;
        byte[][] dropped =
        [
            new byte[15], new byte[17], new byte[100], [], // wrong length (an empty datagram too)
            wrongVersion,
            Seal(1, target: TargetSelector.Node(43)), Seal(1, target: TargetSelector.Group(8)), reservedKind,
            Seal(1, target: new TargetSelector(TargetKind.All, 5)), // "all" with a non-zero id is no target
        ];
        foreach (var d in dropped) sender.SendTo(d, listener.LocalEndPoint);
        var forged = Seal(4);
        forged[15] ^= 1; // the right shape: only its tag is wrong, which needs the key, so it reaches the verifier
        sender.SendTo(forged, listener.LocalEndPoint);
        sender.SendTo(Seal(1), listener.LocalEndPoint);
        sender.SendTo(Seal(2, target: TargetSelector.Group(7)), listener.LocalEndPoint);
        sender.SendTo(Seal(3, target: TargetSelector.All), listener.LocalEndPoint);

        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 3 && verifier.Counters.Rejected == 1, Deadline));
        // The last datagram read carries the socket's drop count (SO_RXQ_OVFL): every refusal, counted in the kernel.
        Assert.Equal(dropped.Length, listener.KernelDrops);
        Assert.Equal(dropped.Length, listener.KernelDropsFromControlMessages);
        Assert.Equal(4, listener.DatagramsReceived);
        Assert.Equal(1, verifier.Counters[CommandVerdict.BadTag]);
        Assert.Equal(0, verifier.Counters[CommandVerdict.WrongLength] + verifier.Counters[CommandVerdict.BadVersion] + verifier.Counters[CommandVerdict.WrongTarget]);
        Assert.Equal(CommandVerdict.BadTag, Assert.Single(_journal.Rejected()).Verdict);
    }

    [Fact]
    public void A_refusal_with_no_datagram_after_it_is_counted_at_once()
    {
        using var listener = Start(IPAddress.Loopback, out _);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(new byte[3], listener.LocalEndPoint);
        // No datagram follows to carry SO_RXQ_OVFL; the statistic asks the socket (SO_MEMINFO).
        Assert.True(Wait.Until(() => listener.KernelDrops == 1, Deadline));
        Assert.Equal(0, listener.KernelDropsFromControlMessages);
        Assert.Equal(0, listener.DatagramsReceived);
    }

    [Fact]
    public void Without_the_prefilter_the_same_datagrams_reach_the_verifier_and_nothing_is_dropped()
    {
        using var listener = Start(IPAddress.Loopback, out var verifier, prefilter: false);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(new byte[17], listener.LocalEndPoint);
        sender.SendTo(Seal(1, target: TargetSelector.Node(43)), listener.LocalEndPoint);
        sender.SendTo(Seal(1), listener.LocalEndPoint);
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 1 && verifier.Counters.Rejected == 2, Deadline));
        Assert.Equal(1, verifier.Counters[CommandVerdict.WrongLength]);
        Assert.Equal(1, verifier.Counters[CommandVerdict.WrongTarget]);
        Assert.Equal(0, listener.KernelDrops);
    }

    [Fact]
    public void Receive_queue_overflow_is_counted_from_SO_RXQ_OVFL_and_accounts_for_every_datagram_sent()
    {
        // The receive thread is held inside the first valid command's floor save; meanwhile well-formed forgeries
        // (they pass the prefilter) overflow a minimal receive buffer. Loopback delivers within sendto(2), so every
        // datagram is either queued or dropped by the time the send returns.
        using var store = new GatedReplayStateStore();
        using var listener = Start(IPAddress.Loopback, out var verifier, receivers: 1, store: store, receiveBuffer: 1);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(Seal(1), listener.LocalEndPoint);
        Assert.True(store.Entered.Wait(Deadline), "the receive thread never reached the floor save");
        var forged = Seal(300);
        forged[15] ^= 1;
        const int flood = 200;
        for (int i = 0; i < flood; i++) sender.SendTo(forged, listener.LocalEndPoint);
        store.Release.Set();
        // A last valid command, sent once the queue drained (so it is never dropped itself), carries the final drop count.
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 1 && listener.ReceiveQueuesEmpty(), Deadline));
        sender.SendTo(Seal(2), listener.LocalEndPoint);
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 2, Deadline));
        Assert.True(listener.KernelDrops > 0, "a minimal buffer took all 200 forgeries");
        Assert.Equal(flood + 2, listener.DatagramsReceived + listener.KernelDrops);
        Assert.Equal(listener.KernelDrops, listener.KernelDropsFromControlMessages); // the last datagram's SO_RXQ_OVFL said as much
    }

    [Fact]
    public void After_a_drop_every_queued_datagram_carries_the_count_and_a_batch_of_them_reads_it_once_and_verifies_all()
    {
        // Once a socket has dropped anything the kernel attaches its count to every datagram queued later; the
        // listener gives a control buffer to the first message of each batch only (the kernel marks the others
        // MSG_CTRUNC), which must neither lose the count nor disturb the datagrams it did not attach to.
        using var store = new GatedReplayStateStore();
        using var listener = Start(IPAddress.Loopback, out var verifier, receivers: 1, store: store);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(Seal(1), listener.LocalEndPoint);
        Assert.True(store.Entered.Wait(Deadline), "the receive thread never reached the floor save");
        const int refused = 5, forgeries = 40;
        for (int i = 0; i < refused; i++) sender.SendTo(new byte[3], listener.LocalEndPoint); // the prefilter's drops
        var forged = Seal(300);
        forged[15] ^= 1;
        for (int i = 0; i < forgeries; i++) sender.SendTo(forged, listener.LocalEndPoint);
        sender.SendTo(Seal(2), listener.LocalEndPoint);
        store.Release.Set();
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 2 && verifier.Counters[CommandVerdict.BadTag] == forgeries, Deadline));
        Assert.Equal(forgeries + 2, listener.DatagramsReceived);
        Assert.Equal(refused, listener.KernelDropsFromControlMessages); // from the second batch's first datagram
        Assert.Equal(refused, listener.KernelDrops);
        Assert.Equal(0, verifier.Counters[CommandVerdict.WrongLength]);
    }

    [Fact]
    public void SO_REUSEPORT_receivers_share_the_port_and_every_flow_is_verified()
    {
        using var listener = Start(IPAddress.Loopback, out var verifier, receivers: 2, queue: 256);
        Assert.Equal(2, listener.Receivers);
        // 64 sources (64 flows): the kernel's flow hash sends each to one of the two sockets.
        var senders = Enumerable.Range(0, 64).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToArray();
        try
        {
            for (int i = 0; i < senders.Length; i++) senders[i].SendTo(Seal((uint)i + 1), listener.LocalEndPoint);
            Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 64, Deadline));
            Assert.True(Wait.Until(() => _effects.Calls.Count == 64, Deadline));
            var spread = listener.DatagramsPerReceiver();
            Assert.Equal(64, spread.Sum());
            Assert.All(spread, n => Assert.True(n > 0, $"one receiver got nothing: {string.Join(",", spread)}"));
            Assert.Equal(32, listener.TrySendOnListeningSocket((IPEndPoint)senders[0].LocalEndPoint!)); // every socket of the group is shut for writing
        }
        finally
        {
            foreach (var s in senders) s.Dispose();
        }
    }

    [Fact]
    public void One_receiver_per_core_up_to_four_unless_asked()
    {
        var auto = new CommandListenerOptions { BindAddress = IPAddress.Loopback };
        Assert.Equal(1, auto.ResolveReceivers(1));
        Assert.Equal(2, auto.ResolveReceivers(2));
        Assert.Equal(CommandListenerOptions.MaxReceivers, auto.ResolveReceivers(64));
        Assert.Equal(3, new CommandListenerOptions { BindAddress = IPAddress.Loopback, Receivers = 3 }.ResolveReceivers(1));
    }

    /// <summary>A replay store whose first save blocks until released: holds the receive thread still.</summary>
    private sealed class GatedReplayStateStore : IReplayStateStore, IDisposable
    {
        private readonly InMemoryReplayStateStore _inner = new();
        private int _saves;
        public readonly ManualResetEventSlim Entered = new();
        public readonly ManualResetEventSlim Release = new();

        public GatedReplayStateStore() => _inner.Save(new ReplayState(0, 0));

        public ReplayStateLoad Load(out ReplayState state) => _inner.Load(out state);
        public byte? LastKnownEpoch() => _inner.LastKnownEpoch();

        public void Save(ReplayState state)
        {
            if (Interlocked.Increment(ref _saves) == 1)
            {
                Entered.Set();
                Release.Wait(Deadline);
            }
            _inner.Save(state);
        }

        public void Dispose()
        {
            Release.Set();
            Entered.Dispose();
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Listener_executes_valid_commands_and_journals_rejects_with_their_source(string address)
    {
        var bind = IPAddress.Parse(address);
        using var listener = Start(bind, out var verifier, prefilter: false);
        using var sender = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(bind, 0));
        sender.SendTo(Seal(1, CommandIntent.Reboot), listener.LocalEndPoint);
        var forged = Seal(2);
        forged[15] ^= 1;
        sender.SendTo(forged, listener.LocalEndPoint);
        sender.SendTo(new byte[100], listener.LocalEndPoint);
        Assert.True(Wait.Until(() => _effects.Calls.Count == 1 && _journal.RejectedTotal == 2, Deadline));
        Assert.Equal(["reboot"], _effects.Calls);
        var rejected = _journal.Rejected();
        Assert.Equal(CommandVerdict.BadTag, rejected[0].Verdict);
        Assert.Equal(CommandVerdict.WrongLength, rejected[1].Verdict);
        Assert.Equal(((IPEndPoint)sender.LocalEndPoint!).Port, rejected[0].Source.Port);
        Assert.Equal(bind, rejected[0].Source.Address);
        Assert.Equal(1, verifier.Counters[CommandVerdict.Accepted]);
    }

    [Fact]
    public void A_lone_reject_is_summarised_when_its_interval_ends_without_another_datagram()
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        var verifier = new CommandVerifier(_node, new NodeAddressing(42), store, 0);
        var log = new RecordingCommandLog();
        // The interval starts at bind: the reject arrives inside it, and nothing arrives after it.
        using var listener = CommandListener.Start(new CommandListenerOptions
        {
            BindAddress = IPAddress.Loopback,
            Port = 0,
            KernelPrefilter = false, // a wrong length reaches the verifier
            RejectSummaryInterval = TimeSpan.FromMilliseconds(300),
        }, verifier, new CommandDispatcher(_effects, _journal), _journal, log);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(new byte[17], listener.LocalEndPoint);
        Assert.True(log.Summarised.Wait(Deadline), "no summary for a lone reject");
        var summary = Assert.Single(log.Summaries);
        Assert.Equal(1, summary.RejectedSinceLast);
        Assert.Equal(CommandVerdict.WrongLength, summary.LastVerdict);
    }

    private sealed class RecordingCommandLog : ICommandLog
    {
        public readonly List<RejectSummary> Summaries = [];
        public readonly ManualResetEventSlim Summarised = new();

        public void RejectSummary(in RejectSummary summary)
        {
            lock (Summaries) Summaries.Add(summary);
            Summarised.Set();
        }

        public void ListenerFailed(Exception error)
        {
        }
    }

    [Fact]
    public void Listener_never_writes_to_the_socket()
    {
        using var listener = Start(IPAddress.Loopback, out _, prefilter: false);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        for (uint c = 1; c <= 20; c++) sender.SendTo(Seal(c), listener.LocalEndPoint);
        sender.SendTo(new byte[16], listener.LocalEndPoint);
        Assert.True(Wait.Until(() => _journal.AcceptedTotal == 20 && _journal.RejectedTotal == 1, Deadline));
        // Nothing came back to the sender...
        Assert.Equal(0, sender.Available);
        // ...and the kernel refuses any send on the listening socket (shut for writing at bind): the diode.
        Assert.Equal(32 /* EPIPE */, listener.TrySendOnListeningSocket((IPEndPoint)sender.LocalEndPoint!));
        Assert.Equal(0, sender.Available);
    }

    [Fact]
    public void A_slow_effect_does_not_stall_verification()
    {
        using var gate = new ManualResetEventSlim(false);
        _effects.BlockEach = gate;
        using var listener = Start(IPAddress.Loopback, out var verifier, queue: 4);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        for (uint c = 1; c <= 50; c++) sender.SendTo(Seal(c), listener.LocalEndPoint);
        // All 50 are verified while the first effect is still blocked; the overflow is journalled, not lost silently.
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 50, Deadline));
        Assert.True(listener.QueueFull > 0);
        Assert.Contains(_journal.Accepted(), e => e.Outcome == DispatchOutcome.QueueFull);
        gate.Set();
        Assert.True(Wait.Until(() => _effects.Calls.Count == 50 - listener.QueueFull, Deadline));
    }

    [Fact]
    public void Listener_asks_for_a_large_receive_buffer_and_stops_cleanly()
    {
        var listener = Start(IPAddress.Loopback, out _);
        Assert.True(listener.ReceiveBufferBytes >= 1 << 20, $"SO_RCVBUF granted {listener.ReceiveBufferBytes}");
        listener.Dispose();
        Assert.Null(listener.Failure); // Dispose returned: the receive and executor threads ended
    }

    private CommandListener StartHeld(GatedReplayStateStore store, TimeSpan busyPoll, out CommandVerifier verifier)
    {
        verifier = new CommandVerifier(_node, new NodeAddressing(42, 7), store, 0);
        return CommandListener.Start(new CommandListenerOptions
        {
            BindAddress = IPAddress.Loopback,
            Port = 0,
            Receivers = 1,
            BusyPoll = busyPoll,
        }, verifier, new CommandDispatcher(_effects, _journal), _journal);
    }

    /// <summary>
    /// 300 forgeries queued while the receiver is held in the first command's floor save: released, it reads them in
    /// full batches (64, 64, 64, 64, 44). Returns the receive calls made by the time all 300 were verified.
    /// </summary>
    private static long HoldThenQueue(CommandListener listener, CommandVerifier verifier, GatedReplayStateStore store, Func<uint, byte[]> seal)
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(seal(1), listener.LocalEndPoint);
        Assert.True(store.Entered.Wait(Deadline));
        var forged = seal(100);
        forged[15] ^= 1;
        for (int i = 0; i < 300; i++) sender.SendTo(forged, listener.LocalEndPoint);
        store.Release.Set();
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.BadTag] == 300, Deadline));
        return listener.ReceiveCalls;
    }

    [Fact]
    public void Without_a_busy_poll_the_receiver_goes_back_to_poll_after_the_last_partial_batch()
    {
        using var store = new GatedReplayStateStore();
        using var listener = StartHeld(store, TimeSpan.Zero, out var verifier);
        Assert.Equal(6, HoldThenQueue(listener, verifier, store, c => Seal(c))); // 1, then 64, 64, 64, 64, 44
        Assert.Equal(6, listener.ReceiveCalls);
    }

    [Fact]
    public void After_a_full_batch_the_receiver_retries_its_empty_queue_takes_what_comes_and_still_stops()
    {
        using var store = new GatedReplayStateStore();
        var listener = StartHeld(store, TimeSpan.FromHours(1), out var verifier);
        long calls = HoldThenQueue(listener, verifier, store, c => Seal(c));
        // Nothing more is sent: only the busy poll makes more receive calls.
        Assert.True(Wait.Until(() => listener.ReceiveCalls > calls + 1000, Deadline), $"{listener.ReceiveCalls} receive calls");
        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            sender.SendTo(Seal(2), listener.LocalEndPoint);
        }
        Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == 2, Deadline));
        listener.Dispose(); // within its join: the spin sees the listener closing
        Assert.True(listener.ReceiversEnded);
        Assert.Null(listener.Failure);
    }

    [Fact]
    public void Commands_arriving_one_by_one_never_start_the_busy_poll()
    {
        using var store = new GatedReplayStateStore();
        store.Release.Set();
        using var listener = StartHeld(store, TimeSpan.FromHours(1), out var verifier);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        for (uint c = 1; c <= 5; c++)
        {
            sender.SendTo(Seal(c), listener.LocalEndPoint);
            Assert.True(Wait.Until(() => verifier.Counters[CommandVerdict.Accepted] == c, Deadline));
        }
        Assert.Equal(5, listener.ReceiveCalls); // one call each, then back to poll: an hour-long window never opened
    }

    [Fact]
    public async Task Dispose_stops_a_receiver_that_a_flood_keeps_from_ever_getting_back_to_poll()
    {
        // Batches of one: while datagrams are queued every batch is full, as under a flood.
        var summaries = new BlockingSummaries();
        var memory = new InMemoryReplayStateStore();
        memory.Save(new ReplayState(0, 0));
        var verifier = new CommandVerifier(_node, new NodeAddressing(42, 7), memory, 0);
        var listener = CommandListener.Start(new CommandListenerOptions
        {
            BindAddress = IPAddress.Loopback,
            Port = 0,
            BatchSize = 1,
            Receivers = 1,
            KernelPrefilter = false,
            RejectSummaryInterval = TimeSpan.Zero,
        }, verifier, new CommandDispatcher(_effects, _journal), _journal, summaries);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SendTo(new byte[15], listener.LocalEndPoint);
        // The receiver read the first datagram and is held in its reject summary; 50 more wait in its socket.
        Assert.True(summaries.Entered.Wait(Deadline));
        for (int i = 0; i < 50; i++) sender.SendTo(new byte[15], listener.LocalEndPoint);
        var disposing = Task.Run(listener.Dispose);
        Assert.True(Wait.Until(() => listener.Disposing, Deadline));
        summaries.Release.Set();
        await disposing.WaitAsync(Deadline);
        // It stopped after the batch it was in, not after draining the queue (which a flood never lets it finish).
        Assert.Equal(1, listener.DatagramsReceived);
        Assert.Null(listener.Failure);
        summaries.Dispose();
    }

    private sealed class BlockingSummaries : ICommandLog, IDisposable
    {
        public readonly ManualResetEventSlim Entered = new();
        public readonly ManualResetEventSlim Release = new();

        public void RejectSummary(in RejectSummary summary)
        {
            if (Entered.IsSet) return;
            Entered.Set();
            Release.Wait(Deadline);
        }

        public void ListenerFailed(Exception error) { }

        public void Dispose()
        {
            Entered.Dispose();
            Release.Dispose();
        }
    }
}
