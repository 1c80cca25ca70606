namespace Ppn.Commands.Tests;

/// <summary>docs/protocol/commands.md §Enrolment and the replay state, row by row.</summary>
public class ReplayEnrolmentTests
{
    [Fact]
    public void A_first_enrolment_writes_the_grant_epoch_with_floor_zero()
    {
        var store = new InMemoryReplayStateStore();
        Assert.Equal(ReplayEnrolmentOutcome.FirstEnrolment, ReplayEnrolment.Apply(store, 5, out var state));
        Assert.Equal(new ReplayState(5, 0), state);
        Assert.Equal(ReplayStateLoad.Ok, store.Load(out var saved));
        Assert.Equal(state, saved);
        Assert.Equal((byte)5, store.LastKnownEpoch());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(15)]
    public void A_valid_record_wins_over_any_grant_epoch(byte grantEpoch)
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(3, 767));
        int saves = store.SaveCount;
        Assert.Equal(ReplayEnrolmentOutcome.Kept, ReplayEnrolment.Apply(store, grantEpoch, out var state));
        Assert.Equal(new ReplayState(3, 767), state);
        Assert.Equal(saves, store.SaveCount); // no write at all
    }

    [Fact]
    public void A_lost_record_beside_the_epoch_memory_moves_past_it()
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(4, 255));
        store.LoseRecord();
        Assert.Equal(ReplayEnrolmentOutcome.LostState, ReplayEnrolment.Apply(store, 0, out var state));
        Assert.Equal(new ReplayState(5, 0), state);
    }

    [Fact]
    public void A_damaged_record_without_epoch_memory_moves_past_the_grant_epoch_and_wraps()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-replay-enrol-");
        try
        {
            var store = new FileReplayStateStore(Path.Combine(dir.FullName, "state"));
            File.WriteAllBytes(store.Path, new byte[16]);
            Assert.Equal(ReplayEnrolmentOutcome.LostState, ReplayEnrolment.Apply(store, 15, out var state));
            Assert.Equal(new ReplayState(0, 0), state);
            Assert.Equal(ReplayStateLoad.Ok, store.Load(out var saved));
            Assert.Equal(state, saved);
            Assert.Equal((byte)0, store.LastKnownEpoch());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_grant_epoch_beyond_four_bits_is_refused_not_wrapped()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplayEnrolment.Apply(new InMemoryReplayStateStore(), 16, out _));
    }
}
