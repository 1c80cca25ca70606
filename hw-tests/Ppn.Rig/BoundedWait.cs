using System.Diagnostics;

namespace Ppn.Rig;

/// <summary>A point in time after which a wait gives up; measured on the monotonic clock.</summary>
public readonly struct Deadline
{
    private readonly long _startTicks;

    private Deadline(TimeSpan budget)
    {
        _startTicks = Stopwatch.GetTimestamp();
        Budget = budget;
    }

    public TimeSpan Budget { get; }

    public static Deadline After(TimeSpan budget) => new(budget < TimeSpan.Zero ? TimeSpan.Zero : budget);

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_startTicks);

    public TimeSpan Remaining
    {
        get
        {
            var left = Budget - Elapsed;
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    public bool HasPassed => Elapsed >= Budget;

    /// <summary>The smaller of <paramref name="slice"/> and what is left, for one bounded step of a longer wait.</summary>
    public TimeSpan Slice(TimeSpan slice) => slice < Remaining ? slice : Remaining;
}

/// <summary>
/// Bounded waits for conditions that have no event to block on (a file appearing, a lock freeing up).
/// Everything with an event (console lines, process exit) blocks on that event instead; see ConsoleLog.
/// </summary>
public static class BoundedWait
{
    private static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Returns once <paramref name="condition"/> holds; throws <see cref="TimeoutException"/> naming
    /// <paramref name="description"/> and the budget when it does not hold within <paramref name="timeout"/>.
    /// </summary>
    public static void Until(Func<bool> condition, TimeSpan timeout, string description, TimeSpan? poll = null)
    {
        if (!TryUntil(condition, timeout, poll))
        {
            throw new TimeoutException($"timed out after {Format(timeout)} waiting for {description}");
        }
    }

    /// <summary>Like <see cref="Until"/> but reports the outcome instead of throwing.</summary>
    public static bool TryUntil(Func<bool> condition, TimeSpan timeout, TimeSpan? poll = null)
    {
        var deadline = Deadline.After(timeout);
        var interval = poll ?? DefaultPoll;
        using var never = new ManualResetEventSlim(false);
        while (true)
        {
            if (condition())
            {
                return true;
            }
            if (deadline.HasPassed)
            {
                return false;
            }
            // Bounded pause between probes of a condition nothing signals; never longer than the budget left.
            never.Wait(deadline.Slice(interval));
        }
    }

    /// <summary>Waits for <paramref name="handle"/> to be signalled; throws a described TimeoutException otherwise.</summary>
    public static void For(WaitHandle handle, TimeSpan timeout, string description)
    {
        if (!handle.WaitOne(timeout))
        {
            throw new TimeoutException($"timed out after {Format(timeout)} waiting for {description}");
        }
    }

    internal static string Format(TimeSpan span) =>
        span.TotalSeconds >= 1 ? $"{span.TotalSeconds:0.#} s" : $"{span.TotalMilliseconds:0} ms";
}
