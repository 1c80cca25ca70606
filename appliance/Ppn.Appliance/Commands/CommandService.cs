using System.Net;
using System.Text.Json;
using Ppn.Appliance.Lifecycle;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;
using Ppn.UefiVars;

namespace Ppn.Appliance.Commands;

/// <summary>What the command service needs from the enrolment; built by the genesis service once ppn0 is up.</summary>
public sealed class CommandServiceSetup
{
    public required IVariableStore Store { get; init; }
    public required EnrolmentGrant Grant { get; init; }
    /// <summary>The authority's X25519 static key (the pinned Noise key): half of the command-key agreement.</summary>
    public required byte[] AuthorityPublicKey { get; init; }
    public IPAddress? BindAddress { get; init; }
    public int Port { get; init; } = CommandListenerOptions.DefaultPort;
    /// <summary>The interface commands must arrive on (the node: ppn0); null: any (tests on loopback).</summary>
    public string? Interface { get; init; }
    public IReadOnlyList<ushort> GroupIds { get; init; } = [];
    public string StatusPath { get; init; } = NodeStatusFile.DefaultPath;
    /// <summary>The mesh sync agent's status for status.json's <c>sync</c> object; null (or returning null) before it runs.</summary>
    public Func<Ppn.Mesh.Sync.SyncStatus?>? Sync { get; init; }
    /// <summary>Missing or corrupt when an enrolment earlier in this run found the replay record lost and moved the
    /// epoch (<see cref="UefiCommandState.LossFoundAtEnrolment"/>); null otherwise.</summary>
    public ReplayStateLoad? ReplayLossAtEnrolment { get; init; }
    /// <summary>How long <see cref="CommandService.Dispose"/> waits for the status publisher to finish a write in progress.</summary>
    public TimeSpan PublisherStopTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The node's UDP 8090 command intake (docs/protocol/commands.md), composed from the commands library: the
/// node's command keys (its genesis X25519 key with the authority's), the replay state in UEFI variables, the
/// listener bound to the node's mesh address only, and the status file `ppn status` reads. Never sends.
/// </summary>
public sealed class CommandService : IRunningIntake
{
    private readonly CommandKeyring _keys;
    private readonly CommandJournal _journal = new();
    private readonly CommandVerifier _verifier;
    private readonly CommandListener _listener;
    private readonly CommandServiceSetup _setup;
    private readonly Action<string> _log;
    private readonly Thread _publisher;
    private readonly ManualResetEventSlim _stop = new();
    private long _loggedAccepted;
    private long _publishedAccepted = -1;
    private long _publishedRejected = -1;
    private long _publishedKernelDrops = -1;
    private byte[]? _publishedSync;

    private CommandService(CommandServiceSetup setup, ReadOnlySpan<byte> nodePrivateKey, ICommandEffects effects, Action<string> log)
    {
        _setup = setup;
        _log = log;
        var grant = setup.Grant;
        if (grant.NodeId > TargetSelector.MaxId)
        {
            throw new InvalidOperationException(
                $"node id {grant.NodeId} does not fit the command target's 14 bits (0..{TargetSelector.MaxId}): the registrar must assign smaller ids; no command listener");
        }
        _keys = CommandKeyring.ForNode(nodePrivateKey, setup.AuthorityPublicKey);
        try
        {
            var replay = new UefiReplayStateStore(setup.Store);
            _verifier = new CommandVerifier(_keys, new NodeAddressing((ushort)grant.NodeId, setup.GroupIds.ToArray()), replay,
                replay.LastKnownEpoch((byte)grant.CommandKeyEpoch));
            if (_verifier.StartupLoad != ReplayStateLoad.Ok)
            {
                log($"replay state {_verifier.StartupLoad.ToString().ToLowerInvariant()}: moved to command epoch {_verifier.Epoch} " +
                    "(commands of earlier epochs can never verify again; the authority continues in this epoch from counter 1)");
            }
            var options = new CommandListenerOptions { BindAddress = setup.BindAddress ?? grant.Address, Port = setup.Port, Interface = setup.Interface };
            _listener = CommandListener.Start(options, _verifier, new CommandDispatcher(effects, _journal), _journal, new ConsoleCommandLog(log));
        }
        catch
        {
            _keys.Dispose();
            throw;
        }
        log($"listening on {_listener.LocalEndPoint}{(setup.Interface is { } device ? $" ({device} only)" : "")} for node {grant.NodeId}, epoch {_verifier.Epoch}, replay floor {_verifier.BootFloor}");
        _publisher = new Thread(PublishLoop) { IsBackground = true, Name = "ppn-cmd-status" };
        _publisher.Start();
    }

