namespace Ppn.Commands.Tests;

public class VerifierTests : IDisposable
{
    private readonly CommandKeyring _node = TestKeys.NodeRing();
    private readonly CommandSealer _sealer = TestKeys.Sealer();
    private readonly NodeAddressing _addressing = new(42, 7);

    public void Dispose()
    {
        _node.Dispose();
        _sealer.Dispose();
    }

    private byte[] Seal(uint counter, byte epoch = 0, CommandIntent intent = CommandIntent.Noop, byte argument = 0, TargetSelector? target = null)
    {
        var b = new byte[16];
        _sealer.Seal(epoch, intent, argument, target ?? TargetSelector.Node(42), counter, b);
        return b;
    }

    private static InMemoryReplayStateStore Provisioned(byte epoch = 0, uint floor = 0)
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(epoch, floor));
        return store;
    }

    [Fact]
    public void Replay_of_a_command_seen_before_reboot_is_rejected()
    {
        var store = Provisioned();
        var captured = Seal(5);
        Assert.Equal(CommandVerdict.Accepted, new CommandVerifier(_node, _addressing, store, 0).Verify(captured, out _));
        var afterReboot = new CommandVerifier(_node, _addressing, store, 0);
        Assert.Equal(CommandVerdict.Replay, afterReboot.Verify(captured, out _));
        Assert.Equal(CommandVerdict.Replay, afterReboot.Verify(Seal(200), out _)); // same reserved block, never seen
        Assert.Equal(CommandVerdict.Accepted, afterReboot.Verify(Seal(256), out _)); // the authority's next batch
    }

    [Fact]
    public void Floor_is_persisted_once_per_block_not_once_per_command()
    {
        var store = Provisioned();
        var verifier = new CommandVerifier(_node, _addressing, store, 0);
        int before = store.SaveCount;
        for (uint c = 1; c <= 255; c++) Assert.Equal(CommandVerdict.Accepted, verifier.Verify(Seal(c), out _));
        Assert.Equal(before + 1, store.SaveCount);
        Assert.Equal(CommandVerdict.Accepted, verifier.Verify(Seal(256), out _));
        Assert.Equal(before + 2, store.SaveCount);
        store.Load(out var state);
        Assert.Equal(511u, state.Floor);
    }

    [Fact]
    public void Lost_replay_state_moves_the_node_to_the_next_epoch_and_refuses_the_old_one()
    {
        var store = Provisioned(epoch: 3);
        var captured = Seal(9, epoch: 3);
        Assert.Equal(CommandVerdict.Accepted, new CommandVerifier(_node, _addressing, store, 3).Verify(captured, out _));
        store.Corrupt();
        var recovered = new CommandVerifier(_node, _addressing, store, lastKnownEpoch: 3);
        Assert.Equal(ReplayStateLoad.Corrupt, recovered.StartupLoad);
        Assert.Equal(4, recovered.Epoch);
        Assert.Equal(CommandVerdict.StaleEpoch, recovered.Verify(captured, out _));
        Assert.Equal(CommandVerdict.StaleEpoch, recovered.Verify(Seal(5000, epoch: 3), out _));
        Assert.Equal(CommandVerdict.Accepted, recovered.Verify(Seal(1, epoch: 4), out _));

        store.Erase();
        var erased = new CommandVerifier(_node, _addressing, store, lastKnownEpoch: 4);
        Assert.Equal(ReplayStateLoad.Missing, erased.StartupLoad);
        Assert.Equal(5, erased.Epoch);
        Assert.Equal(ReplayStateLoad.Ok, store.Load(out var s));
        Assert.Equal(new ReplayState(5, 0), s);
    }

    [Fact]
    public void A_command_is_not_accepted_when_its_floor_cannot_be_persisted()
    {
        var store = Provisioned();
        var verifier = new CommandVerifier(_node, _addressing, store, 0);
        store.FailSaves = true;
        var packet = Seal(1);
        Assert.Equal(CommandVerdict.PersistFailed, verifier.Verify(packet, out _));
        store.FailSaves = false;
        Assert.Equal(CommandVerdict.Accepted, verifier.Verify(packet, out _)); // not marked seen the first time
    }

    [Fact]
    public void Wrong_target_is_rejected_even_with_a_valid_tag()
    {
        var verifier = new CommandVerifier(_node, _addressing, Provisioned(), 0);
        Assert.Equal(CommandVerdict.WrongTarget, verifier.Verify(Seal(1, target: TargetSelector.Node(43)), out _));
        Assert.Equal(CommandVerdict.WrongTarget, verifier.Verify(Seal(2, target: TargetSelector.Group(8)), out _));
        Assert.Equal(CommandVerdict.Accepted, verifier.Verify(Seal(3, target: TargetSelector.Group(7)), out _));
        Assert.Equal(CommandVerdict.Accepted, verifier.Verify(Seal(4, target: TargetSelector.All), out _));
    }

    [Fact]
    public void A_packet_sealed_for_another_node_does_not_verify_here()
    {
        var otherNodePublic = TestKeys.Public(Enumerable.Repeat((byte)0x77, 32).ToArray());
        using var otherSealer = CommandSealer.ForNode(TestKeys.AuthorityPrivate, otherNodePublic);
        var b = new byte[16];
        otherSealer.Seal(0, CommandIntent.Reboot, 0, TargetSelector.All, 1, b);
        Assert.Equal(CommandVerdict.BadTag, new CommandVerifier(_node, _addressing, Provisioned(), 0).Verify(b, out _));
    }

    [Fact]
    public void Rejected_datagrams_never_advance_the_window_or_the_floor()
    {
        var store = Provisioned();
        var verifier = new CommandVerifier(_node, _addressing, store, 0);
        var forged = Seal(100);
        forged[9] ^= 0x40;
        Assert.Equal(CommandVerdict.BadTag, verifier.Verify(forged, out _));
        Assert.Equal(0u, verifier.HighestAccepted);
        Assert.Equal(1, store.SaveCount);
        Assert.Equal(CommandVerdict.Accepted, verifier.Verify(Seal(100), out _));
    }

    [Fact]
    public void Verdict_counters_count_each_outcome()
    {
        var verifier = new CommandVerifier(_node, _addressing, Provisioned(), 0);
        verifier.Verify(Seal(1), out _);
        verifier.Verify(Seal(1), out _);
        verifier.Verify(new byte[3], out _);
        Assert.Equal(1, verifier.Counters[CommandVerdict.Accepted]);
        Assert.Equal(1, verifier.Counters[CommandVerdict.Replay]);
        Assert.Equal(1, verifier.Counters[CommandVerdict.WrongLength]);
        Assert.Equal(2, verifier.Counters.Rejected);
    }

    [Fact]
    public void Verifying_forged_or_valid_packets_allocates_nothing()
    {
        var verifier = new CommandVerifier(_node, _addressing, Provisioned(), 0);
        var forged = Seal(1);
        forged[15] ^= 1;
        var valid = Enumerable.Range(2, 100).Select(c => Seal((uint)c)).ToArray();
        verifier.Verify(forged, out _); // warm-up (JIT, libsodium init)
        verifier.Verify(Seal(1), out _); // reserves block 0 (the in-memory twin allocates its record here)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) verifier.Verify(forged, out _);
        int accepted = 0;
        foreach (var packet in valid) accepted += verifier.Verify(packet, out _) == CommandVerdict.Accepted ? 1 : 0;
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(valid.Length, accepted);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Authority_counter_starts_every_batch_on_a_fresh_block()
    {
        var counter = new AuthorityCounter();
        Assert.Equal(1u, counter.BeginBatch());
        Assert.Equal(2u, counter.Next());
        Assert.Equal(256u, counter.BeginBatch());
        Assert.Equal(512u, counter.BeginBatch());
        var nearEnd = new AuthorityCounter(uint.MaxValue - 3);
        Assert.Throws<InvalidOperationException>(() => nearEnd.BeginBatch());
    }

    [Fact]
    public void File_store_round_trips_and_reports_corruption()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-replay-");
        try
        {
            var store = new FileReplayStateStore(Path.Combine(dir.FullName, "state"));
            Assert.Equal(ReplayStateLoad.Missing, store.Load(out _));
            store.Save(new ReplayState(7, 0x1234FF));
            Assert.Equal(ReplayStateLoad.Ok, store.Load(out var s));
            Assert.Equal(new ReplayState(7, 0x1234FF), s);
            var bytes = File.ReadAllBytes(store.Path);
            bytes[8] ^= 1;
            File.WriteAllBytes(store.Path, bytes);
            Assert.Equal(ReplayStateLoad.Corrupt, store.Load(out _));
            File.WriteAllBytes(store.Path, bytes[..10]);
            Assert.Equal(ReplayStateLoad.Corrupt, store.Load(out _));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
