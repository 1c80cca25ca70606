using System.CommandLine;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;

namespace Ppn.Appliance.Cli;

/// <summary>`ppn identity show|reset`: the node's genesis identity. The private key is never printed.</summary>
public static class IdentityVerb
{
    public static Command Build(CliEnvironment environment)
    {
        var command = new Command("identity", "The node's identity (X25519 keypair made at genesis, kept in UEFI NVRAM)");

        var show = new Command("show", "Show the node's public key (WireGuard base64) and how it was made; never the private key");
        Verb.Run(show, (_, output) =>
        {
            var store = environment.OpenStore();
            NodeIdentity? identity;
            try
            {
                identity = new IdentityStore(store, EntropyMixer.ForThisMachine()).TryLoad();
            }
            catch (IdentityException e)
            {
                throw new CliError(ExitCodes.Integrity, e.Message, e);
            }
            if (identity is null)
            {
                throw new CliError(ExitCodes.NotFound, $"no identity in {store.Location}: this node has not run genesis yet (boot it)");
            }
            using (identity)
            {
                if (output.Json)
                {
                    output.WriteJson(new IdentityDocument(identity.PublicKeyBase64, identity.Sources.ToString(), IdentityStore.Variable.FileName),
                        VerbJson.Greppable.IdentityDocument);
                }
                else
                {
                    output.Line($"public key: {identity.PublicKeyBase64}");
                    output.Line($"entropy:    {identity.Sources}");
                    output.Line($"stored in:  {IdentityStore.Variable.FileName}");
                }
            }
            return ExitCodes.Ok;
        });

        var confirm = new Option<bool>("--confirm") { Description = "Required: the node gets a NEW identity at its next boot and must be enrolled again" };
        var reset = new Command("reset", "Delete the stored identity (after investigating a corrupt one); the next boot makes a new one");
        reset.Options.Add(confirm);
        Verb.Run(reset, (parse, output) =>
        {
            if (!parse.GetValue(confirm))
            {
                throw new CliError(ExitCodes.BadInput, "identity reset destroys the node's key and its mesh enrolment; add --confirm if that is what you want");
            }
            bool removed = new IdentityStore(environment.OpenStore(), EntropyMixer.ForThisMachine()).Reset();
            output.Line(removed ? "identity deleted; the next boot runs genesis again" : "no identity was stored; nothing to do");
            return ExitCodes.Ok;
        }, json: false);

        command.Subcommands.Add(show);
        command.Subcommands.Add(reset);
        return command;
    }
}
