using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ppn.Appliance.Commands;
using Ppn.Appliance.Cli;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;
using Ppn.UefiVars.Testing;

using static Ppn.Appliance.Tests.CommandTestKeys;
using static Ppn.Appliance.Tests.CommandTraffic;

namespace Ppn.Appliance.Tests;

/// <summary>
/// The appliance's command service end to end on loopback: keys from the node's identity and the authority's
/// X25519 key, replay state in (emulated) UEFI variables across a reboot, effects, the status file and `ppn status`.
/// </summary>
public sealed class CommandServiceTests : IDisposable
{

    private readonly TempDirEfivarfs _efivarfs = new();
    private readonly string _statusPath;
    private readonly RecordingEffects _effects = new();
    private readonly List<string> _log = [];

    public CommandServiceTests() => _statusPath = Path.Combine(_efivarfs.Root + "-run", "status.json");

    public void Dispose()
    {
        _efivarfs.Dispose();
        if (Directory.Exists(Path.GetDirectoryName(_statusPath))) Directory.Delete(Path.GetDirectoryName(_statusPath)!, true);
    }

    private Func<Ppn.Mesh.Sync.SyncStatus?>? _sync;

    private CommandService Start(EnrolmentGrant? grant = null, TimeSpan? publisherStopTimeout = null) => CommandService.Start(new CommandServiceSetup
    {
        Sync = _sync,
        PublisherStopTimeout = publisherStopTimeout ?? TimeSpan.FromSeconds(10),
        Store = _efivarfs.OpenStore(),
        Grant = grant ?? Grant(),
        AuthorityPublicKey = AuthorityPublic,
        BindAddress = IPAddress.Loopback,
        Port = 0,
        GroupIds = [7],
        StatusPath = _statusPath,
    }, NodePrivate, _effects, line => { lock (_log) _log.Add(line); });

