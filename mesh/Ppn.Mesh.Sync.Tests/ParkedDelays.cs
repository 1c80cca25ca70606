using System.Threading.Channels;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>
/// A delay seam that parks each wait until the test releases it: the code under test is stopped at a known point
/// (nothing it would do after the wait can have happened), and the test reads the wait it asked for. No clock involved.
/// </summary>
internal sealed class ParkedDelays
{
    private readonly Channel<(TimeSpan Delay, TaskCompletionSource Done)> _waits = Channel.CreateUnbounded<(TimeSpan, TaskCompletionSource)>();

    public Task Delay(TimeSpan delay, CancellationToken cancellation)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waits.Writer.TryWrite((delay, done));
        return done.Task.WaitAsync(cancellation);
    }

    /// <summary>The next wait asked for, still parked; <c>Done.SetResult()</c> lets the code go on.</summary>
    public ValueTask<(TimeSpan Delay, TaskCompletionSource Done)> NextAsync(CancellationToken cancellation) => _waits.Reader.ReadAsync(cancellation);
}
