using System.CommandLine;
using System.Globalization;
using Ppn.Mesh;
using Ppn.Mesh.Links;
using Ppn.Mesh.Sync;
using Ppn.Mesh.WireGuard;

namespace Ppn.Appliance.Cli;

/// <summary>`ppn mesh status|showconf|up|down`: the ppn0 WireGuard interface, like `wg show` and `wg-quick`.</summary>
public static class MeshVerb
{
    private static readonly Option<string> Interface = new("--interface", "-i")
    {
        Description = "WireGuard interface",
        DefaultValueFactory = _ => MeshConfig.DefaultInterface,
    };

    private static readonly Option<string> Backend = new("--backend")
    {
        Description = "auto (userspace when a wireguard-go UAPI socket exists, else the kernel module), kernel, or userspace",
        DefaultValueFactory = _ => "auto",
    };

    public static Command Build(ILinkConfigurator links, IEnrolmentSource enrolment)
    {
        Backend.AcceptOnlyFromAmong("auto", "kernel", "userspace");
        var mesh = new Command("mesh", "The ppn0 WireGuard mesh interface: status, configuration, bring-up");
        mesh.Subcommands.Add(Status(links, enrolment));
        mesh.Subcommands.Add(ShowConf(links));
        mesh.Subcommands.Add(Up(links));
        mesh.Subcommands.Add(Down(links));
        return mesh;
    }

    private static IWireGuard Open(ParseResult parse, ILinkConfigurator links, string name) =>
        WireGuardBackends.Open(name, parse.GetValue(Backend) switch
        {
            "kernel" => WireGuardBackendChoice.Kernel,
            "userspace" => WireGuardBackendChoice.Userspace,
            _ => WireGuardBackendChoice.Auto,
        }, links);

