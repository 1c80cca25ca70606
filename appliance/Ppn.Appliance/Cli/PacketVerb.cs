using System.CommandLine;
using System.Globalization;
using Ppn.Commands;

namespace Ppn.Appliance.Cli;

/// <summary>
/// `ppn packet seal|decode`: the 16-byte authority command (docs/protocol/commands.md) by hand. `decode` is the
/// technician's tool for a captured datagram (every field, and with key material the tag and the verdict that
/// needs no replay state); `seal` is the authority side, for bench tests and interop checks with the control plane.
/// </summary>
public static class PacketVerb
{
    public static Command Build()
    {
        var command = new Command("packet", "Seal or decode a 16-byte authority command packet (UDP 8090)");
        command.Subcommands.Add(BuildDecode());
        command.Subcommands.Add(BuildSeal());
        return command;
    }

    private static Command BuildDecode()
    {
        var hex = new Argument<string>("hex") { Description = "The datagram as hex (spaces, colons and a 0x prefix are ignored)" };
        var commandKey = new Option<string?>("--command-key") { Description = "The 32-byte command key of the packet's epoch, as hex or base64" };
        var authorityKey = new Option<FileInfo?>("--authority-key") { Description = "File with the authority's X25519 private key (base64, as `wg genkey` writes); needs --node-public-key" };
        var nodeKey = new Option<FileInfo?>("--node-key") { Description = "File with the node's X25519 private key (base64); needs --authority-public-key" };
        var nodePublic = new Option<string?>("--node-public-key") { Description = "The node's X25519 public key (base64, as `ppn identity show` prints)" };
        var authorityPublic = new Option<string?>("--authority-public-key") { Description = "The authority's X25519 public key (base64)" };
        var credential = new Option<string?>("--credential") { Description = "The authority credential file (as `ppn claim` takes) instead of --authority-key; needs --node-public-key" };
        var nodeId = new Option<int?>("--node-id") { Description = "Judge the target for this node id (0..16383)" };
        var groups = new Option<string?>("--groups") { Description = "With --node-id: the node's group ids, comma-separated" };
        var decode = new Command("decode", "Show every field of a captured command packet and, given key material, whether its tag verifies")
        {
            hex, commandKey, authorityKey, credential, nodeKey, nodePublic, authorityPublic, nodeId, groups,
        };
        Verb.Run(decode, (parse, output) =>
        {
            if (!PacketDecoder.TryParseHex(parse.GetValue(hex)!, out var bytes))
            {
                throw new CliError(ExitCodes.BadInput, "the packet is not hex: give the datagram's bytes, e.g. 11002a000000000109a1c6d2c3ba2f4e");
            }
            var node = Addressing(parse.GetValue(nodeId), parse.GetValue(groups));
            DecodedPacket decoded;
            if (parse.GetValue(commandKey) is { } keyText)
            {
                var key = DecodeKey(keyText, "--command-key", allowHex: true);
                try
                {
                    decoded = PacketDecoder.DecodeWithKey(bytes, key, node);
                }
                finally
                {
                    Array.Clear(key);
                }
            }
            else if (Keyring(AuthorityPrivate(parse.GetValue(authorityKey), parse.GetValue(credential), required: false), parse.GetValue(nodePublic), parse.GetValue(nodeKey), parse.GetValue(authorityPublic)) is { } keys)
            {
                using (keys)
                {
                    decoded = PacketDecoder.Decode(bytes, keys, node);
                }
            }
            else
            {
                decoded = PacketDecoder.Decode(bytes, node);
            }
            if (output.Json)
            {
                output.WriteJson(decoded.ToDocument(), VerbJson.Greppable.PacketDocument);
            }
            else
            {
                output.Out.Write(decoded.ToText());
            }
            return decoded.Verdict == CommandVerdict.Accepted ? ExitCodes.Ok : ExitCodes.Integrity;
        });
        return decode;
    }

