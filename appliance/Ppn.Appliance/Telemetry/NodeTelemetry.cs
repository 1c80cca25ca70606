using Ppn.Appliance.Commands;
using Ppn.Appliance.Lifecycle;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Mesh.WireGuard;
using Ppn.Nic.Discovery;

namespace Ppn.Appliance.Telemetry;

/// <summary>
/// The node's metrics (docs/telemetry.md is the list: every family here is there, with its type, labels and meaning),
/// read at scrape time from what the services already keep: the command service's verifier, journal and listener,
/// the lifecycle, WireGuard's view of ppn0, sysfs for the NICs. Each collector reads everything first and writes
/// only afterwards, so one that fails (a sysfs read, a netlink call) costs its own families, reported as
/// <c>ppn_scrape_collector_success{collector}</c> 0, never the scrape.
/// </summary>
public sealed class NodeTelemetry
{
    public required BuildInfo Build { get; init; }
    public required EnrolmentGrant Grant { get; init; }
    public required CommandService Commands { get; init; }
    /// <summary>This boot's number (PpnBootCount), or null when it could not be recorded.</summary>
    public ulong? Boots { get; init; }
    public Func<NodeState> State { get; init; } = () => NodeState.Enrolled;
    /// <summary>How the enrolment in use was made: restored, join or claim.</summary>
    public Func<string> Origin { get; init; } = () => "unknown";
    public Func<bool> MeshUp { get; init; } = () => true;
    /// <summary>ppn0 as WireGuard reports it (peers, handshakes, bytes); null when there is no such device.</summary>
    public Func<WireGuardDevice?> Mesh { get; init; } = () => null;
    /// <summary>The mesh sync agent's status (docs/protocol/sync.md §Status); null before it runs (no ppn_sync_ families then).</summary>
    public Func<Ppn.Mesh.Sync.SyncStatus?> Sync { get; init; } = () => null;
    public Func<IReadOnlyList<NicIdentity>> Nics { get; init; } = () => [];
    public SysfsNicStatus NicStatus { get; init; } = new();
    public EntropySources? IdentitySources { get; init; }
    /// <summary>Time since the kernel booted (CLOCK_MONOTONIC, which Environment.TickCount64 reads on Linux).</summary>
    public Func<TimeSpan> Uptime { get; init; } = () => TimeSpan.FromMilliseconds(Environment.TickCount64);
    public Func<DateTimeOffset> Clock { get; init; } = () => DateTimeOffset.UtcNow;
    /// <summary>The endpoint's own connection counters (accepted, refused, evicted), once it runs.</summary>
    public Func<(long Accepted, long Refused, long Evicted)>? Endpoint { get; set; }

    public const string MeshInterface = EnrolledMesh.Interface;

    /// <summary>Collector names, in the order they are written (ppn_scrape_collector_success's label values).</summary>
    public static readonly IReadOnlyList<string> Collectors = ["node", "enrolment", "commands", "mesh", "nic", "identity", "telemetry"];

    public byte[] Render()
    {
        var w = new PrometheusTextWriter();
        var success = new List<(string Collector, bool Ok)>();
        foreach (var (name, collect) in new (string, Func<Action<PrometheusTextWriter>>)[]
                 {
                     ("node", Node), ("enrolment", Enrolment), ("commands", CommandsCollector), ("mesh", MeshCollector),
                     ("nic", Nic), ("identity", Identity), ("telemetry", TelemetryCollector),
                 })
        {
            Action<PrometheusTextWriter>? write = null;
            try
            {
                write = collect();
            }
            catch (Exception)
            {
                // A failed read loses this collector's families for this scrape only; the gauge below says so.
            }
            write?.Invoke(w);
            success.Add((name, write is not null));
        }
        w.Family("ppn_scrape_collector_success", MetricType.Gauge, "Whether a collector's reads succeeded in this scrape (1) or failed and its metrics are missing (0).");
        foreach (var (collector, ok) in success) w.Sample(ok ? 1 : 0, ("collector", collector));
        return w.ToUtf8();
    }