    public static CommandService Start(CommandServiceSetup setup, ReadOnlySpan<byte> nodePrivateKey, ICommandEffects effects, Action<string> log) =>
        new(setup, nodePrivateKey, effects, log);

    public IPEndPoint LocalEndPoint => _listener.LocalEndPoint;
    /// <summary>Set when the receive loop died; the node's lifecycle then restarts the service.</summary>
    public Exception? Failure => _listener.Failure;
    public bool InterfaceReplaced => _listener.InterfaceReplaced;
    public CommandJournal Journal => _journal;
    public CommandVerifier Verifier => _verifier;
    /// <summary>
    /// How the replay record was found in this run (status.json's <c>replayStateAtBoot</c>, telemetry's
    /// <c>ppn_command_replay_state_at_boot</c>): the listener's own load, or, when that read the record an enrolment
    /// rewrote after finding it lost, what the enrolment found.
    /// </summary>
    public ReplayStateLoad ReplayStateAtBoot =>
        _verifier.StartupLoad != ReplayStateLoad.Ok ? _verifier.StartupLoad : _setup.ReplayLossAtEnrolment ?? ReplayStateLoad.Ok;
    /// <summary>The listener's statistics (datagrams, kernel drops, receivers), for status and metrics.</summary>
    public CommandListener Listener => _listener;
    public long DatagramsReceived => _listener.DatagramsReceived;

    /// <summary>Writes the status file now (also done by the publisher thread when something changed).</summary>
    public void Publish()
    {
        lock (_journal)
        {
            LogNewAccepted();
            _publishedAccepted = _journal.AcceptedTotal;
            _publishedRejected = _journal.RejectedTotal;
            _publishedKernelDrops = _listener.KernelDrops;
            var sync = _setup.Sync?.Invoke();
            _publishedSync = SyncFingerprint(sync);
            var grant = _setup.Grant;
            long now = CommandListener.MonotonicNanoseconds();
            var verdicts = new Dictionary<string, long>(CommandVerdicts.Count, StringComparer.Ordinal);
            for (int i = 0; i < CommandVerdicts.Count; i++)
            {
                var v = (CommandVerdict)i;
                verdicts[v.Token()] = _verifier.Counters[v];
            }
            NodeStatusFile.WriteAtomically(_setup.StatusPath, new NodeStatus(
                NodeStatusFile.Schema,
                new StatusEnrolment(grant.NodeId, $"{grant.Address}/{EnrolmentGrant.PrefixLength}", grant.HubEndpoint.ToString(), grant.CommandKeyEpoch),
                new StatusCommands(
                    _listener.LocalEndPoint.ToString(),
                    _verifier.Epoch,
                    ReplayStateAtBoot.ToString().ToLowerInvariant(),
                    _verifier.BootFloor,
                    _verifier.ReservedThrough,
                    _verifier.HighestAccepted,
                    _listener.DatagramsReceived,
                    _listener.QueueFull,
                    _listener.Receivers,
                    _listener.KernelPrefilter,
                    _listener.KernelDrops,
                    verdicts),
                new StatusJournal(
                    _journal.AcceptedTotal,
                    _journal.RejectedTotal,
                    NodeStatusFile.Entries(_journal.Accepted(), now),
                    NodeStatusFile.Entries(_journal.Rejected(), now)),
                sync));
        }
    }

