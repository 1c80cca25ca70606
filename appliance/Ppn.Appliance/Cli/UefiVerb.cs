using System.CommandLine;
using Ppn.UefiVars;
using Ppn.UefiVars.Conformance;
using Ppn.UefiVars.Values;

namespace Ppn.Appliance.Cli;

/// <summary>`ppn uefi list|get|set|rm|selftest`: the node's UEFI variables through efivarfs.</summary>
public static class UefiVerb
{
    private const string NameHelp = "Variable as Name-GUID, GUID-Name (efivar's form) or a bare Name (then --vendor, default: PPN's vendor GUID)";

    public static Command Build(CliEnvironment environment)
    {
        var command = new Command("uefi", "UEFI variables (efivarfs): list, read, write, delete, self-test");
        command.Subcommands.Add(List(environment));
        command.Subcommands.Add(Get(environment));
        command.Subcommands.Add(Set(environment));
        command.Subcommands.Add(Remove(environment));
        command.Subcommands.Add(SelfTest(environment));
        return command;
    }

    private static readonly Option<string?> Vendor = new("--vendor")
    {
        Description = "Vendor GUID for a bare variable name (default: PPN's own, " + VariableName.PpnVendor.ToString("D") + "); 'global' = EFI global variables",
    };

    private static Command List(CliEnvironment environment)
    {
        var ppnOnly = new Option<bool>("--ppn") { Description = "Only the appliance's own variables (PPN vendor GUID)" };
        var command = new Command("list", "List variables with their attributes and sizes");
        command.Options.Add(ppnOnly);
        Verb.Run(command, (parse, output) =>
        {
            var store = environment.OpenStore();
            var rows = new List<(VariableName Name, VariableAttributes Attributes, int Size)>();
            foreach (var name in store.List())
            {
                if (parse.GetValue(ppnOnly) && name.Vendor != VariableName.PpnVendor)
                {
                    continue;
                }
                var variable = store.TryRead(name);
                if (variable is not null)
                {
                    rows.Add((name, variable.Attributes, variable.Data.Length));
                    ZeroIfSecret(variable);
                }
            }
            if (output.Json)
            {
                output.WriteJson(new UefiListDocument(store.Location, [.. rows.Select(row => new UefiVariablePart(row.Name.Name, row.Name.Vendor.ToString("D"),
                    VariableAttributeNames.Format(row.Attributes), (uint)row.Attributes, row.Size, SecretVariables.IsSecret(row.Name)))]),
                    VerbJson.Greppable.UefiListDocument);
            }
            else
            {
                output.Line($"{"NAME",-40} {"VENDOR",-36} {"ATTRIBUTES",-12} {"SIZE",6}");
                foreach (var row in rows)
                {
                    output.Line($"{row.Name.Name,-40} {row.Name.Vendor:D} {VariableAttributeNames.Format(row.Attributes),-12} {row.Size,6}");
                }
                output.Line($"{rows.Count} variable(s) in {store.Location}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Get(CliEnvironment environment)
    {
        var name = new Argument<string>("variable") { Description = NameHelp };
        var format = new Option<string>("--format")
        {
            Description = "Value format: hexdump (default), hex, base64, text (UTF-8), ucs2 (firmware strings)",
            DefaultValueFactory = _ => "hexdump",
        };
        var reveal = new Option<bool>("--reveal-secret") { Description = "Print a secret variable's value (the node's private key): only when you must" };
        var command = new Command("get", "Show a variable's attributes and value");
        command.Arguments.Add(name);
        command.Options.Add(Vendor);
        command.Options.Add(format);
        command.Options.Add(reveal);
        Verb.Run(command, (parse, output) =>
        {
            var variableName = ParseName(parse.GetValue(name), parse.GetValue(Vendor));
            if (!VariableValueCodec.TryParseFormat(parse.GetValue(format), out var valueFormat))
            {
                throw new CliError(ExitCodes.BadInput, $"--format '{parse.GetValue(format)}' is not one of hexdump, hex, base64, text, ucs2");
            }
            var variable = environment.OpenStore().TryRead(variableName)
                ?? throw new CliError(ExitCodes.NotFound, $"no variable {variableName} in {environment.EfivarfsRoot}; `ppn uefi list` shows what exists");
            try
            {
                bool hide = SecretVariables.IsSecret(variableName) && !parse.GetValue(reveal);
                var value = hide ? null : VariableValueCodec.Format(variable.Data, valueFormat);
                if (output.Json)
                {
                    output.WriteJson(new UefiGetDocument(variableName.Name, variableName.Vendor.ToString("D"), VariableAttributeNames.Format(variable.Attributes),
                        (uint)variable.Attributes, variable.Data.Length, SecretVariables.IsSecret(variableName),
                        value is null ? null : valueFormat == ValueFormat.Hexdump ? VariableValueCodec.Format(variable.Data, ValueFormat.Hex) : value,
                        value is null ? null : valueFormat == ValueFormat.Hexdump ? "hex" : valueFormat.ToString().ToLowerInvariant()),
                        VerbJson.Greppable.UefiGetDocument);
                }
                else
                {
                    output.Line($"{variableName}");
                    output.Line($"attributes: {VariableAttributeNames.Format(variable.Attributes, AttributeNameStyle.Long)} ({VariableAttributeNames.FormatHex(variable.Attributes)})");
                    output.Line($"size: {variable.Data.Length} bytes");
                    output.Line(value ?? "value: (secret: not shown; --reveal-secret prints it)");
                }
                return ExitCodes.Ok;
            }
            finally
            {
                ZeroIfSecret(variable);
            }
        });
        return command;
    }

    private static Command Set(CliEnvironment environment)
    {
        var name = new Argument<string>("variable") { Description = NameHelp };
        var value = new Argument<string>("value")
        {
            Description = "hex:0a0b | 0a0b | base64:... | text:... (UTF-8) | ucs2:... | ucs2z:... (NUL-terminated) | file:PATH | @PATH",
        };
        var attributes = new Option<string>("--attributes", "-a")
        {
            Description = "Attributes as names (NV,BS,RT / non-volatile,bootservice-access,runtime-access) or a number (0x7)",
            DefaultValueFactory = _ => "NV,BS,RT",
        };
        var append = new Option<bool>("--append") { Description = "Append to the value (EFI_VARIABLE_APPEND_WRITE)" };
        var createOnly = new Option<bool>("--create-only") { Description = "Fail if the variable exists instead of replacing it" };
        var command = new Command("set", "Create or replace a variable (or append to it)");
        command.Arguments.Add(name);
        command.Arguments.Add(value);
        command.Options.Add(Vendor);
        command.Options.Add(attributes);
        command.Options.Add(append);
        command.Options.Add(createOnly);
        Verb.Run(command, (parse, output) =>
        {
            var variableName = ParseName(parse.GetValue(name), parse.GetValue(Vendor));
            if (SecretVariables.IsSecret(variableName))
            {
                throw new CliError(ExitCodes.PermissionDenied, $"{variableName} is the node's identity: it is written only by genesis, never by hand");
            }
            if (!VariableAttributeNames.TryParse(parse.GetValue(attributes), out var attrs, out var attrError))
            {
                throw new CliError(ExitCodes.BadInput, $"--attributes: {attrError}");
            }
            if (!VariableValueCodec.TryParse(parse.GetValue(value) ?? "", out var data, out var valueError))
            {
                throw new CliError(ExitCodes.BadInput, $"value: {valueError}");
            }
            if (parse.GetValue(append) && parse.GetValue(createOnly))
            {
                throw new CliError(ExitCodes.BadInput, "--append and --create-only exclude each other");
            }
            var mode = parse.GetValue(append) ? WriteMode.Append : parse.GetValue(createOnly) ? WriteMode.Create : WriteMode.CreateOrReplace;
            environment.OpenStore().Write(variableName, attrs, data, mode);
            if (output.Json)
            {
                output.WriteJson(new UefiSetDocument(variableName.Name, variableName.Vendor.ToString("D"), mode.ToString(), data.Length),
                    VerbJson.Greppable.UefiSetDocument);
            }
            else
            {
                output.Line($"{(mode == WriteMode.Append ? "appended" : "wrote")} {data.Length} byte(s) to {variableName} ({VariableAttributeNames.Format(attrs)})");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove(CliEnvironment environment)
    {
        var name = new Argument<string>("variable") { Description = NameHelp };
        var command = new Command("rm", "Delete a variable");
        command.Arguments.Add(name);
        command.Options.Add(Vendor);
        Verb.Run(command, (parse, output) =>
        {
            var variableName = ParseName(parse.GetValue(name), parse.GetValue(Vendor));
            if (SecretVariables.IsSecret(variableName))
            {
                throw new CliError(ExitCodes.PermissionDenied, $"{variableName} is the node's identity: deleting it by hand is refused; it is reset only through genesis");
            }
            environment.OpenStore().Delete(variableName);
            if (!output.Json)
            {
                output.Line($"deleted {variableName}");
            }
            else
            {
                output.WriteJson(new UefiRemoveDocument(variableName.FileName), VerbJson.Greppable.UefiRemoveDocument);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command SelfTest(CliEnvironment environment)
    {
        var command = new Command("selftest", "Check this node's variable storage end to end with scratch variables (created and removed)");
        Verb.Run(command, (_, output) =>
        {
            var store = environment.OpenStore();
            var results = VariableStoreConformance.Run(store, output.Json ? null : line => output.Line("  " + line));
            int failed = results.Count(r => !r.Passed);
            if (output.Json)
            {
                output.WriteJson(new UefiSelfTestDocument(store.Location, results.Count - failed, failed,
                    [.. results.Select(r => new UefiCheckPart(r.Name, r.Passed, r.Detail))]), VerbJson.Greppable.UefiSelfTestDocument);
            }
            else
            {
                foreach (var r in results)
                {
                    output.Line($"{(r.Passed ? "PASS" : "FAIL")} {r.Name}{(r.Passed ? "" : ": " + r.Detail)}");
                }
                output.Line($"uefi selftest: {results.Count - failed} passed, {failed} failed ({store.Location})");
            }
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    private static VariableName ParseName(string? text, string? vendor)
    {
        var defaultVendor = VariableName.PpnVendor;
        if (vendor is not null)
        {
            if (string.Equals(vendor, "global", StringComparison.OrdinalIgnoreCase))
            {
                defaultVendor = VariableName.EfiGlobal;
            }
            else if (!Guid.TryParse(vendor, out defaultVendor))
            {
                throw new CliError(ExitCodes.BadInput, $"--vendor '{vendor}' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) or 'global'");
            }
        }
        if (!VariableName.TryParseUserInput(text, defaultVendor, out var name, out var error))
        {
            throw new CliError(ExitCodes.BadInput, $"variable '{text}': {error}");
        }
        return name.Value;
    }

    private static void ZeroIfSecret(Variable variable)
    {
        if (SecretVariables.IsSecret(variable.Name))
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(variable.Data);
        }
    }
}

/// <summary>Variables whose value is a secret: never printed without an explicit flag, never written by hand.</summary>
public static class SecretVariables
{
    public static readonly VariableName Identity = VariableName.Ppn("PpnIdentity");

    public static bool IsSecret(VariableName name) => name == Identity;
}