    private Action<PrometheusTextWriter> Node()
    {
        var build = Build;
        var uptime = Uptime().TotalSeconds;
        var now = Clock().ToUnixTimeMilliseconds() / 1000.0;
        var boots = Boots;
        return w =>
        {
            w.Family("ppn_build_info", MetricType.Gauge, "Always 1; the labels name the running ppn: version, commit and the SHA-256 of the executable the image recorded.");
            w.Sample(1, ("version", build.Version), ("commit", build.Commit), ("ppn_sha256", build.PpnSha256));
            if (boots is { } b)
            {
                w.Family("ppn_boots_total", MetricType.Counter, "Times this node's PID 1 started, kept in the UEFI variable PpnBootCount.");
                w.Sample(b);
            }
            w.Family("ppn_uptime_seconds", MetricType.Gauge, "Seconds since the kernel booted.");
            w.Sample(Math.Round(uptime, 3));
            w.Family("ppn_boot_time_seconds", MetricType.Gauge, "When the kernel booted, in seconds since the Unix epoch (by the node's clock).");
            w.Sample(Math.Round(now - uptime, 3));
        };
    }

    private Action<PrometheusTextWriter> Enrolment()
    {
        var state = State();
        var origin = Origin();
        var grant = Grant;
        return w =>
        {
            w.Family("ppn_enrolment_state", MetricType.Gauge, "1 for the node's current lifecycle state, 0 for the others.");
            foreach (var s in Enum.GetValues<NodeState>()) w.Sample(s == state ? 1 : 0, ("state", StateToken(s)));
            w.Family("ppn_enrolment_info", MetricType.Gauge, "Always 1; the labels describe the enrolment in use: how it was made (restored, join, claim), the mesh address and the hub endpoint.");
            w.Sample(1, ("origin", origin), ("address", grant.Address.ToString()), ("hub", grant.HubEndpoint.ToString()));
            w.Family("ppn_node_id", MetricType.Gauge, "The node id the registrar assigned (the enrolment grant's).");
            w.Sample(grant.NodeId);
        };
    }