    private static byte[]? SyncFingerprint(Ppn.Mesh.Sync.SyncStatus? sync) => sync is null ? null : Ppn.Mesh.Sync.SyncStatusFile.ToJson(sync);

    private bool SyncChanged()
    {
        var now = SyncFingerprint(_setup.Sync?.Invoke());
        return now is null ? _publishedSync is not null : _publishedSync is null || !now.AsSpan().SequenceEqual(_publishedSync);
    }

    // Accepted commands are authentic and rare: each gets a console line. Rejects only in rate-limited summaries.
    private void LogNewAccepted()
    {
        long total = _journal.AcceptedTotal;
        if (total == _loggedAccepted) return;
        var entries = _journal.Accepted();
        long fresh = Math.Min(total - _loggedAccepted, entries.Length);
        for (long i = entries.Length - fresh; i < entries.Length; i++)
        {
            var e = entries[i];
            _log($"accepted {e.IntentToken} (argument {e.Argument}) for {e.Target}, epoch {e.Epoch} counter {e.Counter} from {e.Source}: {NodeStatusFile.OutcomeToken(e.Outcome)}"
                + (e.FailureReason is { } reason ? $" ({reason})" : ""));
        }
        _loggedAccepted = total;
    }

    // PID 1's thread: an exception escaping it ends the process, and the kernel panics. So whatever a status source
    // throws is a line on the console (once until the failure changes), never the end of the publisher or the node.
    private void PublishLoop()
    {
        string? lastFailure = null;
        do
        {
            try
            {
                if (_journal.AcceptedTotal != _publishedAccepted || _journal.RejectedTotal != _publishedRejected
                    || _listener.KernelDrops != _publishedKernelDrops || SyncChanged())
                {
                    Publish();
                }
                lastFailure = null;
            }
            catch (Exception e)
            {
                var failure = e is IOException or UnauthorizedAccessException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                if (failure != lastFailure) _log($"status file {_setup.StatusPath} not written: {failure}; retrying every {NodeStatusFile.MinimumInterval.TotalSeconds:0} s");
                lastFailure = failure;
                // Publish marked this state as published before the write failed: forget it, so the next tick writes again.
                Interlocked.Exchange(ref _publishedAccepted, -1);
            }
        }
        while (!_stop.Wait(NodeStatusFile.MinimumInterval));
    }

    /// <summary>Whether the status publisher thread still runs (tests: it ends after <see cref="Dispose"/>).</summary>
    internal bool PublisherRunning => _publisher.IsAlive;

    public void Dispose()
    {
        _stop.Set();
        // A publisher held up in a slow status source (the mesh lock during a bring-up) outlives the join; it waits on
        // _stop once it is back, so _stop is disposed only when the publisher has ended.
        bool publisherEnded = _publisher.Join(_setup.PublisherStopTimeout);
        _listener.Dispose();
        // A receive thread that outlived its join may still verify: zeroing the keys under it would make every tag it
        // checks computable from the header alone, and leaving them open would let it go on accepting beside a
        // restarted service. Retired, its next tag check throws and ends it; the keys stay until the process ends.
        if (_listener.ReceiversEnded) _keys.Dispose();
        else _keys.Retire();
        if (publisherEnded) _stop.Dispose();
    }

    private sealed class ConsoleCommandLog(Action<string> log) : ICommandLog
    {
        public void RejectSummary(in RejectSummary summary)
        {
            var seconds = summary.IntervalNanoseconds / 1_000_000_000.0;
            var kernel = summary.KernelDropsSinceLast > 0
                ? $"; the kernel dropped {summary.KernelDropsSinceLast} before verify (prefilter refusals or a full receive queue)"
                : "";
            log(summary.RejectedSinceLast > 0
                ? $"rejected {summary.RejectedSinceLast} datagram(s) in the last {seconds:0.#} s (last: {summary.LastVerdict.Token()} from {summary.LastSource}){kernel}"
                : $"rejected 0 datagram(s) in the last {seconds:0.#} s{kernel}");
        }

        public void ListenerFailed(Exception error) => log($"listener failed: {error.Message}");
    }
}
