using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;
using Ppn.UefiVars.Testing;

namespace Ppn.Genesis.Tests;

/// <summary>docs/protocol/genesis.md §Join retries: jittered, bounded back-off; a signed refusal ends the join at once.</summary>
public sealed class JoinRetryTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly TempDirEfivarfs _nvram = new();
    private readonly NodeKeyPair _node = NodeKeyPair.FromSeed(Enumerable.Range(3, 32).Select(i => (byte)i).ToArray());
    private readonly TestAuthority _authority = new();

    public void Dispose()
    {
        _node.Dispose();
        _nvram.Dispose();
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void Delays_double_from_the_first_to_the_cap_and_keep_at_least_half_their_ceiling(double random)
    {
        var policy = new JoinRetryPolicy { Random = () => random };
        double[] ceilings = [500, 1000, 2000, 4000, 4000, 4000, 4000];
        for (int i = 0; i < ceilings.Length; i++)
        {
            var delay = policy.DelayBefore(i + 2).TotalMilliseconds;
            Assert.InRange(delay, ceilings[i] / 2, ceilings[i]);
            Assert.Equal(ceilings[i] / 2 + ceilings[i] / 2 * random, delay, 3);
        }
    }

    /// <summary>A registrar on [::1]: bound at once (so connects are refused with RST), listening only when told.</summary>
    private sealed class LateRegistrar : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stop = new();
        private readonly Func<byte[], EnrolmentGrant> _answer;
        private Task? _loop;

        public LateRegistrar(TestAuthority authority, Func<byte[], EnrolmentGrant> answer)
        {
            Authority = authority;
            _answer = answer;
            _socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        }

        public TestAuthority Authority { get; }
        public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;
        public int Exchanges;

        public void Listen()
        {
            _socket.Listen(16);
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Socket c;
                    try { c = await _socket.AcceptAsync(_stop.Token); } catch { return; }
                    using (c)
                    {
                        Interlocked.Increment(ref Exchanges);
                        await AuthorityResponder.RespondAsync(c, Authority.NoisePrivate, RequestKind.Join, default, (key, _, _) => _answer(key),
                            new GenesisTimeouts(), _stop.Token).ContinueWith(_ => { });
                    }
                }
            });
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _loop?.Wait(Bound);
        }
    }

    private VerifiedBeacon BeaconFor(LateRegistrar registrar) => new(registrar.EndPoint, _authority.NoisePublic, 9, 1);

    [Fact]
    public void A_registrar_that_comes_back_after_two_refused_connections_gets_the_join_at_the_third_attempt()
    {
        using var registrar = new LateRegistrar(_authority, _authority.GrantFor);
        var log = new ConcurrentQueue<string>();
        void Log(string line)
        {
            log.Enqueue(line);
            if (line.StartsWith("join attempt 2/", StringComparison.Ordinal)) registrar.Listen(); // the power comes back
        }
        var policy = new JoinRetryPolicy { FirstDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(80), Budget = Bound };
        using var stop = new CancellationTokenSource(Bound);
        var outcome = new JoinClient(_authority.Trust, new EnrolmentStore(_nvram), Log, retry: policy).Join(_node, BeaconFor(registrar), stop.Token);
        Assert.True(outcome.Succeeded, outcome.Failure + "\n" + string.Join('\n', log));
        Assert.Equal(3, outcome.Attempts);
        Assert.Contains(log, l => l.StartsWith("join attempt 1/12 to [::1]:", StringComparison.Ordinal) && l.Contains("; retrying in 0.", StringComparison.Ordinal));
        Assert.Contains(log, l => l.StartsWith("joined at attempt 3/12", StringComparison.Ordinal));
        Assert.NotNull(new EnrolmentStore(_nvram).TryLoad(_node.PublicKey, _authority.Trust, out _, out _));
    }

    [Fact]
    public void A_signed_refusal_is_final_and_its_reason_reaches_the_console_line()
    {
        using var registrar = new LateRegistrar(_authority, key =>
            new EnrolmentGrant(GrantStatus.Refused, 0, IPAddress.Any, new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), new byte[32], 3, key, 1_700_000_000, new byte[64])
                { Reason = RefusalReason.AddressPoolFull }.SignedWith(_authority.SigningPrivate));
        registrar.Listen();
        using var stop = new CancellationTokenSource(Bound);
        var outcome = new JoinClient(_authority.Trust, new EnrolmentStore(_nvram), _ => { }, retry: JoinRetryPolicy.Fixed(5, TimeSpan.FromMilliseconds(10)))
            .Join(_node, BeaconFor(registrar), stop.Token);
        Assert.False(outcome.Succeeded);
        Assert.Equal(RefusalReason.AddressPoolFull, outcome.Refusal);
        Assert.Equal("the authority refused this node: the address pool is full (no free address in 10.8.0.0/24)", outcome.Failure);
        Assert.Equal(1, outcome.Attempts);
        Assert.Equal(1, Volatile.Read(ref registrar.Exchanges));
        Assert.Null(_nvram.TryRead(EnrolmentStore.Variable));
    }

    /// <summary>
    /// A clock that moves only when waited on: a timer advances it by its due time and fires at once, so a join's
    /// budget is spent by its delays alone, however long the attempts take on the machine running the test.
    /// </summary>
    private sealed class SteppingClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Assert.Equal(Timeout.InfiniteTimeSpan, period); // Task.Delay: one shot
            Interlocked.Add(ref _ticks, dueTime.Ticks);
            ThreadPool.UnsafeQueueUserWorkItem(_ => callback(state), null);
            return new Fired();
        }

        private sealed class Fired : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => false;
            public void Dispose() { }
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    [Fact]
    public void Retries_stop_when_the_next_would_start_after_the_budget()
    {
        using var registrar = new LateRegistrar(_authority, _authority.GrantFor); // never listens
        var log = new ConcurrentQueue<string>();
        var clock = new SteppingClock();
        var policy = new JoinRetryPolicy { FirstDelay = TimeSpan.FromMilliseconds(400), MaxDelay = TimeSpan.FromMilliseconds(400), Budget = TimeSpan.FromMilliseconds(1500), Random = () => 1, Time = clock };
        using var stop = new CancellationTokenSource(Bound);
        var outcome = new JoinClient(_authority.Trust, new EnrolmentStore(_nvram), log.Enqueue, retry: policy).Join(_node, BeaconFor(registrar), stop.Token);
        Assert.False(outcome.Succeeded);
        Assert.Null(outcome.Refusal);
        Assert.Equal(4, outcome.Attempts); // at 0, 0.4, 0.8 and 1.2 s: the one after would start at 1.6 s, past 1.5 s
        Assert.Equal(TimeSpan.FromMilliseconds(1200), clock.GetElapsedTime(0));
        Assert.Equal(3, log.Count(l => l.EndsWith("; retrying in 0.40 s", StringComparison.Ordinal)));
        Assert.EndsWith("; the 1.5 s join budget is spent", log.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_fixed_retry_delay_keeps_the_policy_clock()
    {
        var clock = new SteppingClock();
        using var registrar = new LateRegistrar(_authority, _authority.GrantFor); // never listens
        using var stop = new CancellationTokenSource(Bound);
        var outcome = new JoinClient(_authority.Trust, new EnrolmentStore(_nvram), _ => { }, attempts: 3, retryDelay: TimeSpan.FromSeconds(30),
            retry: new JoinRetryPolicy { Time = clock }).Join(_node, BeaconFor(registrar), stop.Token);
        Assert.Equal(3, outcome.Attempts);
        Assert.Equal(TimeSpan.FromSeconds(60), clock.GetElapsedTime(0)); // two 30 s waits, on the test's clock, not the machine's
    }
}