    private Action<PrometheusTextWriter> CommandsCollector()
    {
        var service = Commands;
        var verifier = service.Verifier;
        var journal = service.Journal;
        byte epoch = verifier.Epoch;
        uint floor = verifier.BootFloor, reserved = verifier.ReservedThrough, highest = verifier.HighestAccepted;
        var load = service.ReplayStateAtBoot;
        long datagrams = service.DatagramsReceived;
        long drops = service.Listener.KernelDrops;
        bool prefilter = service.Listener.KernelPrefilter;
        Span<long> verdicts = stackalloc long[CommandVerdicts.Count];
        verifier.Counters.CopyTo(verdicts);
        var verdictCounts = verdicts.ToArray();
        var intents = Enumerable.Range(0, (int)CommandIntent.GenesisResetConfirm + 1).Select(i => (Code: (byte)i, Count: journal.AcceptedWithIntent((byte)i))).ToArray();
        var outcomes = Enumerable.Range(1, DispatchOutcomes.Count - 1).Select(i => (Outcome: (DispatchOutcome)i, Count: journal.AcceptedWithOutcome((DispatchOutcome)i))).ToArray();
        uint grantEpoch = Grant.CommandKeyEpoch;
        return w =>
        {
            w.Family("ppn_command_epoch", MetricType.Gauge, "The command epoch the node verifies against (docs/protocol/commands.md); above the grant's after a lost replay record.");
            w.Sample(epoch);
            w.Family("ppn_command_grant_epoch", MetricType.Gauge, "The command-key epoch in the enrolment grant.");
            w.Sample(grantEpoch);
            w.Family("ppn_command_replay_floor", MetricType.Gauge, "Counters at or below this were refused since boot (the persisted reservation the node restarted from).");
            w.Sample(floor);
            w.Family("ppn_command_replay_reserved_through", MetricType.Gauge, "The highest counter the persisted replay record covers; the next counter above it costs one variable write.");
            w.Sample(reserved);
            w.Family("ppn_command_highest_accepted", MetricType.Gauge, "The highest counter accepted in this epoch (0 when none).");
            w.Sample(highest);
            w.Family("ppn_command_replay_state_at_boot", MetricType.Gauge, "1 for how the replay record was found in this run, when the listener started or at an enrolment before it: ok, missing or corrupt (missing/corrupt after a first enrolment means the record was lost and the epoch moved; docs/protocol/commands.md §Lost replay state).");
            foreach (var l in Enum.GetValues<ReplayStateLoad>()) w.Sample(l == load ? 1 : 0, ("state", l.ToString().ToLowerInvariant()));
            w.Family("ppn_command_datagrams_total", MetricType.Counter, "UDP datagrams received on the command port (8090).");
            w.Sample(datagrams);
            w.Family("ppn_commands_total", MetricType.Counter, "Command datagrams by verification verdict (docs/protocol/commands.md §Verify order).");
            for (int i = 0; i < verdictCounts.Length; i++) w.Sample(verdictCounts[i], ("verdict", ((CommandVerdict)i).Token()));
            w.Family("ppn_commands_accepted_total", MetricType.Counter, "Accepted commands by intent.");
            foreach (var (code, count) in intents) w.Sample(count, ("intent", CommandPacket.IntentToken(code)));
            w.Family("ppn_command_outcomes_total", MetricType.Counter, "Accepted commands by what their dispatch did (executed, armed, a refused confirm, effect-failed, queue-full).");
            foreach (var (outcome, count) in outcomes) w.Sample(count, ("outcome", NodeStatusFile.OutcomeToken(outcome)));
            // One counter for both causes: the kernel counts prefilter refusals and receive-queue overflows in the same
            // per-socket drop counter (SO_RXQ_OVFL / SO_MEMINFO), and classic BPF gives no way to tell them apart.
            w.Family("ppn_command_kernel_drops_total", MetricType.Counter,
                "Datagrams the kernel dropped at the command sockets before verification: prefilter refusals (wrong length, version or target) and receive-queue overflows (SO_RXQ_OVFL).");
            w.Sample(drops);
            w.Family("ppn_command_kernel_prefilter", MetricType.Gauge, "1 when the classic-BPF prefilter is attached to the command sockets.");
            w.Sample(prefilter ? 1 : 0);
        };
    }