    private static Command BuildSeal()
    {
        var authorityKey = new Option<FileInfo?>("--authority-key") { Description = "File with the authority's X25519 private key (base64)" };
        var credential = new Option<string?>("--credential") { Description = "The authority credential file (as `ppn claim` takes) instead of --authority-key" };
        var nodePublic = new Option<string>("--node-public-key") { Description = "The node's X25519 public key (base64)", Required = true };
        var intent = new Option<string>("--intent") { Description = "noop, identify, reboot, poweroff, nic-retune, beacon-rescan, genesis-reset-arm, genesis-reset-confirm", Required = true };
        var argument = new Option<int>("--argument") { Description = "identify: 0 stops, n blinks n×10 s (1..15); genesis-reset-arm/confirm: pairing code 0..15; else 0" };
        var target = new Option<string>("--target") { Description = "node:ID, group:ID or all", Required = true };
        var counter = new Option<long>("--counter") { Description = "The command counter (1..4294967295); follow the batch rule in docs/protocol/commands.md", Required = true };
        var epoch = new Option<int?>("--epoch") { Description = "Command-key epoch (0..15); default with --credential: its commandKeyEpoch; required with --authority-key" };
        var seal = new Command("seal", "Seal a command as the authority would (for bench tests and interop checks); prints the 16 bytes as hex")
        {
            authorityKey, credential, nodePublic, intent, argument, target, counter, epoch,
        };
        Verb.Run(seal, (parse, output) =>
        {
            var token = parse.GetValue(intent)!;
            if (!CommandPacket.TryParseIntentToken(token, out var parsedIntent))
            {
                throw new CliError(ExitCodes.BadInput, $"--intent {token} is not an intent: use one of noop, identify, reboot, poweroff, nic-retune, beacon-rescan, genesis-reset-arm, genesis-reset-confirm");
            }
            int arg = parse.GetValue(argument);
            if (arg is < 0 or > CommandPacket.MaxArgument || !CommandPacket.IsValidArgument(parsedIntent, (byte)arg))
            {
                throw new CliError(ExitCodes.BadInput, $"--argument {arg} is not valid for {token}: identify and the genesis-reset pair take 0..15, every other intent 0");
            }
            int? givenEpoch = parse.GetValue(epoch);
            if (givenEpoch is < 0 or > CommandPacket.MaxEpoch)
            {
                throw new CliError(ExitCodes.BadInput, $"--epoch {givenEpoch} is out of range: epochs are 0..15");
            }
            long c = parse.GetValue(counter);
            if (c is < 1 or > uint.MaxValue)
            {
                throw new CliError(ExitCodes.BadInput, $"--counter {c} is out of range: counters are 1..4294967295 (0 is never valid)");
            }
            var selector = ParseTarget(parse.GetValue(target)!);
            var priv = AuthorityPrivate(parse.GetValue(authorityKey), parse.GetValue(credential), required: true, out var credentialEpoch)!;
            var pub = DecodeKey(parse.GetValue(nodePublic)!, "--node-public-key", allowHex: false);
            // A key file has no epoch: guessing 0 would seal stale-epoch commands for a node in any other epoch.
            int e = givenEpoch ?? (int?)credentialEpoch ?? throw new CliError(ExitCodes.BadInput,
                "--authority-key carries no command epoch: give --epoch E (the node's: `ppn status` or ppn_command_epoch), or use --credential FILE");
            Span<byte> packet = stackalloc byte[CommandPacket.Size];
            try
            {
                using var sealer = CommandSealer.ForNode(priv, pub);
                sealer.Seal((byte)e, parsedIntent, (byte)arg, selector, (uint)c, packet);
            }
            catch (ArgumentException ex)
            {
                throw new CliError(ExitCodes.BadInput, $"cannot seal: {ex.Message}", ex);
            }
            finally
            {
                Array.Clear(priv);
            }
            var hex = Convert.ToHexStringLower(packet);
            if (output.Json)
            {
                var decoded = PacketDecoder.Decode(packet);
                output.WriteJson(decoded.ToDocument(), VerbJson.Greppable.PacketDocument);
            }
            else
            {
                output.Line(hex);
            }
            return ExitCodes.Ok;
        });
        return seal;
    }

