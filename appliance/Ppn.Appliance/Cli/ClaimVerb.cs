using System.CommandLine;
using System.Globalization;
using System.Net;
using Ppn.Genesis;
using Ppn.Genesis.Claim;
using Ppn.Genesis.Join;

namespace Ppn.Appliance.Cli;

/// <summary>
/// `ppn claim ADDRESS --credential FILE --mesh-address 10.8.0.N`: the field technician claims a holding node
/// (self-genesis, banner on TCP 9443) with the authority credential os-network-admin issued. The protocol is the
/// genesis library's <see cref="ClaimClient"/>; this verb only parses, calls and prints.
/// </summary>
public static class ClaimVerb
{
    public static Command Build(Func<DateTimeOffset>? clock = null)
    {
        clock ??= () => DateTimeOffset.UtcNow;
        var target = new Argument<string>("address") { Description = "The holding node: fe80::…%IFACE (link-local with its interface), [fe80::…%IFACE]:PORT, or an IPv4 address" };
        var credentialOption = new Option<string>("--credential", "-c") { Description = "The authority credential file (JSON, mode 0600; docs/protocol/genesis.md §Authority credential)", Required = true };
        var meshAddress = new Option<string>("--mesh-address") { Description = "The node's address to grant in 10.8.0.0/24 (10.8.0.2 to 10.8.0.254)", Required = true };
        var nodeId = new Option<ulong?>("--node-id") { Description = $"The node ID to grant, 0..{Genesis.Enrolment.EnrolmentGrant.MaxNodeId} (default: the mesh address's last number)" };
        var port = new Option<int>("--port") { Description = "The holding port", DefaultValueFactory = _ => ClaimClient.DefaultPort };
        var timeout = new Option<int>("--timeout") { Description = "Seconds for the connection and for each step of the exchange", DefaultValueFactory = _ => 10 };

        var command = new Command("claim", "Claim a holding node for the mesh (technician): authenticate as the authority, grant its address, wait for the node to store it");
        command.Arguments.Add(target);
        command.Options.Add(credentialOption);
        command.Options.Add(meshAddress);
        command.Options.Add(nodeId);
        command.Options.Add(port);
        command.Options.Add(timeout);
        Verb.Run(command, (parse, output) =>
        {
            if (!ClaimTarget.TryParse(parse.GetValue(target)!, parse.GetValue(port), out var node, out var targetError))
            {
                throw new CliError(ExitCodes.BadInput, targetError);
            }
            var text = parse.GetValue(meshAddress)!;
            if (!IPAddress.TryParse(text, out var address) || address.GetAddressBytes() is not [10, 8, 0, >= 2 and <= 254])
            {
                throw new CliError(ExitCodes.BadInput, $"--mesh-address {text} is not a node address in 10.8.0.0/24 (10.8.0.2 to 10.8.0.254; .1 is the hub)");
            }
            if (parse.GetValue(nodeId) is > Genesis.Enrolment.EnrolmentGrant.MaxNodeId and var tooLarge)
            {
                throw new CliError(ExitCodes.BadInput, $"--node-id {tooLarge} is out of range: node ids are 0..{Genesis.Enrolment.EnrolmentGrant.MaxNodeId} (command packets address 14 bits)");
            }
            int seconds = parse.GetValue(timeout);
            if (seconds is < 1 or > 300) throw new CliError(ExitCodes.BadInput, "--timeout is 1 to 300 seconds");
            var path = parse.GetValue(credentialOption)!;
            if (!AuthorityCredential.TryLoad(path, out var credential, out var credentialError))
            {
                throw new CliError(File.Exists(path) || Directory.Exists(path) ? ExitCodes.BadInput : ExitCodes.NotFound, credentialError);
            }
            using (credential)
            {
                ulong id = parse.GetValue(nodeId) ?? address.GetAddressBytes()[3];
                ulong issuedAt = (ulong)clock().ToUnixTimeSeconds();
                var timeouts = new GenesisTimeouts { Connect = TimeSpan.FromSeconds(seconds), Frame = TimeSpan.FromSeconds(seconds) };
                using var overall = new CancellationTokenSource(TimeSpan.FromSeconds(seconds * 5));
                var result = ClaimClient.ClaimAsync(node, credential, key => credential.Grant(key, id, address, issuedAt), timeouts, overall.Token)
                    .GetAwaiter().GetResult();
                if (result.OutcomeUnknown)
                {
                    throw new CliError(ExitCodes.OutcomeUnknown, $"claim of {ClaimClient.Describe(node)}: outcome unknown ({result.Failure}); the node may have stored the enrolment: check with `ppn genesis status` on its console, or run this `ppn claim` again (a node enrolled by this authority says so)");
                }
                if (!result.Succeeded)
                {
                    throw new CliError(ExitCodeFor(result), $"claim of {ClaimClient.Describe(node)} failed: {result.Failure}");
                }
                Print(output, node, result);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static int ExitCodeFor(ClaimResult result) => result switch
    {
        { EnrolledBy: not null } => ExitCodes.Conflict, // enrolled by another authority
        { BannerNodeKey: null, BannerError: not null } => ExitCodes.Integrity,
        { BannerNodeKey: null } => ExitCodes.Unavailable, // no connection, no banner, not a PPN node
        { Exchange: null } => ExitCodes.Integrity, // the banner's key is not a usable X25519 key
        { Exchange.Refusal: ClaimRefusal.NotPinned or ClaimRefusal.BadProof } => ExitCodes.Integrity,
        { Exchange.Refusal: ClaimRefusal.AlreadyClaimed } => ExitCodes.Conflict,
        { Exchange.Refusal: not null } => ExitCodes.Unavailable, // busy, or a replay: try again
        { Exchange.Unanswered: true } => ExitCodes.Unavailable, // dropped before the handshake on every attempt (a flood?)
        { Exchange.Ack: AckStatus.Rejected } => ExitCodes.Integrity,
        { Exchange.Ack: AckStatus.StorageFailed } => ExitCodes.Failed,
        { Exchange.Grant: null } => ExitCodes.Integrity, // the handshake did not authenticate, or proved another key than the banner's
        _ => ExitCodes.Failed,
    };

    private static void Print(Output output, IPEndPoint node, ClaimResult result)
    {
        if (result.Exchange?.Grant is not { } g)
        {
            // The enrolled banner named this authority: an earlier claim completed (its ack may have been lost).
            if (output.Json)
            {
                output.WriteJson(new ClaimDocument(ClaimClient.Describe(node), Convert.ToBase64String(result.BannerNodeKey!),
                    Convert.ToBase64String(result.EnrolledBy!), null, null, null, null, null, null, null, "already-enrolled"), VerbJson.Greppable.ClaimDocument);
                return;
            }
            output.Line($"already claimed {ClaimClient.Describe(node)}");
            output.Line($"node key:     {Convert.ToBase64String(result.BannerNodeKey!)}");
            output.Line($"enrolled by:  {Convert.ToBase64String(result.EnrolledBy!)} (this credential)");
            output.Line("node ack:     already enrolled (the node says it stored this authority's claim; `ppn genesis status` on it shows the grant)");
            return;
        }
        var issued = DateTimeOffset.FromUnixTimeSeconds((long)g.IssuedAt).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        if (output.Json)
        {
            output.WriteJson(new ClaimDocument(ClaimClient.Describe(node), Convert.ToBase64String(result.BannerNodeKey!), null,
                g.NodeId, $"{g.Address}/{Genesis.Enrolment.EnrolmentGrant.PrefixLength}", g.HubEndpoint.ToString(),
                Convert.ToBase64String(g.HubPublicKey), g.CommandKeyEpoch, issued, Convert.ToBase64String(g.Receipt),
                result.AlreadyEnrolled ? "already-enrolled" : "persisted"), VerbJson.Greppable.ClaimDocument);
            return;
        }
        output.Line($"claimed {ClaimClient.Describe(node)}");
        output.Line($"node key:     {Convert.ToBase64String(result.BannerNodeKey!)}");
        output.Line($"node id:      {g.NodeId}");
        output.Line($"mesh address: {g.Address}/{Genesis.Enrolment.EnrolmentGrant.PrefixLength}");
        output.Line($"hub:          {g.HubEndpoint} key {Convert.ToBase64String(g.HubPublicKey)}");
        output.Line($"epoch:        {g.CommandKeyEpoch}");
        output.Line($"issued at:    {issued}");
        output.Line($"receipt:      {Convert.ToBase64String(g.Receipt)}");
        output.Line(result.AlreadyEnrolled
            ? "node ack:     lost, but the node now says it is enrolled by this authority (it brings ppn0 up now)"
            : "node ack:     persisted (the enrolment is in the node's UEFI variables; it brings ppn0 up now)");
    }
}
