using System.CommandLine;
using System.Globalization;
using Ppn.Genesis;
using Ppn.Formats;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;

namespace Ppn.Appliance.Cli;

/// <summary>`ppn genesis status`: identity, enrolment (checked against the pinned authority as the boot path does), and the state.</summary>
public static class GenesisVerb
{
    /// <param name="configPath">The node configuration holding the pinned authority keys.</param>
    /// <param name="holdingListenerUp">Whether the holding listener is up (default: a LISTEN socket on 9443 in /proc/net/tcp6).</param>
    public static Command Build(CliEnvironment environment, string configPath = NodeConfig.ImagePath, Func<bool>? holdingListenerUp = null)
    {
        holdingListenerUp ??= () => ProcNetTcp.IsListening(new HoldingOptions().Port);
        var command = new Command("genesis", "The Genesis Protocol on this node: identity, enrolment, state");
        var status = new Command("status", "Identity present?, enrolment (node id, address, hub, epoch), receipt verified against the pinned key, state: unenrolled, holding or enrolled");
        Verb.Run(status, (_, output) =>
        {
            var store = environment.OpenStore();
            AuthorityTrust? trust = null;
            string? configProblem = null;
            if (NodeConfig.TryLoad(configPath, out var config, out var errors))
            {
                trust = new AuthorityTrust(config.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()), config.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
            }
            else
            {
                configProblem = errors.Count > 0 ? errors[0].ToString() : $"{configPath} is invalid";
            }
            var s = GenesisStatus.Read(store, trust, holdingListenerUp());
            if (output.Json)
            {
                WriteJson(output, s, configPath, configProblem);
            }
            else
            {
                WriteText(output, s, configPath, configProblem);
            }
            return ExitCodes.Ok;
        });
        command.Subcommands.Add(status);
        return command;
    }

    private static string Name(GenesisState state) => state.ToString().ToLowerInvariant();

    private static string Issued(EnrolmentGrant g) =>
        DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(g.IssuedAt, 253402300799)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string ReceiptText(GenesisStatus s, string configPath, string? configProblem) => s.Receipt switch
    {
        ReceiptCheck.Verified => $"verified against the authority key pinned in {configPath}",
        ReceiptCheck.Unchecked => $"not checked: no pinned authority ({configProblem})",
        ReceiptCheck.Failed => $"NOT valid: {s.EnrolmentProblem} (the node will not use it)",
        _ => "-",
    };

    private static void WriteText(Output output, GenesisStatus s, string configPath, string? configProblem)
    {
        output.Line($"state:        {Name(s.State)}{s.State switch
        {
            GenesisState.Holding => " (self-genesis: waiting for a claim on TCP 9443)",
            GenesisState.Unenrolled => " (no usable enrolment, not holding)",
            _ => "",
        }}");
        output.Line($"identity:     {(s.PublicKeyBase64 is { } key ? $"present, public key {key}" : s.IdentityProblem is { } p ? $"DAMAGED: {p}" : "absent (genesis has not run)")}");
        if (!s.EnrolmentPresent)
        {
            output.Line("enrolment:    absent");
            return;
        }
        if (s.Grant is not { } g)
        {
            output.Line($"enrolment:    DAMAGED: {s.EnrolmentProblem}");
            return;
        }
        output.Line($"enrolment:    present (by {s.Origin.ToString()!.ToLowerInvariant()})");
        output.Line($"node id:      {g.NodeId}");
        output.Line($"address:      {g.Address}/{EnrolmentGrant.PrefixLength}");
        output.Line($"hub:          {EnrolmentGrant.HubAddress} at {g.HubEndpoint} key {Convert.ToBase64String(g.HubPublicKey)}");
        output.Line($"epoch:        {g.CommandKeyEpoch}");
        output.Line($"issued at:    {Issued(g)}");
        output.Line($"receipt:      {ReceiptText(s, configPath, configProblem)}");
    }

    private static void WriteJson(Output output, GenesisStatus s, string configPath, string? configProblem)
    {
        var g = s.Grant;
        var receipt = s.Receipt switch
        {
            ReceiptCheck.Verified => "verified",
            ReceiptCheck.Unchecked => "unchecked",
            ReceiptCheck.Failed => "invalid",
            _ => "none",
        };
        output.WriteJson(new GenesisStatusDocument(
            Name(s.State),
            s.HoldingListenerUp,
            new GenesisIdentityPart(s.PublicKeyBase64 is not null, s.PublicKeyBase64, s.IdentityProblem),
            new GenesisEnrolmentPart(
                s.EnrolmentPresent,
                g is null ? null : s.Origin.ToString()!.ToLowerInvariant(),
                g?.NodeId,
                g is null ? null : $"{g.Address}/{EnrolmentGrant.PrefixLength}",
                g is null ? null : EnrolmentGrant.HubAddress.ToString(),
                g?.HubEndpoint.ToString(),
                g is null ? null : Convert.ToBase64String(g.HubPublicKey),
                g?.CommandKeyEpoch,
                g is null ? null : Issued(g),
                receipt,
                s.EnrolmentProblem,
                s.Receipt == ReceiptCheck.Unchecked ? configProblem : null,
                configPath)),
            VerbJson.Greppable.GenesisStatusDocument);
    }
}