    private Action<PrometheusTextWriter> MeshCollector()
    {
        bool up = MeshUp();
        var now = Clock();
        var peers = new List<(string Key, double? Handshake, ulong Rx, ulong Tx)>();
        using (var device = Mesh())
        {
            foreach (var p in device?.Peers ?? [])
            {
                double? handshake = p.LastHandshake is { } t && t.ToUnixTimeSeconds() > 0 ? t.ToUnixTimeMilliseconds() / 1000.0 : null;
                peers.Add((p.PublicKey.ToBase64(), handshake, p.ReceiveBytes, p.TransmitBytes));
            }
        }
        double nowSeconds = now.ToUnixTimeMilliseconds() / 1000.0;
        var sync = Sync();
        return w =>
        {
            if (sync is not null)
            {
                w.Family("ppn_sync_serial", MetricType.Gauge, "Serial of the peer set (or, on a relay after a reboot, the kept roster) ppn0 is built from; 0 before the first (docs/protocol/sync.md).");
                w.Sample(sync.Serial);
                w.Family("ppn_sync_peers", MetricType.Gauge, "ppn0 peers the mesh sync gives this node: on a spoke the hub and its direct-path peers.");
                w.Sample(sync.Peers);
                w.Family("ppn_sync_refusals_total", MetricType.Counter, "Peer sets refused, by verdict (docs/protocol/sync.md §Verification).");
                foreach (var (reason, count) in sync.Refusals) w.Sample(count, ("reason", reason));
            }
            w.Family("ppn_mesh_up", MetricType.Gauge, "1 while ppn0 matches the enrolment grant (the last convergence succeeded).");
            w.Sample(up ? 1 : 0, ("interface", MeshInterface));
            w.Family("ppn_mesh_latest_handshake_timestamp_seconds", MetricType.Gauge, "When the latest WireGuard handshake with the peer completed, in seconds since the Unix epoch (0: never).");
            foreach (var p in peers) w.Sample(p.Handshake ?? 0, ("interface", MeshInterface), ("public_key", p.Key));
            w.Family("ppn_mesh_latest_handshake_age_seconds", MetricType.Gauge, "Seconds since the latest WireGuard handshake with the peer (+Inf: never); WireGuard re-keys every 120 s while traffic flows.");
            foreach (var p in peers) w.Sample(p.Handshake is { } h ? Math.Max(0, Math.Round(nowSeconds - h, 3)) : double.PositiveInfinity, ("interface", MeshInterface), ("public_key", p.Key));
            w.Family("ppn_mesh_receive_bytes_total", MetricType.Counter, "Bytes received from the peer through ppn0 (WireGuard's rx_bytes).");
            foreach (var p in peers) w.Sample(p.Rx, ("interface", MeshInterface), ("public_key", p.Key));
            w.Family("ppn_mesh_transmit_bytes_total", MetricType.Counter, "Bytes sent to the peer through ppn0 (WireGuard's tx_bytes).");
            foreach (var p in peers) w.Sample(p.Tx, ("interface", MeshInterface), ("public_key", p.Key));
        };
    }

    /// <summary>sysfs statistics/ file → metric family (node_exporter's netclass/netdev naming, ppn_nic_ prefix).</summary>
    public static readonly IReadOnlyList<(string Statistic, string Family, string Help)> NicCounters =
    [
        ("rx_bytes", "ppn_nic_receive_bytes_total", "Bytes received."),
        ("tx_bytes", "ppn_nic_transmit_bytes_total", "Bytes sent."),
        ("rx_packets", "ppn_nic_receive_packets_total", "Packets received."),
        ("tx_packets", "ppn_nic_transmit_packets_total", "Packets sent."),
        ("rx_errors", "ppn_nic_receive_errors_total", "Receive errors (the driver's aggregate)."),
        ("tx_errors", "ppn_nic_transmit_errors_total", "Transmit errors (the driver's aggregate)."),
        ("rx_dropped", "ppn_nic_receive_drop_total", "Received packets dropped (no buffer, unknown protocol...)."),
        ("tx_dropped", "ppn_nic_transmit_drop_total", "Packets dropped on transmit."),
        ("rx_missed_errors", "ppn_nic_receive_missed_errors_total", "Packets the NIC missed (its receive ring was full)."),
        ("rx_crc_errors", "ppn_nic_receive_crc_errors_total", "Frames received with a bad CRC."),
        ("rx_frame_errors", "ppn_nic_receive_frame_errors_total", "Frames received with alignment errors."),
        ("rx_fifo_errors", "ppn_nic_receive_fifo_errors_total", "Receive FIFO overruns."),
        ("rx_over_errors", "ppn_nic_receive_over_errors_total", "Receive ring overflows."),
        ("rx_length_errors", "ppn_nic_receive_length_errors_total", "Frames received with a bad length."),
        ("tx_carrier_errors", "ppn_nic_transmit_carrier_errors_total", "Transmit carrier losses."),
        ("tx_fifo_errors", "ppn_nic_transmit_fifo_errors_total", "Transmit FIFO underruns."),
        ("tx_aborted_errors", "ppn_nic_transmit_aborted_errors_total", "Transmits aborted."),
        ("collisions", "ppn_nic_collisions_total", "Collisions (half duplex)."),
    ];

