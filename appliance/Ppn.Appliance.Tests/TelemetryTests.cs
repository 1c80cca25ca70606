using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Ppn.Appliance.Commands;
using Ppn.Appliance.Lifecycle;
using Ppn.Appliance.Telemetry;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Linux.Netlink;
using Ppn.Mesh.WireGuard;
using Ppn.Nic.Discovery;
using Ppn.UefiVars.Testing;

using static Ppn.Appliance.Tests.CommandTestKeys;
using static Ppn.Appliance.Tests.CommandTraffic;

namespace Ppn.Appliance.Tests;

/// <summary>
/// The node's /metrics end to end on loopback: a real command service (UEFI replay state in an emulated efivarfs)
/// takes commands, the endpoint serves them in the 0.0.4 text format, `promtool check metrics` accepts the output,
/// and hostile requests get bounded, read-only answers.
/// </summary>
public sealed class TelemetryTests : IDisposable
{

    private readonly TempDirEfivarfs _efivarfs = new();
    private readonly string _run;
    private readonly string _sysfs;
    private readonly RecordingEffects _effects = new();
    private readonly List<string> _log = [];

    public TelemetryTests()
    {
        _run = _efivarfs.Root + "-run";
        _sysfs = _efivarfs.Root + "-sys";
        var eth0 = Path.Combine(_sysfs, "class", "net", "eth0");
        Directory.CreateDirectory(Path.Combine(eth0, "statistics"));
        File.WriteAllText(Path.Combine(eth0, "operstate"), "up\n");
        File.WriteAllText(Path.Combine(eth0, "carrier"), "1\n");
        File.WriteAllText(Path.Combine(eth0, "speed"), "1000\n");
        foreach (var stat in NicLinkStatus.StatisticNames) File.WriteAllText(Path.Combine(eth0, "statistics", stat), stat == "rx_crc_errors" ? "3\n" : "0\n");
    }

    public void Dispose()
    {
        _efivarfs.Dispose();
        foreach (var dir in new[] { _run, _sysfs }) if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }

    private static EnrolmentGrant Grant() => CommandTraffic.Grant("10.8.0.42");

    private CommandService StartCommands()
    {
        ReplayEnrolment.Apply(new UefiReplayStateStore(_efivarfs.OpenStore()), 0, out _);
        return StartService(null);
    }

    /// <summary>The command service over whatever replay state the test left in the store.</summary>
    private CommandService StartService(ReplayStateLoad? lossAtEnrolment) => CommandService.Start(new CommandServiceSetup
    {
        Store = _efivarfs.OpenStore(),
        Grant = Grant(),
        AuthorityPublicKey = AuthorityPublic,
        BindAddress = IPAddress.Loopback,
        Port = 0,
        StatusPath = Path.Combine(_run, "status.json"),
        ReplayLossAtEnrolment = lossAtEnrolment,
    }, NodePrivate, _effects, line => { lock (_log) _log.Add(line); });

    private NodeTelemetry Telemetry(CommandService commands) => new()
    {
        Build = new BuildInfo("1.2.3", "abc123", new string('e', 64)),
        Grant = Grant(),
        Commands = commands,
        Boots = 7,
        State = () => NodeState.Enrolled,
        Origin = () => "join",
        Mesh = () =>
        {
            var device = new WireGuardDevice { Name = "ppn0" };
            device.Peers.Add(new WireGuardPeer { PublicKey = new WireGuardKey(new byte[32]), LastHandshake = DateTimeOffset.UtcNow.AddSeconds(-30), ReceiveBytes = 1000, TransmitBytes = 2000 });
            device.Peers.Add(new WireGuardPeer { PublicKey = new WireGuardKey(Enumerable.Repeat((byte)1, 32).ToArray()) });
            return device;
        },
        Nics = () => [new NicIdentity("eth0", 0x14e4, 0x16b4, null, null, "tg3", "0000:02:00.0"), new NicIdentity("lo", null, null, null, null, null, null)],
        NicStatus = new SysfsNicStatus(_sysfs),
        IdentitySources = EntropySources.KernelCsprng | EntropySources.CpuRdrand,
        Sync = () => new Ppn.Mesh.Sync.SyncStatus("spoke", 12, 2, Ppn.Mesh.Sync.SyncStatus.Signed,
            new SortedDictionary<string, long>(StringComparer.Ordinal) { ["BadSetSignature"] = 1, ["NotNewer"] = 3 }),
    };