    [Fact]
    public void An_accepted_command_is_executed_journalled_logged_and_shown_by_ppn_status()
    {
        ReplayEnrolment.Apply(new UefiReplayStateStore(_efivarfs.OpenStore()), 0, out _);
        using (var service = Start())
        {
            var forged = Seal(CommandIntent.Reboot, 3);
            forged[15] ^= 1;
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            foreach (var packet in new[] { Seal(CommandIntent.Noop, 1), Seal(CommandIntent.Reboot, 2, target: TargetSelector.Node(43)), forged, Seal(CommandIntent.Noop, 4) })
            {
                client.SendTo(packet, service.LocalEndPoint);
            }
            // The wrong target is refused in the kernel (the prefilter) and only counted; the forged tag is journalled.
            Assert.True(Until(() => _effects.HealthProbes == 2 && service.Journal.RejectedTotal == 1 && service.Listener.KernelDrops == 1),
                "noops executed, the forgery journalled, the wrong target counted as a kernel drop");
            service.Publish();
        }
        Assert.Contains(_log, l => l.StartsWith("accepted noop (argument 0) for node 42, epoch 0 counter 1 from 127.0.0.1:", StringComparison.Ordinal) && l.EndsWith(": executed", StringComparison.Ordinal));
        Assert.Equal(0, _effects.Reboots);

        var (code, output, err) = CliTests.Run("status", "--file", _statusPath);
        Assert.True(code == 0, err);
        Assert.Contains("node:      42 at 10.8.0.2/24, hub 192.0.2.1:51820", output);
        Assert.Contains("commands:  listening on 127.0.0.1:", output);
        Assert.Contains("verdicts:  3 datagram(s): accept 2, bad-tag 1", output);
        Assert.Contains("kernel:    1 datagram(s) dropped before verify (prefilter refusals of wrong length, version or target, and receive-queue overflows)", output);
        Assert.Contains("noop(0) for node 42, epoch 0 counter 1 from 127.0.0.1:", output);
        Assert.Contains("reboot(0) for node 42, epoch 0 counter 3", output);
        Assert.Contains("[bad-tag]", output);

        var json = CliTests.Run("status", "--file", _statusPath, "--json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(2, doc.RootElement.GetProperty("journal").GetProperty("acceptedTotal").GetInt64());
        Assert.Equal(1, doc.RootElement.GetProperty("commands").GetProperty("kernelDrops").GetInt64());
        Assert.Equal(255, doc.RootElement.GetProperty("commands").GetProperty("reservedThrough").GetInt64());
    }

    [Fact]
    public void The_status_file_carries_the_sync_agents_status_and_is_rewritten_when_it_changes()
    {
        var serial = 0UL;
        _sync = () => serial == 0 ? null : new Ppn.Mesh.Sync.SyncStatus("spoke", Volatile.Read(ref serial), 1, Ppn.Mesh.Sync.SyncStatus.Signed,
            new SortedDictionary<string, long>(StringComparer.Ordinal) { ["NotNewer"] = 2 });
        using var service = Start();
        service.Publish();
        Assert.True(NodeStatusFile.TryParse(File.ReadAllBytes(_statusPath), out var before, out var error), error);
        Assert.Null(before!.Sync);
        Volatile.Write(ref serial, 9UL);
        // No command arrives: the sync status alone makes the publisher write again (it checks every second).
        Assert.True(Until(() => NodeStatusFile.TryParse(File.ReadAllBytes(_statusPath), out var s, out _) && s!.Sync?.Serial == 9));
        NodeStatusFile.TryParse(File.ReadAllBytes(_statusPath), out var after, out _);
        Assert.Equal(("spoke", "signed", 1, 2L), (after!.Sync!.Role, after.Sync.Source, after.Sync.Peers, after.Sync.Refusals["NotNewer"]));
        Assert.Contains("\"sync\": {\n    \"role\": \"spoke\"", File.ReadAllText(_statusPath));
    }

    [Fact]
    public void A_status_source_that_throws_costs_one_console_line_and_the_publisher_writes_once_it_heals()
    {
        // The publisher is a thread of PID 1: an exception escaping it would end the process (kernel panic).
        var failing = 1;
        _sync = () => Volatile.Read(ref failing) == 1 ? throw new InvalidOperationException("collection was modified") : null;
        using var service = Start();
        Assert.True(Until(() => { lock (_log) return _log.Any(l => l.Contains("not written: InvalidOperationException: collection was modified", StringComparison.Ordinal)); }));
        Assert.False(File.Exists(_statusPath));
        Volatile.Write(ref failing, 0);
        // Nothing else changed: the failed write alone makes the publisher try again on its next tick.
        Assert.True(Until(() => File.Exists(_statusPath)));
        Assert.True(NodeStatusFile.TryParse(File.ReadAllBytes(_statusPath), out _, out var error), error);
        lock (_log) Assert.Single(_log, l => l.Contains(" not written: ", StringComparison.Ordinal));
        Assert.True(service.PublisherRunning);
    }

    [Fact]
    public void Disposing_while_the_publisher_is_held_in_a_slow_status_source_leaves_it_to_end_cleanly()
    {
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var hold = 0;
        _sync = () =>
        {
            if (Interlocked.Exchange(ref hold, 0) == 1)
            {
                entered.Set();
                release.Wait(TimeSpan.FromSeconds(20));
            }
            return null;
        };
        var service = Start(publisherStopTimeout: TimeSpan.Zero);
        Assert.True(Until(() => File.Exists(_statusPath)));
        Volatile.Write(ref hold, 1);
        // The publisher asks the sync status every tick; it is now held there (as by the mesh lock during a bring-up).
        Assert.True(entered.Wait(TimeSpan.FromSeconds(20)));
        service.Dispose();
        Assert.True(service.PublisherRunning);
        release.Set();
        // Back from the source, the publisher sees the stop and ends (it waited on a disposed event before: an
        // ObjectDisposedException on a thread of PID 1).
        Assert.True(Until(() => !service.PublisherRunning));
    }

    [Fact]
    public void The_status_file_reads_back_as_the_one_type_it_was_written_from()
    {
        var status = new NodeStatus(NodeStatusFile.Schema, new StatusEnrolment(42, "10.8.0.2/24", "192.0.2.1:51820", 3),
            new StatusCommands("10.8.0.2:8090", 3, "ok", 256, 511, 300, 10, 0, 1, true, 2, new Dictionary<string, long> { ["accept"] = 2, ["replay"] = 1 }),
            new StatusJournal(2, 1,
                [new StatusJournalEntry(10, "accept", "executed", null, "noop", 0, "node 42", 300, 3, "10.8.0.254:1")],
                [new StatusJournalEntry(20, "replay", null, null, "reboot", 0, "node 42", 299, 3, "10.8.0.254:1")]));
        var json = NodeStatusFile.ToJson(status);

        Assert.True(NodeStatusFile.TryParse(json, out var read, out var error), error);
        Assert.Equal(status.Enrolment, read!.Enrolment);
        Assert.Equal(2, read.Commands.Verdicts["accept"]);
        Assert.Equal(status.Journal.Accepted[0], read.Journal.Accepted[0]);
        Assert.DoesNotContain("\"outcome\"", System.Text.Encoding.UTF8.GetString(json).Split("\"rejected\"")[1]);

        Assert.DoesNotContain("\"sync\"", System.Text.Encoding.UTF8.GetString(json)); // no sync agent: no sync object
        Assert.Null(read.Sync);

        Assert.False(NodeStatusFile.TryParse("{\"schema\": 1, \"enrolment\": 7}"u8, out _, out error));
        Assert.Contains("field $.enrolment has another layout", error);
        Assert.False(NodeStatusFile.TryParse("{\"schema\": 1}"u8, out _, out error));
        Assert.Contains("a section is missing", error);
    }

    [Fact]
    public void Replay_of_a_command_seen_before_reboot_is_rejected_after_it()
    {
        ReplayEnrolment.Apply(new UefiReplayStateStore(_efivarfs.OpenStore()), 0, out _);
        var captured = Seal(CommandIntent.Noop, 5);
        using (var before = Start())
        {
            Send(before, captured);
            Assert.True(Until(() => _effects.HealthProbes == 1));
        }
        _efivarfs.Reboot();
        using var after = Start();
        Assert.Equal(255u, after.Verifier.BootFloor);
        Send(after, captured);
        Send(after, Seal(CommandIntent.Noop, 256)); // the authority's next batch starts at the next block
        Assert.True(Until(() => after.Verifier.Counters[CommandVerdict.Replay] == 1 && _effects.HealthProbes == 2));
    }

    [Fact]
    public void A_new_enrolment_starts_in_the_grant_epoch()
    {
        ReplayEnrolment.Apply(new UefiReplayStateStore(_efivarfs.OpenStore()), 3, out _);
        using var service = Start(Grant(epoch: 3));
        Assert.Equal(3, service.Verifier.Epoch);
        Assert.Equal(ReplayStateLoad.Ok, service.Verifier.StartupLoad);
    }

    [Fact]
    public void Lost_replay_state_moves_past_the_newest_epoch_the_node_rotated_to()
    {
        var store = new UefiReplayStateStore(_efivarfs.OpenStore());
        ReplayEnrolment.Apply(store, 0, out _);
        using (var service = Start())
        {
            Send(service, Seal(CommandIntent.Noop, 1, epoch: 1)); // the authority rotates to epoch 1
            Assert.True(Until(() => _effects.HealthProbes == 1));
            Assert.Equal(1, service.Verifier.Epoch);
        }
        Assert.Equal((byte)1, store.LastKnownEpoch());
        _efivarfs.OpenStore().Delete(UefiReplayStateStore.ReplayVariable); // the replay record is lost
        using var after = Start();
        Assert.Equal(ReplayStateLoad.Missing, after.Verifier.StartupLoad);
        Assert.Equal(2, after.Verifier.Epoch); // not 1: epoch-1 commands may have been captured
        Assert.Contains(_log, l => l.Contains("moved to command epoch 2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_damaged_epoch_record_falls_back_to_the_grant_epoch()
    {
        var store = _efivarfs.OpenStore();
        store.Write(UefiReplayStateStore.EpochVariable, Ppn.UefiVars.VariableAttributes.NonVolatileBootRuntime, [5, 5], Ppn.UefiVars.WriteMode.CreateOrReplace);
        Assert.Null(new UefiReplayStateStore(store).LastKnownEpoch());
        Assert.Equal(4, new UefiReplayStateStore(store).LastKnownEpoch((byte)4));
    }

    [Fact]
    public void A_node_id_beyond_14_bits_is_refused_with_a_reason()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Start(Grant(nodeId: 20000)));
        Assert.Contains("does not fit the command target's 14 bits", e.Message);
    }

    [Fact]
    public void Status_without_a_running_service_says_so()
    {
        var (code, _, err) = CliTests.Run("status", "--file", _statusPath);
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("the node's command service is not running", err);
    }
}