    private Action<PrometheusTextWriter> Nic()
    {
        var nics = Nics().Where(n => n.IsPhysical).Select(n => (Identity: n, Status: NicStatus.Read(n.Name))).Where(n => n.Status is not null).ToList();
        return w =>
        {
            w.Family("ppn_nic_info", MetricType.Gauge, "Always 1 for each physical NIC; the labels say its driver and PCI id.");
            foreach (var (n, _) in nics) w.Sample(1, ("device", n.Name), ("driver", n.Driver ?? "unknown"), ("pci_id", n.PciId ?? "none"), ("pci_address", n.PciAddress ?? "none"));
            w.Family("ppn_nic_up", MetricType.Gauge, "1 when the NIC's operstate is up.");
            foreach (var (n, s) in nics) w.Sample(s!.IsUp ? 1 : 0, ("device", n.Name), ("operstate", s.OperState));
            w.Family("ppn_nic_carrier", MetricType.Gauge, "1 when the NIC has link (carrier), 0 when not; absent when the kernel cannot say (the link is administratively down).");
            foreach (var (n, s) in nics) if (s!.Carrier is { } c) w.Sample(c ? 1 : 0, ("device", n.Name));
            w.Family("ppn_nic_speed_bytes", MetricType.Gauge, "The negotiated link speed in bytes per second (absent while there is no link).");
            foreach (var (n, s) in nics) if (s!.SpeedMbps is { } mbps) w.Sample(mbps * 125_000d, ("device", n.Name));
            foreach (var (stat, family, help) in NicCounters)
            {
                w.Family(family, MetricType.Counter, help);
                foreach (var (n, s) in nics) if (s!.Statistics.TryGetValue(stat, out var v)) w.Sample(v, ("device", n.Name));
            }
        };
    }

    private Action<PrometheusTextWriter> Identity()
    {
        var sources = IdentitySources;
        return w =>
        {
            if (sources is not { } used) return;
            w.Family("ppn_identity_entropy_source", MetricType.Gauge, "1 for each entropy source mixed into the node's identity key at its genesis (docs/genesis-identity.md), 0 for the others.");
            foreach (var (flag, token) in EntropyTokens) w.Sample(used.HasFlag(flag) ? 1 : 0, ("source", token));
        };
    }

    public static readonly IReadOnlyList<(EntropySources Flag, string Token)> EntropyTokens =
    [
        (EntropySources.KernelCsprng, "getrandom"),
        (EntropySources.CpuRdseed, "rdseed"),
        (EntropySources.CpuRdrand, "rdrand"),
        (EntropySources.HardwareRng, "hwrng"),
    ];

    private Action<PrometheusTextWriter> TelemetryCollector()
    {
        var counts = Endpoint?.Invoke();
        return w =>
        {
            if (counts is not { } c) return;
            w.Family("ppn_telemetry_connections_accepted_total", MetricType.Counter, "Connections the metrics endpoint admitted.");
            w.Sample(c.Accepted);
            w.Family("ppn_telemetry_connections_refused_total", MetricType.Counter, "Connections the metrics endpoint refused (a source's rate or share).");
            w.Sample(c.Refused);
            w.Family("ppn_telemetry_connections_evicted_total", MetricType.Counter, "Admitted connections the metrics endpoint closed at its cap to make room for a new one.");
            w.Sample(c.Evicted);
        };
    }

    public static string StateToken(NodeState state) => state switch
    {
        NodeState.Starting => "starting",
        NodeState.Genesis => "genesis",
        NodeState.NotEnrolled => "not-enrolled",
        NodeState.Enrolled => "enrolled",
        NodeState.Rescanning => "rescanning",
        NodeState.Stopped => "stopped",
        _ => "unknown",
    };
}
