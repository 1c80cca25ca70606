using System.Diagnostics;

namespace Ppn.Rig.Tests;

public class BoundedWaitTests
{
    [Fact]
    public void Returns_as_soon_as_the_condition_holds()
    {
        int calls = 0;
        BoundedWait.Until(() => ++calls == 3, TimeSpan.FromSeconds(5), "the third probe", TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, calls);
    }

    [Fact]
    public void Throws_a_timeout_that_names_what_was_awaited()
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<TimeoutException>(() =>
            BoundedWait.Until(() => false, TimeSpan.FromMilliseconds(200), "the moon to turn blue"));
        Assert.Contains("the moon to turn blue", e.Message);
        Assert.Contains("200 ms", e.Message);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(150), $"gave up after {clock.Elapsed}, before its deadline");
    }

    [Fact]
    public void A_deadline_never_reports_negative_time_left()
    {
        var deadline = Deadline.After(TimeSpan.Zero);
        Assert.True(deadline.HasPassed);
        Assert.Equal(TimeSpan.Zero, deadline.Remaining);
        Assert.Equal(TimeSpan.Zero, deadline.Slice(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_slice_is_the_smaller_of_the_step_and_the_time_left()
    {
        var deadline = Deadline.After(TimeSpan.FromHours(1));
        Assert.Equal(TimeSpan.FromSeconds(1), deadline.Slice(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Waiting_on_a_handle_throws_a_described_timeout_when_it_is_never_set()
    {
        using var never = new ManualResetEvent(false);
        var e = Assert.Throws<TimeoutException>(() => BoundedWait.For(never, TimeSpan.FromMilliseconds(50), "the signal"));
        Assert.Contains("the signal", e.Message);
    }
}
