namespace Ppn.Genesis.Join;

/// <summary>
/// How a node retries a join that failed (docs/protocol/genesis.md §Join retries): exponential back-off with
/// "equal jitter" (half the ceiling fixed, half uniformly random), so a fleet powered on in the same second does not
/// hammer a registrar that is still coming up in lockstep; bounded in attempts and in time. A signed refusal is
/// final and never retried; cancellation ends it at once.
/// </summary>
public sealed record JoinRetryPolicy
{
    public const int DefaultMaxAttempts = 12;

    /// <summary>Attempts in all, the first included.</summary>
    public int MaxAttempts { get; init; } = DefaultMaxAttempts;
    /// <summary>The ceiling before the second attempt; it doubles per attempt up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(4);
    /// <summary>
    /// No attempt starts later than this after the first one: the node's scan window, the time within which the
    /// authority is expected back (null: attempts alone bound it).
    /// </summary>
    public TimeSpan? Budget { get; init; }
    /// <summary>0 ≤ r &lt; 1; <see cref="Random.Shared"/> unless a test fixes it.</summary>
    public Func<double> Random { get; init; } = System.Random.Shared.NextDouble;
    /// <summary>The clock the budget is measured on and the delays wait on; <see cref="TimeProvider.System"/> unless a test fixes it.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The wait before attempt <paramref name="attempt"/> (2, 3, ...): ceiling/2 + U(0, ceiling/2), ceiling = min(MaxDelay, FirstDelay·2^(attempt−2)).</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        double ceiling = Math.Min(MaxDelay.TotalMilliseconds, FirstDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt - 2, 0, 30)));
        double r = Math.Clamp(Random(), 0, 1);
        return TimeSpan.FromMilliseconds(ceiling / 2 + ceiling / 2 * r);
    }

    /// <summary>A fixed delay and no jitter (tests that count attempts).</summary>
    public static JoinRetryPolicy Fixed(int attempts, TimeSpan delay) => new() { MaxAttempts = attempts, FirstDelay = delay, MaxDelay = delay, Random = () => 1 };
}