    private static Command Status(ILinkConfigurator links, IEnrolmentSource enrolment)
    {
        var command = new Command("status", "Interface, public key, listen port, peers with endpoint, allowed IPs, latest handshake, transfer; and the enrolment");
        command.Options.Add(Interface);
        command.Options.Add(Backend);
        Verb.Run(command, (parse, output) =>
        {
            var name = parse.GetValue(Interface)!;
            var wg = Open(parse, links, name);
            using var device = wg.Get(name) ?? throw new CliError(ExitCodes.NotFound,
                $"no WireGuard interface {name} ({wg.Backend} backend); bring it up with `ppn mesh up --config FILE`");
            var link = links.Get(name);
            var now = DateTimeOffset.UtcNow;
            // The running sync agent's status (relay or spoke), when one runs on this node.
            var sync = SyncStatusFile.TryRead(SyncStatusFile.PathFromEnvironment(), out _);
            if (output.Json)
            {
                output.WriteJson(new MeshStatusDocument(
                    name,
                    wg.Backend,
                    device.PublicKey is WireGuardKey pub ? pub.ToBase64() : null,
                    device.ListenPort,
                    link?.Mtu,
                    link?.Up,
                    enrolment.Describe(),
                    sync,
                    [.. device.Peers.Select(peer => new MeshPeerPart(
                        peer.PublicKey.ToBase64(),
                        peer.Endpoint is not null ? EndpointText.Format(peer.Endpoint) : null,
                        [.. peer.AllowedIPs.Select(ip => ip.ToString())],
                        peer.LastHandshake is DateTimeOffset hs ? hs.ToString("O", CultureInfo.InvariantCulture) : null,
                        peer.ReceiveBytes,
                        peer.TransmitBytes,
                        peer.PersistentKeepaliveSeconds))]),
                    VerbJson.Greppable.MeshStatusDocument);
            }
            else
            {
                output.Line($"interface: {name}");
                output.Line($"  backend: {wg.Backend}");
                output.Line($"  public key: {device.PublicKey?.ToBase64() ?? "(none)"}");
                output.Line("  private key: (hidden)");
                output.Line($"  listening port: {device.ListenPort}");
                if (link is not null) output.Line($"  mtu: {link.Mtu}, {(link.Up ? "up" : "down")}");
                output.Line($"  enrolment: {enrolment.Describe()}");
                if (sync is not null) output.Line($"  sync: {SyncLine(sync)}");
                foreach (var peer in device.Peers)
                {
                    output.Line();
                    output.Line($"peer: {peer.PublicKey.ToBase64()}");
                    if (peer.Endpoint is not null) output.Line($"  endpoint: {EndpointText.Format(peer.Endpoint)}");
                    output.Line($"  allowed ips: {(peer.AllowedIPs.Count == 0 ? "(none)" : string.Join(", ", peer.AllowedIPs))}");
                    output.Line($"  latest handshake: {(peer.LastHandshake is DateTimeOffset hs ? Ago(now - hs) : "never")}");
                    output.Line($"  transfer: {Bytes(peer.ReceiveBytes)} received, {Bytes(peer.TransmitBytes)} sent");
                    if (peer.PersistentKeepaliveSeconds != 0) output.Line($"  persistent keepalive: every {peer.PersistentKeepaliveSeconds} seconds");
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command ShowConf(ILinkConfigurator links)
    {
        var showPrivate = new Option<bool>("--show-private-key") { Description = "Include the interface's private key (it is withheld otherwise)" };
        var command = new Command("showconf", "The running configuration in wg-quick format; the private key only with --show-private-key");
        command.Options.Add(Interface);
        command.Options.Add(Backend);
        command.Options.Add(showPrivate);
        Verb.Run(command, (parse, output) =>
        {
            var name = parse.GetValue(Interface)!;
            var wg = Open(parse, links, name);
            using var device = wg.Get(name) ?? throw new CliError(ExitCodes.NotFound, $"no WireGuard interface {name} ({wg.Backend} backend)");
            var link = links.Get(name);
            var addresses = link is null ? [] : links.Addresses(link.Index);
            output.Out.Write(MeshConfigFile.Format(device, addresses, link?.Mtu, forwarding: link is not null && links.GetForwarding(name), parse.GetValue(showPrivate)));
            return ExitCodes.Ok;
        }, json: false);
        return command;
    }

    private static Command Up(ILinkConfigurator links)
    {
        var config = new Option<string>("--config", "-c")
        {
            Description = "Configuration file (wg-quick format with Address, MTU and the ppn key Forwarding; see docs/mesh.md)",
            Required = true,
        };
        var command = new Command("up", "Bring the interface to the configuration: create, key, peers, address, MTU, up, routes. Idempotent; repairs drift");
        command.Options.Add(Interface);
        command.Options.Add(Backend);
        command.Options.Add(config);
        Verb.Run(command, (parse, output) =>
        {
            var name = parse.GetValue(Interface)!;
            var path = parse.GetValue(config)!;
            if (Ppn.Linux.FileNode.Stat(path).Kind == Ppn.Linux.FileNodeKind.Missing) throw new CliError(ExitCodes.NotFound, $"config file {path} does not exist");
            MeshConfig loaded;
            try
            {
                loaded = MeshConfigFile.Load(path);
            }
            catch (Exception e) when (Ppn.Linux.FileErrors.IsFileError(e) && e is not Ppn.Linux.SyscallException)
            {
                throw new CliError(e is UnauthorizedAccessException ? ExitCodes.PermissionDenied : ExitCodes.Failed, $"cannot read {Ppn.Linux.FileErrors.Describe(e, path)}", e);
            }
            using var mesh = loaded;
            var report = new MeshBringUp(Open(parse, links, name), links).Up(name, mesh);
            if (output.Json)
            {
                output.WriteJson(new MeshUpDocument(report.Interface, report.Backend, report.Changed, report.Changes), VerbJson.Greppable.MeshUpDocument);
            }
            else
            {
                output.Line(report.Changed ? $"{name}: {report.Changes.Count} change(s) ({report.Backend} backend)" : $"{name}: already up to date ({report.Backend} backend)");
                foreach (var c in report.Changes) output.Line($"  {c}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Down(ILinkConfigurator links)
    {
        var command = new Command("down", "Remove the interface (a userspace daemon exits with it). Idempotent");
        command.Options.Add(Interface);
        Verb.Run(command, (parse, output) =>
        {
            var name = parse.GetValue(Interface)!;
            bool removed = new MeshBringUp(new UapiWireGuard(), links).Down(name);
            output.Line(removed ? $"{name}: removed" : $"{name}: not present");
            return ExitCodes.Ok;
        }, json: false);
        return command;
    }

    /// <summary>"relay, serial 7 (roster), 3 peer(s), refused: NotNewer 1, RosterTorn 1" (zero counts left out).</summary>
    public static string SyncLine(SyncStatus sync)
    {
        var refused = sync.Refusals.Where(r => r.Value != 0).Select(r => $"{r.Key} {r.Value}").ToList();
        return $"{sync.Role}, serial {sync.Serial} ({sync.Source}), {sync.Peers} peer(s), refused: {(refused.Count == 0 ? "none" : string.Join(", ", refused))}";
    }

    private static string Ago(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        var parts = new List<string>();
        if (span.Days > 0) parts.Add($"{span.Days} day{(span.Days == 1 ? "" : "s")}");
        if (span.Hours > 0) parts.Add($"{span.Hours} hour{(span.Hours == 1 ? "" : "s")}");
        if (span.Minutes > 0) parts.Add($"{span.Minutes} minute{(span.Minutes == 1 ? "" : "s")}");
        parts.Add($"{span.Seconds} second{(span.Seconds == 1 ? "" : "s")}");
        return string.Join(", ", parts) + " ago";
    }

    private static string Bytes(ulong n) => n switch
    {
        < 1024 => $"{n} B",
        < 1024 * 1024 => $"{n / 1024.0:0.00} KiB",
        < 1024UL * 1024 * 1024 => $"{n / (1024.0 * 1024):0.00} MiB",
        _ => $"{n / (1024.0 * 1024 * 1024):0.00} GiB",
    };
}
