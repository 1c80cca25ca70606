using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ppn.Appliance.Commands;
using Ppn.Appliance.Lifecycle;
using Ppn.Appliance.Testing;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;
using Ppn.Linux.Netlink;
using Ppn.UefiVars.Testing;

using static Ppn.Appliance.Tests.CommandTestKeys;
using static Ppn.Appliance.Tests.CommandTraffic;

namespace Ppn.Appliance.Tests;

/// <summary>
/// The node's lifecycle with the real command service (UDP 8090 sockets, replay state in an efivarfs twin) inside a
/// network namespace the test makes, where a veth named ppn0 holds the mesh addresses (the host has no WireGuard module,
/// so ppn0 itself is the twin): a rescan that moves the node to another address stops the old listener before
/// the new one starts, and the replay state crosses the re-enrolment.
/// </summary>
public sealed class LifecycleNamespaceTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static int s_counter;

    private readonly string _ns = $"ppnlife-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
    private readonly TempDirEfivarfs _efivarfs = new();
    private readonly string _run = Directory.CreateTempSubdirectory("ppn-life-run-").FullName;
    private readonly List<string> _log = [];
    private readonly RecordingEffects _effects = new();

    public void Dispose()
    {
        Ip("netns", "del", _ns);
        _efivarfs.Dispose();
        Directory.Delete(_run, recursive: true);
    }

    private static void Ip(params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(10_000), $"ip {string.Join(' ', args)} did not finish");
        Assert.True(p.ExitCode == 0 || args[0..2].SequenceEqual(["netns", "del"]), $"ip {string.Join(' ', args)}: {err.Result}");
    }

    private bool Logged(string text)
    {
        lock (_log) return _log.Any(l => l.Contains(text, StringComparison.Ordinal));
    }

    [NamespaceFact]
    public void A_rescan_to_a_new_address_moves_the_listener_and_the_replay_state_crosses_the_re_enrolment()
    {
        Ip("netns", "add", _ns);
        Ip("-n", _ns, "link", "set", "lo", "up");
        // A veth end stands in for ppn0 (the host kernel has neither WireGuard nor the dummy module).
        Ip("-n", _ns, "link", "add", "ppn0", "type", "veth", "peer", "name", "ppn0-peer");
        Ip("-n", _ns, "link", "set", "ppn0-peer", "up");
        Ip("-n", _ns, "addr", "add", "10.8.0.2/24", "dev", "ppn0");
        Ip("-n", _ns, "addr", "add", "10.8.0.3/24", "dev", "ppn0");
        Ip("-n", _ns, "link", "set", "ppn0", "up");
        var path = NetworkNamespace.PathOf(_ns);

        var journal = new LifecycleJournal();
        var rescan = new RescanTwin(journal);
        rescan.Results.Enqueue(Grant("10.8.0.3"));
        var statusPath = Path.Combine(_run, "status.json");
        var intake = new CommandServiceIntake(grant => new CommandServiceSetup
        {
            Store = _efivarfs.OpenStore(),
            Grant = grant,
            AuthorityPublicKey = AuthorityPublic,
            StatusPath = statusPath,
        }, () => NodePrivate, () => _effects, line => { lock (_log) _log.Add(line); });
        using var signals = new WaitHandleSignals();
        var lifecycle = new NodeLifecycle(new GenesisTwin(journal, new Enrolment(Grant("10.8.0.2"), MadeThisRun: true, "join")), rescan,
            new UefiCommandState(_efivarfs.OpenStore()), new MeshTwin(journal), intake, signals,
            (area, message) => { lock (_log) _log.Add($"{area}: {message}"); });
        using var stop = new CancellationTokenSource();
        var node = new Thread(() => NetworkNamespace.Run(path, () => lifecycle.Run(stop.Token), TimeSpan.FromMinutes(5))) { IsBackground = true };
        node.Start();
        using var sender = NetworkNamespace.Run(path, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        var oldAddress = new IPEndPoint(IPAddress.Parse("10.8.0.2"), CommandListenerOptions.DefaultPort);
        var newAddress = new IPEndPoint(IPAddress.Parse("10.8.0.3"), CommandListenerOptions.DefaultPort);
        try
        {
            Assert.True(SpinWait.SpinUntil(() => Logged("listening on 10.8.0.2:8090"), Bound), "no listener on the first grant's address");
            var first = Seal(CommandIntent.Noop, 1);
            sender.SendTo(first, oldAddress);
            Assert.True(SpinWait.SpinUntil(() => _effects.HealthProbes == 1, Bound), "the first noop was not executed");

            signals.RequestRescan();
            Assert.True(SpinWait.SpinUntil(() => Logged("listening on 10.8.0.3:8090"), Bound), "the listener did not follow the grant");
            // The old address is served no more: its port is free in the namespace.
            Assert.True(NetworkNamespace.Run(path, () => CanBind(oldAddress)), "something still listens on the old address");
            Assert.Contains("commands: replay state kept across the re-enrolment: epoch 0, floor 255 (grant epoch 0)", _log);
            sender.SendTo(first, newAddress); // the captured noop, replayed to the new address
            sender.SendTo(Seal(CommandIntent.Noop, 256), newAddress); // the authority's next batch
            Assert.True(SpinWait.SpinUntil(() => _effects.HealthProbes == 2 && intake.Current!.Journal.RejectedTotal == 1, Bound));
            Assert.Equal(CommandVerdict.Replay, intake.Current!.Journal.Rejected()[0].Verdict);
        }
        finally
        {
            stop.Cancel();
            Assert.True(node.Join(Bound), "the lifecycle did not stop");
        }
        Assert.Equal(NodeState.Stopped, lifecycle.State);
        Assert.True(NetworkNamespace.Run(path, () => CanBind(newAddress)), "the listener outlived the lifecycle");
    }

    private static bool CanBind(IPEndPoint endpoint)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
