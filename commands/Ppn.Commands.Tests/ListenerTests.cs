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

    private CommandListener Start(IPAddress bind, out CommandVerifier verifier, int queue = 64)
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        verifier = new CommandVerifier(_node, new NodeAddressing(42), store, 0);
        return CommandListener.Start(new CommandListenerOptions { BindAddress = bind, Port = 0, ExecutorQueueCapacity = queue },
            verifier, new CommandDispatcher(_effects, _journal), _journal);
    }

    private byte[] Seal(uint counter, CommandIntent intent = CommandIntent.Noop)
    {
        var b = new byte[16];
        _sealer.Seal(0, intent, 0, TargetSelector.Node(42), counter, b);
        return b;
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Listener_executes_valid_commands_and_journals_rejects_with_their_source(string address)
    {
        var bind = IPAddress.Parse(address);
        using var listener = Start(bind, out var verifier);
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
        using var listener = Start(IPAddress.Loopback, out _);
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
        var clock = Stopwatch.StartNew();
        var listener = Start(IPAddress.Loopback, out _);
        Assert.True(listener.ReceiveBufferBytes >= 1 << 20, $"SO_RCVBUF granted {listener.ReceiveBufferBytes}");
        listener.Dispose();
        Assert.Null(listener.Failure); // Dispose returned: the receive and executor threads ended
    }
}
