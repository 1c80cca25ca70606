using Ppn.Appliance.Init;

namespace Ppn.Appliance.Tests;

public class Pid1HostTests
{
    [Fact]
    public void Restart_waits_double_while_a_service_keeps_failing_up_to_a_minute()
    {
        var backoff = new RestartBackoff();
        var waits = Enumerable.Range(0, 9).Select(_ => backoff.Next(TimeSpan.FromMilliseconds(5)).TotalSeconds).ToArray();
        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60], waits);
    }

    [Fact]
    public void A_run_that_lasted_five_minutes_starts_the_restart_count_again()
    {
        var backoff = new RestartBackoff();
        for (int i = 0; i < 8; i++) backoff.Next(TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(60), backoff.Next(RestartBackoff.Healthy - TimeSpan.FromTicks(1)));
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Next(RestartBackoff.Healthy));
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Next(TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public void A_failed_service_is_logged_with_its_wait_and_started_again()
    {
        var log = new ListLog();
        using var stop = new CancellationTokenSource();
        using var secondStart = new ManualResetEventSlim();
        var service = new FlakyService(secondStart);
        var threads = new Pid1Host(log).Start([service], stop.Token);
        Assert.True(secondStart.Wait(TimeSpan.FromSeconds(30)), "the service was not started again within 30 s");
        stop.Cancel();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(["flaky: starting", "flaky: failed: InvalidOperationException: first run fails; restarting in 1 s", "flaky: starting"],
            log.Lines);
    }

    private sealed class FlakyService(ManualResetEventSlim secondStart) : IApplianceService
    {
        private int _runs;
        public string Name => "flaky";

        public void Run(CancellationToken stopping)
        {
            if (++_runs == 1) throw new InvalidOperationException("first run fails");
            secondStart.Set();
            stopping.WaitHandle.WaitOne();
        }
    }

    private sealed class ListLog : ILog
    {
        public List<string> Lines { get; } = [];
        public void Write(string area, string message) { lock (Lines) Lines.Add($"{area}: {message}"); }
    }
}