    private MetricsEndpoint StartEndpoint(NodeTelemetry telemetry, HoldingOptionsOverride? bounds = null) =>
        MetricsEndpoint.Start(IPAddress.Loopback, telemetry, line => { lock (_log) _log.Add(line); },
            MetricsEndpoint.DefaultOptions with
            {
                Port = 0,
                Device = "lo",
                MaxConnections = bounds?.MaxConnections ?? 16,
                HelloTimeout = bounds?.RequestTimeout ?? TimeSpan.FromSeconds(5),
            });

    private sealed record HoldingOptionsOverride(int? MaxConnections = null, TimeSpan? RequestTimeout = null);

    /// <summary>One raw HTTP exchange: what the client sent, everything the server answered until it closed.</summary>
    private static string Exchange(IPEndPoint endpoint, string request, IPAddress? source = null)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 20_000, SendTimeout = 20_000 };
        if (source is not null) client.Bind(new IPEndPoint(source, 0));
        client.Connect(endpoint);
        var answer = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            // A refused connection is accepted by the kernel and reset by the endpoint: the reset may come before the send.
            if (request.Length > 0) client.Send(Encoding.ASCII.GetBytes(request));
            int n;
            while ((n = client.Receive(buffer)) > 0) answer.Write(buffer, 0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
        }
        return Encoding.UTF8.GetString(answer.ToArray());
    }

    private static string Scrape(IPEndPoint endpoint, IPAddress? source = null) =>
        Exchange(endpoint, "GET /metrics HTTP/1.1\r\nHost: node\r\nUser-Agent: Prometheus/2.42.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n", source);

    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    [Fact]
    public void Scrape_shows_the_verdicts_intents_and_replay_state_of_the_commands_the_node_took()
    {
        using var commands = StartCommands();
        using var endpoint = StartEndpoint(Telemetry(commands));
        Send(commands, Seal(CommandIntent.Noop, 1));
        Send(commands, Seal(CommandIntent.Noop, 2));
        Send(commands, Seal(CommandIntent.Noop, 2)); // a replay
        var forged = Seal(CommandIntent.Reboot, 3);
        forged[^1] ^= 1;
        Send(commands, forged);
        Assert.True(Until(() => _effects.HealthProbes == 2 && commands.Journal.RejectedTotal == 2));

        var response = Scrape(endpoint.LocalEndPoint);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
        Assert.Contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", response);
        var body = Body(response);
        Assert.Contains("ppn_commands_total{verdict=\"accept\"} 2\n", body);
        Assert.Contains("ppn_commands_total{verdict=\"replay\"} 1\n", body);
        Assert.Contains("ppn_commands_total{verdict=\"bad-tag\"} 1\n", body);
        Assert.Contains("ppn_commands_accepted_total{intent=\"noop\"} 2\n", body);
        Assert.Contains("ppn_commands_accepted_total{intent=\"reboot\"} 0\n", body);
        Assert.Contains("ppn_command_outcomes_total{outcome=\"executed\"} 2\n", body);
        Assert.Contains("ppn_command_datagrams_total 4\n", body);
        Assert.Contains("ppn_command_replay_state_at_boot{state=\"ok\"} 1\n", body);
        Assert.Contains("ppn_command_replay_reserved_through 255\n", body);
        Assert.Contains("ppn_command_highest_accepted 2\n", body);
        Assert.Contains("ppn_node_id 42\n", body);
        Assert.Contains("ppn_enrolment_state{state=\"enrolled\"} 1\n", body);
        Assert.Contains("ppn_enrolment_info{origin=\"join\",address=\"10.8.0.42\",hub=\"192.0.2.1:51820\"} 1\n", body);
        Assert.Contains("ppn_build_info{version=\"1.2.3\",commit=\"abc123\",ppn_sha256=\"" + new string('e', 64) + "\"} 1\n", body);
        Assert.Contains("ppn_boots_total 7\n", body);
        Assert.Contains("ppn_nic_info{device=\"eth0\",driver=\"tg3\",pci_id=\"14e4:16b4\",pci_address=\"0000:02:00.0\"} 1\n", body);
        Assert.Contains("ppn_nic_speed_bytes{device=\"eth0\"} 125000000\n", body);
        Assert.Contains("ppn_nic_receive_crc_errors_total{device=\"eth0\"} 3\n", body);
        Assert.DoesNotContain("device=\"lo\"", body);
        Assert.Contains("ppn_mesh_latest_handshake_age_seconds{interface=\"ppn0\",public_key=\"" + Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray()) + "\"} +Inf\n", body);
        Assert.Contains("ppn_mesh_receive_bytes_total{interface=\"ppn0\",public_key=\"" + Convert.ToBase64String(new byte[32]) + "\"} 1000\n", body);
        Assert.Contains("ppn_identity_entropy_source{source=\"rdrand\"} 1\n", body);
        Assert.Contains("ppn_identity_entropy_source{source=\"hwrng\"} 0\n", body);
        Assert.Contains("ppn_telemetry_connections_accepted_total 1\n", body);
        Assert.Contains("ppn_scrape_collector_success{collector=\"nic\"} 1\n", body);
        Assert.Matches("(?m)^ppn_uptime_seconds [0-9.]+$", body);
        Assert.Contains("# TYPE ppn_sync_serial gauge\nppn_sync_serial 12\n", body);
        Assert.Contains("ppn_sync_peers 2\n", body);
        Assert.Contains("# TYPE ppn_sync_refusals_total counter\n", body);
        Assert.Contains("ppn_sync_refusals_total{reason=\"NotNewer\"} 3\n", body);
        Assert.Contains("ppn_sync_refusals_total{reason=\"BadSetSignature\"} 1\n", body);
    }

    [Fact]
    public async Task Promtool_accepts_the_real_output()
    {
        using var commands = StartCommands();
        using var endpoint = StartEndpoint(Telemetry(commands));
        Send(commands, Seal(CommandIntent.Noop, 1));
        Assert.True(Until(() => _effects.HealthProbes == 1));
        var body = Body(Scrape(endpoint.LocalEndPoint));

        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is not installed: run scripts/install-deps.sh (Debian package prometheus)");
        var start = new ProcessStartInfo(promtool!, ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(body);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(deadline.Token);
        var findings = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"promtool check metrics failed ({process.ExitCode}):\n{findings}\n--- output ---\n{body}");
        // Lint findings (naming, units, _total) are printed even when the exit code is 0 in some versions.
        Assert.True(findings.Trim().Length == 0, $"promtool findings:\n{findings}");
    }

    [Theory]
    [InlineData("POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n")]
    [InlineData("DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n")]
    [InlineData("GET /metrics/../etc HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n")]
    [InlineData("GET /metrics SPDY/3\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n")]
    [InlineData("GET /metrics?name[]=ppn_node_id HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\n")]
    public void Every_request_gets_one_bounded_answer(string request, string statusLine)
    {
        using var commands = StartCommands();
        using var endpoint = StartEndpoint(Telemetry(commands));
        Assert.StartsWith(statusLine, Exchange(endpoint.LocalEndPoint, request));
    }

    [Fact]
    public void Head_answers_headers_only()
    {
        using var commands = StartCommands();
        using var endpoint = StartEndpoint(Telemetry(commands));
        var response = Exchange(endpoint.LocalEndPoint, "HEAD /metrics HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
        Assert.EndsWith("\r\n\r\n", response);
    }

    [Fact]
    public void An_oversized_request_is_refused_and_a_silent_one_closed_at_its_deadline()
    {
        using var commands = StartCommands();
        // The oversized request is sent at once and meets the default deadline, which no loaded machine misses; only
        // the client that never finishes meets the short one, so the machine's speed does not change what it sees.
        using var endpoint = StartEndpoint(Telemetry(commands));
        using var strict = StartEndpoint(Telemetry(commands), new HoldingOptionsOverride(RequestTimeout: TimeSpan.FromMilliseconds(300)));
        var huge = "GET /metrics HTTP/1.1\r\nX-Junk: " + new string('a', 20_000) + "\r\n\r\n";
        Assert.StartsWith("HTTP/1.1 431 ", Exchange(endpoint.LocalEndPoint, huge));
        var clock = Stopwatch.StartNew();
        Assert.Equal("", Exchange(strict.LocalEndPoint, "GET /metr")); // never finishes its request: closed, no answer
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), "the request deadline closed the connection well before the client's own timeout");
    }

    /// <summary>Silent connections from <paramref name="source"/>, held open until disposed (a slowloris peer).</summary>
    private static List<Socket> Hold(IPEndPoint endpoint, IPAddress source, int count)
    {
        var held = new List<Socket>();
        for (int i = 0; i < count; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            held.Add(s);
            s.Bind(new IPEndPoint(source, 0));
            s.Connect(endpoint);
        }
        return held;
    }

    [Fact]
    public void A_source_beyond_its_share_is_refused_and_counted_while_another_source_is_served()
    {
        using var commands = StartCommands();
        var telemetry = Telemetry(commands);
        using var endpoint = StartEndpoint(telemetry, new HoldingOptionsOverride(RequestTimeout: TimeSpan.FromSeconds(30)));
        var greedy = IPAddress.Parse("127.0.0.1");
        var held = Hold(endpoint.LocalEndPoint, greedy, MetricsEndpoint.DefaultOptions.PerSourceMaxConnections);
        try
        {
            Assert.True(Until(() => telemetry.Endpoint!().Accepted == held.Count));
            Assert.Equal("", Exchange(endpoint.LocalEndPoint, "GET /metrics HTTP/1.1\r\n\r\n", greedy)); // beyond its share: reset
            Assert.True(Until(() => telemetry.Endpoint!().Refused == 1));
            var body = Body(Scrape(endpoint.LocalEndPoint, IPAddress.Parse("127.0.0.2")));
            Assert.Contains("ppn_telemetry_connections_refused_total 1\n", body);
            Assert.Contains("ppn_telemetry_connections_evicted_total 0\n", body);
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
    }

    [Fact]
    public void Slow_connections_from_several_sources_filling_the_cap_cannot_keep_the_scraper_out()
    {
        using var commands = StartCommands();
        var telemetry = Telemetry(commands);
        // Four sources, each at its share, fill the cap of 16 with connections that never send a request.
        using var endpoint = StartEndpoint(telemetry, new HoldingOptionsOverride(RequestTimeout: TimeSpan.FromSeconds(30)));
        var options = MetricsEndpoint.DefaultOptions;
        int sources = options.MaxConnections / options.PerSourceMaxConnections;
        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < sources; i++) held.AddRange(Hold(endpoint.LocalEndPoint, IPAddress.Parse($"127.0.0.{10 + i}"), options.PerSourceMaxConnections));
            Assert.True(Until(() => telemetry.Endpoint!().Accepted == options.MaxConnections));
            // The scraper's one connection is admitted; the oldest of a source holding the most is closed for it.
            var response = Scrape(endpoint.LocalEndPoint, IPAddress.Parse("127.0.0.2"));
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
            Assert.Contains("ppn_telemetry_connections_evicted_total 1\n", Body(response));
            Assert.Contains("ppn_telemetry_connections_refused_total 0\n", Body(response));
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
    }

    [NamespaceFact]
    public void The_endpoint_answers_on_ppn0_and_refuses_a_lan_host_that_routes_the_mesh_address_to_the_underlay()
    {
        // node: ppn0 (a veth standing in for WireGuard) with the mesh address, eth0 on the LAN. The hub's side of ppn0
        // scrapes; a LAN host routes 10.8.0.0/24 to the node's underlay address, which a weak-host kernel accepts.
        using var lab = new NamespaceLab("ppntel");
        var node = lab.AddNamespace("node");
        var hub = lab.AddNamespace("hub");
        var lan = lab.AddNamespace("lan");
        lab.AddVeth(node, "ppn0", hub, "mesh0", noDad: true);
        lab.AddVeth(node, "eth0", lan, "lan0", noDad: true);
        HostProcess.Run("ip", "-n", node, "addr", "add", "10.8.0.42/24", "dev", "ppn0");
        HostProcess.Run("ip", "-n", node, "addr", "add", "192.168.77.1/24", "dev", "eth0");
        HostProcess.Run("ip", "-n", hub, "addr", "add", "10.8.0.1/24", "dev", "mesh0");
        HostProcess.Run("ip", "-n", lan, "addr", "add", "192.168.77.2/24", "dev", "lan0");
        HostProcess.Run("ip", "-n", lan, "route", "add", "10.8.0.0/24", "via", "192.168.77.1");
        using var commands = StartCommands();
        var telemetry = Telemetry(commands);
        var address = Grant().Address;
        // The production bounds and device, as TelemetryIntake starts it on the grant's address.
        using var endpoint = NetworkNamespace.Run(NamespaceLab.PathOf(node), () => MetricsEndpoint.Start(address, telemetry, line => { lock (_log) _log.Add(line); }));
        var target = new IPEndPoint(address, MetricsEndpoint.DefaultPort);

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", NetworkNamespace.Run(NamespaceLab.PathOf(hub), () => Scrape(target)));
        var fromLan = NetworkNamespace.Run(NamespaceLab.PathOf(lan), () =>
        {
            try
            {
                return Scrape(target);
            }
            catch (SocketException e)
            {
                return e.SocketErrorCode.ToString();
            }
        });
        Assert.Equal(nameof(SocketError.ConnectionRefused), fromLan);
        Assert.Equal(1L, telemetry.Endpoint!().Accepted);
    }

    [Fact]
    public void A_failing_collector_costs_its_own_metrics_not_the_scrape()
    {
        using var commands = StartCommands();
        var telemetry = Telemetry(commands);
        var broken = new NodeTelemetry
        {
            Build = telemetry.Build, Grant = telemetry.Grant, Commands = commands,
            Mesh = () => throw new IOException("netlink: EPERM"),
        };
        var body = Encoding.UTF8.GetString(broken.Render());
        Assert.Contains("ppn_scrape_collector_success{collector=\"mesh\"} 0\n", body);
        Assert.Contains("ppn_scrape_collector_success{collector=\"commands\"} 1\n", body);
        Assert.DoesNotContain("ppn_mesh_up", body);
        Assert.Contains("ppn_commands_total{verdict=\"accept\"} 0\n", body);
    }

    [Fact]
    public void The_request_line_parser_never_throws_on_hostile_bytes()
    {
        var random = new Random(18);
        var buffer = new byte[96];
        for (int i = 0; i < 20_000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            // Half the cases look like a request line, so the parser gets past its first checks.
            if (i % 2 == 0 && length > 20) "GET /metrics HTTP/1.1"u8.CopyTo(buffer.AsSpan(random.Next(length - 20)));
            if (MetricsEndpoint.TryParseRequestLine(buffer.AsSpan(0, length), out var method, out var path))
            {
                Assert.DoesNotContain(' ', method);
                Assert.DoesNotContain('?', path);
            }
        }
        Assert.True(MetricsEndpoint.TryParseRequestLine("GET /metrics?x=1 HTTP/1.1"u8, out var m, out var p));
        Assert.Equal("GET", m);
        Assert.Equal("/metrics", p);
        Assert.False(MetricsEndpoint.TryParseRequestLine("GET  /metrics HTTP/1.1"u8, out _, out _));
        Assert.False(MetricsEndpoint.TryParseRequestLine("GET /metrics\u00ff HTTP/1.1"u8, out _, out _));
    }

    [Fact]
    public void A_replay_record_lost_and_rewritten_at_an_enrolment_in_this_run_shows_as_missing_in_status_and_metrics()
    {
        // The node had command state (epoch 3 recorded in PpnCommandEpoch) but the replay record is gone: the
        // enrolment's rule moves to epoch 4 and writes a valid record, which the listener then loads ok. The loss
        // must still reach the authority (commands.md §Lost replay state).
        var store = new UefiReplayStateStore(_efivarfs.OpenStore());
        store.Save(new ReplayState(3, 512));
        _efivarfs.OpenStore().Delete(UefiReplayStateStore.ReplayVariable);
        var commandState = new UefiCommandState(_efivarfs.OpenStore());
        Assert.Equal(ReplayEnrolmentOutcome.LostState, commandState.OnEnrolment(Grant(), out var moved));
        Assert.Equal(4, moved.Epoch);
        Assert.Equal(ReplayStateLoad.Missing, commandState.LossFoundAtEnrolment);

        using var commands = StartService(commandState.LossFoundAtEnrolment);
        Assert.Equal(ReplayStateLoad.Ok, commands.Verifier.StartupLoad);
        Assert.Equal(ReplayStateLoad.Missing, commands.ReplayStateAtBoot);
        using var endpoint = StartEndpoint(Telemetry(commands));
        var body = Body(Scrape(endpoint.LocalEndPoint));
        Assert.Contains("ppn_command_replay_state_at_boot{state=\"missing\"} 1\n", body);
        Assert.Contains("ppn_command_replay_state_at_boot{state=\"ok\"} 0\n", body);
        Assert.Contains("ppn_command_epoch 4\n", body);
        commands.Publish();
        Assert.Contains("\"replayStateAtBoot\": \"missing\"", File.ReadAllText(Path.Combine(_run, "status.json")));

        // A second enrolment in the same run finds the rewritten record and keeps it; the loss stays reported.
        Assert.Equal(ReplayEnrolmentOutcome.Kept, commandState.OnEnrolment(Grant(), out _));
        Assert.Equal(ReplayStateLoad.Missing, commandState.LossFoundAtEnrolment);
    }

    /// <summary>The command intake with telemetry beside it, on loopback, as the lifecycle drives it.</summary>
    private TelemetryIntake Intake(int port) => new(
        new CommandServiceIntake(grant => new CommandServiceSetup
        {
            Store = _efivarfs.OpenStore(),
            Grant = grant,
            AuthorityPublicKey = AuthorityPublic,
            BindAddress = IPAddress.Loopback,
            Port = 0,
            StatusPath = Path.Combine(_run, "status.json"),
        }, () => NodePrivate, () => _effects, line => { lock (_log) _log.Add(line); }),
        (_, commands) => Telemetry(commands),
        line => { lock (_log) _log.Add(line); },
        port, IPAddress.Loopback, "lo");

    [Fact]
    public void A_telemetry_port_that_cannot_be_bound_leaves_the_command_intake_running_and_is_bound_at_a_later_check()
    {
        ReplayEnrolment.Apply(new UefiReplayStateStore(_efivarfs.OpenStore()), 0, out _);
        var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen(1);
        int port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        using var running = Intake(port).Start(Grant());
        Assert.Null(running.Failure);
        Assert.Contains(_log, l => l.StartsWith("metrics endpoint not listening (", StringComparison.Ordinal));
        squatter.Dispose();
        Assert.Null(running.Failure); // the lifecycle's next check: the endpoint binds now
        Assert.Contains(_log, l => l == $"serving metrics on http://127.0.0.1:{port}/metrics");
        Assert.StartsWith("HTTP/1.1 200 OK", Scrape(new IPEndPoint(IPAddress.Loopback, port)));
    }

    [Fact]
    public void Docs_telemetry_md_lists_every_metric_family_the_node_writes_with_its_type()
    {
        using var commands = StartCommands();
        var body = Encoding.UTF8.GetString(Telemetry(commands).Render());
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "ppn.slnx"))) root = root.Parent;
        Assert.True(root is not null, $"no ppn.slnx above {AppContext.BaseDirectory}");
        var rows = File.ReadAllLines(Path.Combine(root!.FullName, "docs", "telemetry.md")).Where(l => l.StartsWith("| `ppn_", StringComparison.Ordinal)).ToList();
        var families = body.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')).ToList();
        Assert.NotEmpty(families);
        foreach (var f in families)
        {
            var (name, type) = (f[2], f[3]);
            var row = rows.FirstOrDefault(r => r.Split('|')[1].Contains($"`{name}`", StringComparison.Ordinal));
            Assert.True(row is not null, $"docs/telemetry.md has no row for {name}");
            Assert.True(row!.Split('|')[2].Trim() == type, $"docs/telemetry.md says {name} is a {row.Split('|')[2].Trim()}, the node writes a {type}");
            var documented = System.Text.RegularExpressions.Regex.Matches(row.Split('|')[3], "`([a-z_0-9]+)`").Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();
            var samples = body.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)).ToList();
            var written = samples.SelectMany(LabelNames).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            Assert.True(samples.Count == 0 || documented.SequenceEqual(written),
                $"docs/telemetry.md gives {name} the labels [{string.Join(", ", documented)}], the node writes [{string.Join(", ", written)}]");
        }
    }

    /// <summary>The label names of one sample line, <c>name{a="x",b="y \" z"} 1</c> → a, b (values may hold any escaped text).</summary>
    private static IEnumerable<string> LabelNames(string sample)
    {
        int i = sample.IndexOf('{', StringComparison.Ordinal);
        if (i < 0) yield break;
        i++;
        while (i < sample.Length && sample[i] != '}')
        {
            int eq = sample.IndexOf('=', i);
            yield return sample[i..eq];
            i = eq + 2; // past ="
            while (sample[i] != '"') i += sample[i] == '\\' ? 2 : 1;
            i++; // past the closing quote
            if (sample[i] == ',') i++;
        }
    }

    [Fact]
    public void Text_format_escapes_label_values_and_help_and_prints_special_floats_as_go_does()
    {
        var w = new PrometheusTextWriter();
        w.Family("ppn_test_value", MetricType.Gauge, "a \\ help\nline");
        w.Sample(double.PositiveInfinity, ("label", "quote \" backslash \\ newline \n"));
        w.Sample(double.NaN);
        w.Sample(0.25);
        w.Sample(-3);
        Assert.Equal("# HELP ppn_test_value a \\\\ help\\nline\n# TYPE ppn_test_value gauge\n" +
                     "ppn_test_value{label=\"quote \\\" backslash \\\\ newline \\n\"} +Inf\nppn_test_value NaN\nppn_test_value 0.25\nppn_test_value -3\n", w.ToString());
        Assert.Throws<InvalidOperationException>(() => w.Family("ppn_test_value", MetricType.Gauge, "again"));
        Assert.Throws<ArgumentException>(() => w.Family("9bad", MetricType.Gauge, "x"));
        w.Family("ppn_other", MetricType.Counter, "x");
        Assert.Throws<ArgumentException>(() => w.Sample(1, ("__reserved", "x")));
    }

    [Fact]
    public void The_boot_counter_counts_each_boot_in_its_uefi_variable()
    {
        var counter = new BootCounter(_efivarfs.OpenStore());
        Assert.Equal(1UL, counter.CountThisBoot(_ => { }));
        _efivarfs.Reboot();
        Assert.Equal(2UL, new BootCounter(_efivarfs.OpenStore()).CountThisBoot(_ => { }));
    }

    [Fact]
    public void The_stamped_version_is_the_assembly_informational_version()
    {
        string attribute = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var (version, commit) = BuildInfo.Stamped();
        Assert.Equal(attribute, attribute.Contains('+') ? $"{version}+{commit}" : version);
    }

    [Fact]
    public void Image_json_names_the_executable_digest_and_anything_else_is_unknown()
    {
        Directory.CreateDirectory(_run);
        var path = Path.Combine(_run, "image.json");
        File.WriteAllText(path, "{\"format\":1,\"ppnSha256\":\"" + new string('a', 64) + "\"}");
        Assert.Equal(new string('a', 64), BuildInfo.ReadPpnSha256(path));
        File.WriteAllText(path, "{\"ppnSha256\":\"zz\"}");
        Assert.Equal("unknown", BuildInfo.ReadPpnSha256(path));
        File.WriteAllText(path, "not json");
        Assert.Equal("unknown", BuildInfo.ReadPpnSha256(path));
        Assert.Equal("unknown", BuildInfo.ReadPpnSha256(Path.Combine(_run, "absent.json")));
    }
}
