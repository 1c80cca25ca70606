namespace Ppn.Genesis.Testing;

/// <summary>
/// A clock that stands still until a test moves it (<see cref="Advance"/>): for decisions taken on elapsed time
/// (the holding listener's rate tokens, <see cref="Holding.HoldingOptions.RateClock"/>), so a loaded test machine
/// cannot change their outcome. Timers are not supported: it is not a clock to wait on.
/// </summary>
public sealed class HeldClock : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("HeldClock only tells time; wait on real time");
}