    public static TargetSelector ParseTarget(string text)
    {
        if (text == "all") return TargetSelector.All;
        var parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id is >= 0 and <= TargetSelector.MaxId)
        {
            if (parts[0] == "node") return TargetSelector.Node((ushort)id);
            if (parts[0] == "group") return TargetSelector.Group((ushort)id);
        }
        throw new CliError(ExitCodes.BadInput, $"--target {text} is not a target: write node:ID, group:ID (ID 0..{TargetSelector.MaxId}) or all");
    }

    private static NodeAddressing? Addressing(int? nodeId, string? groupList)
    {
        if (nodeId is null)
        {
            if (groupList is not null) throw new CliError(ExitCodes.BadInput, "--groups needs --node-id: give the node id the packet is judged for");
            return null;
        }
        if (nodeId is < 0 or > TargetSelector.MaxId) throw new CliError(ExitCodes.BadInput, $"--node-id {nodeId} is out of range: node ids are 0..{TargetSelector.MaxId}");
        var groups = new List<ushort>();
        foreach (var g in (groupList ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!ushort.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id > TargetSelector.MaxId)
            {
                throw new CliError(ExitCodes.BadInput, $"--groups: {g} is not a group id (0..{TargetSelector.MaxId})");
            }
            groups.Add(id);
        }
        return new NodeAddressing((ushort)nodeId.Value, groups.ToArray());
    }

    /// <summary>The authority's X25519 private key from a key file or from the credential file; null when neither was given.</summary>
    private static byte[]? AuthorityPrivate(FileInfo? keyFile, string? credentialPath, bool required) =>
        AuthorityPrivate(keyFile, credentialPath, required, out _);

    /// <param name="credentialEpoch">The credential's commandKeyEpoch when the key came from a credential file, else null.</param>
    private static byte[]? AuthorityPrivate(FileInfo? keyFile, string? credentialPath, bool required, out uint? credentialEpoch)
    {
        credentialEpoch = null;
        if (keyFile is not null && credentialPath is not null)
        {
            throw new CliError(ExitCodes.BadInput, "give --authority-key or --credential, not both");
        }
        if (keyFile is not null) return ReadKeyFile(keyFile, "--authority-key");
        if (credentialPath is not null)
        {
            if (!Ppn.Genesis.AuthorityCredential.TryLoad(credentialPath, out var credential, out var error))
            {
                throw new CliError(File.Exists(credentialPath) || Directory.Exists(credentialPath) ? ExitCodes.BadInput : ExitCodes.NotFound, error);
            }
            using (credential)
            {
                credentialEpoch = credential.CommandKeyEpoch;
                return credential.NoisePrivateKey.ToArray();
            }
        }
        if (required) throw new CliError(ExitCodes.BadInput, "sealing needs the authority's key: give --credential FILE or --authority-key FILE");
        return null;
    }

    private static CommandKeyring? Keyring(byte[]? authorityPrivate, string? nodePublic, FileInfo? nodeKey, string? authorityPublic)
    {
        if (authorityPrivate is not null && nodeKey is not null)
        {
            Array.Clear(authorityPrivate);
            throw new CliError(ExitCodes.BadInput, "give either the authority's key with --node-public-key, or --node-key with --authority-public-key, not both");
        }
        if (authorityPrivate is not null)
        {
            if (nodePublic is null)
            {
                Array.Clear(authorityPrivate);
                throw new CliError(ExitCodes.BadInput, "the authority's key needs --node-public-key: the command keys pair the authority with one node");
            }
            return Derive(authorityPrivate, DecodeKey(nodePublic, "--node-public-key", allowHex: false), forNode: false);
        }
        if (nodeKey is not null)
        {
            if (authorityPublic is null) throw new CliError(ExitCodes.BadInput, "--node-key needs --authority-public-key");
            return Derive(ReadKeyFile(nodeKey, "--node-key"), DecodeKey(authorityPublic, "--authority-public-key", allowHex: false), forNode: true);
        }
        if (nodePublic is not null || authorityPublic is not null)
        {
            throw new CliError(ExitCodes.BadInput, "a public key alone cannot check a tag: add the matching private key (--credential, --authority-key or --node-key)");
        }
        return null;
    }

    private static CommandKeyring Derive(byte[] privateKey, byte[] publicKey, bool forNode)
    {
        try
        {
            return forNode ? CommandKeyring.ForNode(privateKey, publicKey) : CommandKeyring.ForAuthority(privateKey, publicKey);
        }
        catch (ArgumentException e)
        {
            throw new CliError(ExitCodes.BadInput, $"cannot derive command keys: {e.Message}", e);
        }
        finally
        {
            Array.Clear(privateKey);
        }
    }

    private const long MaxKeyFileBytes = 4096;

    /// <summary>A private key file: one base64 line of 32 bytes, as `wg genkey` writes. Never echoed in errors.</summary>
    public static byte[] ReadKeyFile(FileInfo file, string option)
    {
        var node = Ppn.Linux.FileNode.Stat(file.FullName);
        if (node.Kind == Ppn.Linux.FileNodeKind.Missing)
        {
            throw new CliError(ExitCodes.NotFound, $"{option} {file.FullName}: no such file");
        }
        if (node.Kind != Ppn.Linux.FileNodeKind.Regular || node.Size > MaxKeyFileBytes)
        {
            throw new CliError(ExitCodes.BadInput, $"{option} {file.FullName} is {(node.Kind == Ppn.Linux.FileNodeKind.Regular ? $"{node.Size} bytes" : Ppn.Linux.FileNode.Describe(node.Kind))}: a key file is one line of base64 (as `wg genkey` writes)");
        }
        // The same rule as for credentials: a private key others can read is refused (PrivateFile).
        if (Ppn.Linux.PrivateFile.WhyNotPrivate(file.FullName, "holds this key") is { } notPrivate)
        {
            throw new CliError(ExitCodes.BadInput, $"{option} {notPrivate}");
        }
        string text;
        try
        {
            text = File.ReadAllText(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(e is UnauthorizedAccessException ? ExitCodes.PermissionDenied : ExitCodes.Failed,
                $"{option} {Ppn.Linux.FileErrors.Describe(e, file.FullName)}", e);
        }
        var key = new byte[32];
        if (!Convert.TryFromBase64String(text.Trim(), key, out int n) || n != 32)
        {
            Array.Clear(key);
            throw new CliError(ExitCodes.BadInput, $"{option} {file.FullName} does not hold a key: expected one line of base64 for 32 bytes (as `wg genkey` writes)");
        }
        return key;
    }

    private static byte[] DecodeKey(string text, string option, bool allowHex)
    {
        var key = new byte[32];
        if (Convert.TryFromBase64String(text.Trim(), key, out int n) && n == 32) return key;
        if (allowHex && PacketDecoder.TryParseHex(text, out var hex) && hex.Length == 32) return hex;
        throw new CliError(ExitCodes.BadInput, $"{option} is not a 32-byte key: give {(allowHex ? "64 hex digits or " : "")}base64 (44 characters)");
    }
}
