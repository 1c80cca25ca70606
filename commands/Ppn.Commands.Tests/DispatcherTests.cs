namespace Ppn.Commands.Tests;

public class DispatcherTests
{
    private const long Second = 1_000_000_000;
    private readonly RecordingEffects _effects = new();
    private readonly CommandJournal _journal = new();
    private ulong _sequence;

    private DispatchOutcome Send(CommandDispatcher d, CommandIntent intent, byte argument = 0, long at = 0) =>
        d.Dispatch(new AcceptedCommand(new CommandPacket(1, 0, (byte)intent, argument, TargetSelector.Node(1), (uint)(_sequence + 1), 0),
            ++_sequence, default, at));

    [Fact]
    public void Each_intent_reaches_its_effect()
    {
        var d = new CommandDispatcher(_effects, _journal);
        Send(d, CommandIntent.Noop);
        Send(d, CommandIntent.Identify, 3);
        Send(d, CommandIntent.Identify, 0);
        Send(d, CommandIntent.Reboot);
        Send(d, CommandIntent.Poweroff);
        Send(d, CommandIntent.NicRetune);
        Send(d, CommandIntent.BeaconRescan);
        Assert.Equal(["noop", "identify 30", "identify 0", "reboot", "poweroff", "nic-retune", "beacon-rescan"], _effects.Calls);
        Assert.Equal(7, _journal.Accepted().Length);
    }

    [Fact]
    public void A_failed_effect_carries_its_reason_into_the_journal()
    {
        _effects.ThrowOnReboot = true;
        var d = new CommandDispatcher(_effects, _journal);
        Assert.Equal(DispatchOutcome.EffectFailed, Send(d, CommandIntent.Reboot));
        Assert.Equal(DispatchOutcome.Executed, Send(d, CommandIntent.Noop));
        var entries = _journal.Accepted();
        Assert.Equal("reboot refused", entries[0].FailureReason);
        Assert.Null(entries[1].FailureReason);
    }

    [Fact]
    public void Genesis_reset_runs_only_when_confirm_follows_arm_with_the_same_code_in_time()
    {
        var d = new CommandDispatcher(_effects, _journal);
        Assert.Equal(DispatchOutcome.Armed, Send(d, CommandIntent.GenesisResetArm, 9, at: 0));
        Assert.Equal(DispatchOutcome.Executed, Send(d, CommandIntent.GenesisResetConfirm, 9, at: 29 * Second));
        Assert.Equal(["genesis-reset"], _effects.Calls);
    }

    [Fact]
    public void Genesis_reset_confirm_is_refused_when_late_unarmed_mismatched_or_not_next()
    {
        var d = new CommandDispatcher(_effects, _journal);
        Assert.Equal(DispatchOutcome.ConfirmWithoutArm, Send(d, CommandIntent.GenesisResetConfirm, 1));
        Send(d, CommandIntent.GenesisResetArm, 1, at: 0);
        Assert.Equal(DispatchOutcome.ConfirmExpired, Send(d, CommandIntent.GenesisResetConfirm, 1, at: 31 * Second));
        Send(d, CommandIntent.GenesisResetArm, 1, at: 40 * Second);
        Assert.Equal(DispatchOutcome.ConfirmMismatch, Send(d, CommandIntent.GenesisResetConfirm, 2, at: 41 * Second));
        Send(d, CommandIntent.GenesisResetArm, 1, at: 50 * Second);
        Send(d, CommandIntent.Noop, at: 51 * Second); // any accepted command in between disarms
        Assert.Equal(DispatchOutcome.ConfirmWithoutArm, Send(d, CommandIntent.GenesisResetConfirm, 1, at: 52 * Second));
        Send(d, CommandIntent.GenesisResetArm, 1, at: 60 * Second);
        _sequence++; // an accepted command the executor never saw (queue full) still breaks the pair
        Assert.Equal(DispatchOutcome.ConfirmNotNext, Send(d, CommandIntent.GenesisResetConfirm, 1, at: 61 * Second));
        Assert.DoesNotContain("genesis-reset", _effects.Calls);
    }

    [Fact]
    public void A_failing_effect_is_journalled_as_failed()
    {
        _effects.ThrowOnReboot = true;
        var d = new CommandDispatcher(_effects, _journal);
        Assert.Equal(DispatchOutcome.EffectFailed, Send(d, CommandIntent.Reboot));
        Assert.Equal(DispatchOutcome.EffectFailed, _journal.Accepted()[^1].Outcome);
    }

    [Fact]
    public void Journal_keeps_accepted_history_through_a_flood_of_rejects()
    {
        var journal = new CommandJournal(acceptedCapacity: 4, rejectedCapacity: 8);
        journal.Record(new CommandJournalEntry(1, CommandVerdict.Accepted, DispatchOutcome.Executed, 2, 0, TargetSelector.All, 7, 0, default));
        for (int i = 0; i < 1000; i++)
        {
            journal.Record(new CommandJournalEntry(i, CommandVerdict.BadTag, DispatchOutcome.None, 2, 0, TargetSelector.All, (uint)i, 0, default));
        }
        Assert.Single(journal.Accepted());
        Assert.Equal(7u, journal.Accepted()[0].Counter);
        var rejected = journal.Rejected();
        Assert.Equal(8, rejected.Length);
        Assert.Equal(992u, rejected[0].Counter);
        Assert.Equal(999u, rejected[^1].Counter);
        Assert.Equal(1000, journal.RejectedTotal);
    }

    private static CommandJournalEntry Rejected(uint counter) =>
        new(counter, CommandVerdict.BadTag, DispatchOutcome.None, 2, 0, TargetSelector.All, counter, 0, default);

    [Theory]
    [InlineData(3)]   // batches smaller than the ring
    [InlineData(5)]   // ... that wrap in the middle
    [InlineData(8)]   // exactly the ring
    [InlineData(64)]  // a full receive batch, larger than the ring
    public void Rejects_recorded_in_batches_keep_the_newest_in_order(int batch)
    {
        var journal = new CommandJournal(acceptedCapacity: 4, rejectedCapacity: 8);
        journal.Record(Rejected(0)); // the ring does not start at slot 0 for the batches
        var entries = new CommandJournalEntry[batch];
        uint next = 1;
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < batch; i++) entries[i] = Rejected(next++);
            journal.RecordRejected(entries);
            var rejected = journal.Rejected();
            long total = next;
            Assert.Equal(total, journal.RejectedTotal);
            Assert.Equal((int)Math.Min(total, 8), rejected.Length);
            for (int i = 0; i < rejected.Length; i++) Assert.Equal((uint)(total - rejected.Length + i), rejected[i].Counter);
        }
        journal.Record(Rejected(next));
        Assert.Equal(next, journal.Rejected()[^1].Counter);
        Assert.Equal(next - 7, journal.Rejected()[0].Counter);
    }

    [Fact]
    public void An_accepted_command_is_not_recorded_among_the_rejected()
    {
        var journal = new CommandJournal();
        var accepted = new CommandJournalEntry(1, CommandVerdict.Accepted, DispatchOutcome.None, 2, 0, TargetSelector.All, 7, 0, default);
        Assert.Throws<ArgumentException>(() => journal.RecordRejected([Rejected(1), accepted]));
        Assert.Empty(journal.Rejected());
    }
}
