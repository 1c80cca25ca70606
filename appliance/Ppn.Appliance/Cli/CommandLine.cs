using System.CommandLine;
using Ppn.UefiVars;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.Appliance.Cli;

/// <summary>The `ppn` command tree: verbs grouped by noun, like talosctl and wg.</summary>
public static class CommandLine
{
    public static RootCommand Build(CliEnvironment? environment = null)
    {
        environment ??= CliEnvironment.System;
        var root = new RootCommand($"""
            ppn — PPN node appliance: the node's PID 1 and the field technician's tool.

            {ExitCodes.HelpText}
            """);
        root.Options.Add(Verb.Verbose);
        root.Subcommands.Add(VersionVerb.Build());
        root.Subcommands.Add(InitVerb.Build());
        root.Subcommands.Add(IdentityVerb.Build(environment));
        root.Subcommands.Add(UefiVerb.Build(environment));
        root.Subcommands.Add(NicVerb.Build());
        root.Subcommands.Add(MeshVerb.Build(new Ppn.Mesh.Links.RtnetlinkLinkConfigurator(), new StoredEnrolment(environment.OpenStore)));
        root.Subcommands.Add(PacketVerb.Build());
        root.Subcommands.Add(StatusVerb.Build());
        root.Subcommands.Add(GenesisVerb.Build(environment));
        root.Subcommands.Add(ClaimVerb.Build());
        foreach (var command in environment.ExtraCommands)
        {
            root.Subcommands.Add(command);
        }
        Ppn.Cli.CompletionVerb.AddTo(root, "ppn");
        foreach (var verb in root.Subcommands)
        {
            ListExitCodes(verb);
        }
        Ppn.Cli.ToolParser.ListFirstParagraphs(root);
        return root;
    }

    /// <summary>Every verb's help ends with the exit-code table, as `ppn --help` does: a script author reads one page.</summary>
    private static void ListExitCodes(Command command)
    {
        if (command.Subcommands.Count == 0)
        {
            if (!command.Hidden && command.Description?.Contains("Exit codes:", StringComparison.Ordinal) != true)
            {
                command.Description = $"{command.Description}\n\n{ExitCodes.HelpText}";
            }
            return;
        }
        foreach (var sub in command.Subcommands)
        {
            ListExitCodes(sub);
        }
    }

    /// <summary>Parses with the PPN tools' conventions (no response files: `@PATH` is a value, see <see cref="Ppn.Cli.ToolParser"/>).</summary>
    public static ParseResult Parse(RootCommand root, IReadOnlyList<string> args) => Ppn.Cli.ToolParser.Parse(root, args);

    /// <summary>Parses and runs; a usage error under --json is a JSON error object too.</summary>
    public static int Run(RootCommand root, IReadOnlyList<string> args, InvocationConfiguration? configuration = null) =>
        Ppn.Cli.ToolParser.Run(root, args, "ppn", configuration ?? new InvocationConfiguration());
}

/// <summary>Where the CLI finds the OS: the real node by default, temp directories in tests.</summary>
public sealed record CliEnvironment(string EfivarfsRoot, Func<IVariableStore> OpenStore, IReadOnlyList<Command> ExtraCommands)
{
    public static CliEnvironment System { get; } = Real(EfivarfsStore.DefaultRoot);

    public static CliEnvironment Real(string efivarfsRoot) => new(efivarfsRoot, () =>
    {
        var store = new EfivarfsStore(efivarfsRoot);
        store.EnsureAvailable();
        return store;
    }, []);
}
