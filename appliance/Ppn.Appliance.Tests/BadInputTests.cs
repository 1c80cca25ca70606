using System.Text;
using System.Text.Json;
using Ppn.Appliance.Cli;
using Ppn.Linux;
using Ppn.Linux.Netlink;
using Ppn.Mesh.WireGuard;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>
/// `ppn` as a careless or hostile user runs it: per verb, a table of inputs with the exit code and the first line
/// of the message, kept as golden files (golden/bad-input-VERB.txt). Nothing crashes, nothing is a "bug" (70).
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-badinput-").FullName;
    private readonly TempDirEfivarfs _efivarfs = new();
    private static readonly string ZeroKey = Convert.ToBase64String(new byte[32]);
    private static readonly string SomeKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public BadInputTests()
    {
        File.WriteAllText(Path.Combine(_dir, "help"), "--help");
        File.WriteAllText(Path.Combine(_dir, "verb"), "uefi list");
        File.WriteAllText(Path.Combine(_dir, "key"), SomeKey + "\n");
        File.SetUnixFileMode(Path.Combine(_dir, "key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(Path.Combine(_dir, "key-0644"), SomeKey + "\n");
        File.SetUnixFileMode(Path.Combine(_dir, "key-0644"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using (var big = File.Create(Path.Combine(_dir, "big"))) big.SetLength(1L << 30);
        Directory.CreateDirectory(Path.Combine(_dir, "a-dir"));
    }

    public void Dispose()
    {
        _efivarfs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var environment = new CliEnvironment("/sys/firmware/efi/efivars", () => _efivarfs, []);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(CommandLine.Build(environment), args, new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    private void Table(string verb, params string[][] cases)
    {
        var transcript = new StringBuilder();
        foreach (var args in cases)
        {
            var (code, output, error) = Run(args.Select(a => a.Replace("$TMP", _dir, StringComparison.Ordinal)).ToArray());
            transcript.Append("$ ppn ").AppendJoin(' ', args).Append('\n').Append($"exit {code}\n");
            var first = error.Length > 0 ? "err: " + error.Split('\n')[0]
                : output.StartsWith('{') ? "json: " + JsonDocument.Parse(output).RootElement.GetRawText().ReplaceLineEndings("").Replace("  ", "", StringComparison.Ordinal)
                : "out: " + output.Split('\n')[0];
            first = System.Text.RegularExpressions.Regex.Replace(first.Replace(_dir, "$TMP", StringComparison.Ordinal), @"/tmp/ppn-efivarfs-[^/]+", "$EFIVARFS");
            transcript.Append(first).Append('\n');
            Assert.NotEqual(ExitCodes.Internal, code);
            Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"\b[A-Z][A-Za-z]+_[A-Z][A-Za-z_]+\b", output + error); // a bare runtime resource key
        }
        Golden.Match("bad-input-" + verb, transcript.ToString());
    }

    [Fact]
    public void Uefi_set_bad_input()
    {
        Table("uefi",
            ["uefi", "set", "PpnNote", "@$TMP/help"],
            ["uefi", "set", "PpnNote", "@$TMP/verb"],
            ["uefi", "set", "PpnNote", "@$TMP/a-dir"],
            ["uefi", "set", "PpnNote", "@/dev/zero"],
            ["uefi", "set", "PpnNote", "file:/dev/zero"],
            ["uefi", "set", "PpnNote", "file:$TMP/big"],
            ["uefi", "set", "PpnNote", "file:$TMP/no-such"],
            ["uefi", "set", "PpnNote", "zz"],
            ["uefi", "set", "PpnNote", "text:x", "--attributes", "NV,XX"],
            ["uefi", "get", "PpnNone"],
            ["uefi", "get", "PpnNone", "--json"],
            ["uefi", "get", "--json"],
            ["uefi", "get", "Bad Name!"]);
    }

    [Fact]
    public void Packet_bad_input()
    {
        Table("packet",
            ["packet", "seal", "--authority-key", "$TMP/key", "--node-public-key", ZeroKey, "--intent", "noop", "--target", "all", "--counter", "1", "--epoch", "0"],
            ["packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", "$TMP/key", "--authority-public-key", ZeroKey],
            ["packet", "decode", "1000002a0000000161dbe5fe35e031be", "--authority-key", "$TMP/key", "--node-public-key", ZeroKey],
            ["packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", "$TMP/key-0644", "--authority-public-key", SomeKey],
            ["packet", "seal", "--authority-key", "$TMP/key-0644", "--node-public-key", SomeKey, "--intent", "noop", "--target", "all", "--counter", "1"],
            ["packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", "/dev/zero", "--authority-public-key", SomeKey],
            ["packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", "$TMP/a-dir", "--authority-public-key", SomeKey],
            ["packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", "$TMP/no-such", "--authority-public-key", SomeKey],
            ["packet", "decode", "@$TMP/help"],
            ["packet", "seal", "--authority-key", "$TMP/key", "--node-public-key", SomeKey, "--intent", "noop", "--target", "node:16384", "--counter", "1"],
            ["packet", "seal", "--authority-key", "$TMP/key", "--node-public-key", SomeKey, "--intent", "noop", "--target", "all", "--counter", "0", "--json"]);
    }

    [Fact]
    public void Claim_bad_input()
    {
        Table("claim",
            ["claim", "::1", "--credential", "$TMP/no-such", "--mesh-address", "10.8.0.5"],
            ["claim", "::1", "--credential", "$TMP/key-0644", "--mesh-address", "10.8.0.5"],
            ["claim", "::1", "--credential", "$TMP/a-dir", "--mesh-address", "10.8.0.5"],
            ["claim", "::1", "--credential", "$TMP/key", "--mesh-address", "10.8.0.5", "--node-id", "99999"],
            ["claim", "::1", "--credential", "$TMP/key", "--mesh-address", "10.8.0.1"],
            ["claim", "@$TMP/help", "--credential", "$TMP/key", "--mesh-address", "10.8.0.5"],
            ["claim", "::1", "--credential", "$TMP/key", "--mesh-address", "10.8.0.5", "--timeout", "0", "--json"]);
    }

    [Fact]
    public void Mesh_bad_input()
    {
        File.WriteAllText(Path.Combine(_dir, "bad.conf"), "[Interface]\nAddress = 10.8.0.2/24\nSecret = x\n");
        File.WriteAllText(Path.Combine(_dir, "nokey.conf"), "[Interface]\nAddress = 10.8.0.2/24\nForwarding = maybe\n");
        Table("mesh",
            ["mesh", "up", "--config", "$TMP/no-such.conf"],
            ["mesh", "up", "--config", "$TMP/a-dir"],
            ["mesh", "up", "--config", "/dev/zero"],
            ["mesh", "up", "--config", "$TMP/big"],
            ["mesh", "up", "--config", "$TMP/bad.conf"],
            ["mesh", "up", "--config", "$TMP/nokey.conf"],
            ["mesh", "up", "--config", "@$TMP/help"],
            ["mesh", "up", "--config", "$TMP/bad.conf", "--json"],
            ["mesh", "status", "--backend", "bogus"],
            ["mesh", "showconf", "--backend", "bogus"]);
    }

    [Fact]
    public void Identity_status_and_usage_bad_input()
    {
        File.WriteAllText(Path.Combine(_dir, "status.json"), "{\"schema\": 99}");
        File.WriteAllText(Path.Combine(_dir, "broken.json"), "{\"schema\": ");
        Table("misc",
            ["identity", "show"],
            ["identity", "show", "--json"],
            ["identity", "reset"],
            ["status", "--file", "$TMP/no-such.json"],
            ["status", "--file", "$TMP/a-dir"],
            ["status", "--file", "/dev/zero"],
            ["status", "--file", "$TMP/status.json"],
            ["status", "--file", "$TMP/broken.json", "--json"],
            ["status", "--file", "@$TMP/help"],
            ["no-such-verb"],
            ["stauts"],
            ["identity", "sho"],
            ["mesh", "stat"],
            ["version", "--no-such-option"],
            ["version", "--jsno"],
            ["@$TMP/help"]);
    }

    [Fact]
    public void Completion_bad_input()
    {
        Table("completion", ["completion", "tcsh"], ["completion"]);
    }

    [Fact]
    public void An_at_path_reaches_uefi_set_as_a_literal_and_the_file_is_read_by_the_verb()
    {
        var value = Path.Combine(_dir, "value");
        File.WriteAllText(value, "--help");
        var (code, output, error) = Run("uefi", "set", "PpnNote", "@" + value);
        Assert.Equal(0, code);
        Assert.DoesNotContain("Usage", output);
        Assert.Equal("", error);
        Assert.Equal("--help"u8.ToArray(), _efivarfs.TryRead(Ppn.UefiVars.VariableName.Ppn("PpnNote"))!.Data);
    }

    [Fact]
    public void A_low_order_public_key_is_bad_input_not_a_bug()
    {
        var (code, _, error) = Run("packet", "seal", "--authority-key", Path.Combine(_dir, "key"), "--node-public-key", ZeroKey, "--intent", "noop", "--target", "all", "--counter", "1", "--epoch", "0");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("low-order point", error);
        (code, _, error) = Run("packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", Path.Combine(_dir, "key"), "--authority-public-key", ZeroKey);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("low-order point", error);
    }

    [Fact]
    public void A_node_key_file_others_can_read_is_refused_like_a_credential()
    {
        var (code, _, error) = Run("packet", "decode", "1000002a0000000161dbe5fe35e031be", "--node-key", Path.Combine(_dir, "key-0644"), "--authority-public-key", SomeKey);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("readable or writable by group or others", error);
        Assert.Contains("chmod 600", error);
        Assert.False(Ppn.Genesis.AuthorityCredential.TryLoad(Path.Combine(_dir, "key-0644"), out _, out var credentialError));
        Assert.Contains("is readable or writable by group or others (mode 0644)", credentialError); // one rule, one text
        Assert.Contains("is readable or writable by group or others (mode 0644)", error);
    }

    [Fact]
    public void A_missing_wireguard_module_is_unavailable_as_the_table_says()
    {
        var e = new NetlinkException("netlink CTRL_CMD_GETFAMILY", "wireguard", (int)Errno.ENOENT, null, KernelWireGuard.NoModuleAdvice);
        var (code, message) = ErrorMapping.Map(e);
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("modprobe wireguard", message);
        Assert.Contains("3  unavailable (no efivarfs, not a UEFI node, missing kernel or driver support)", ExitCodes.HelpText);
    }

    [Fact]
    public void Runtime_io_errors_are_told_in_our_words()
    {
        Assert.Equal((ExitCodes.PermissionDenied, "permission denied; run as root"), ErrorMapping.Map(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path, /x")));
        Assert.DoesNotContain("_", ErrorMapping.Map(new IOException("IO_SharingViolation_File, /x", 16)).Message);
        Assert.Equal((ExitCodes.NotFound, "/x: no such file"), ErrorMapping.Map(new FileNotFoundException("IO_FileNotFound_FileName, /x", "/x")));
        Assert.Equal((ExitCodes.NotFound, "config file c does not exist"), ErrorMapping.Map(new FileNotFoundException("config file c does not exist")));
    }

    [Fact]
    public void Errors_under_json_are_one_json_object_on_stdout()
    {
        var (code, output, error) = Run("uefi", "get", "PpnNone", "--json");
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Equal("", error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(ExitCodes.NotFound, doc.RootElement.GetProperty("error").GetProperty("exitCode").GetInt32());
        Assert.Equal("ppn", doc.RootElement.GetProperty("error").GetProperty("tool").GetString());
    }

    [Fact]
    public void Json_output_does_not_escape_plus()
    {
        var key = "++++" + SomeKey[4..];
        var (code, output, _) = Run("packet", "seal", "--authority-key", Path.Combine(_dir, "key"), "--node-public-key", SomeKey, "--intent", "noop", "--target", "all", "--counter", "1", "--epoch", "0", "--json");
        Assert.Equal(0, code);
        Assert.DoesNotContain("\\u002B", output);
        var json = Ppn.Cli.CliJson.Write(w => { w.WriteStartObject(); w.WriteString(key, key); w.WriteEndObject(); });
        Assert.Contains($"\"{key}\": \"{key}\"", json);
    }

    [Fact]
    public void Status_json_keeps_plus_in_keys_readable_from_the_file_to_the_output()
    {
        var status = Path.Combine(_dir, "status.json");
        var entry = new Ppn.Appliance.Commands.StatusJournalEntry(5, "accept", "effect-failed", "key a+b/c= refused", "noop", 0, "node 1", 1, 0, "10.8.0.254:40000");
        Ppn.Appliance.Commands.NodeStatusFile.WriteAtomically(status, new Ppn.Appliance.Commands.NodeStatus(Ppn.Appliance.Commands.NodeStatusFile.Schema,
            new(1, "10.8.0.2/24", "192.0.2.1:51820", 0),
            new("10.8.0.2:8090", 0, "ok", 0, 255, 1, 1, 0, 1, true, 0, new Dictionary<string, long> { ["accept"] = 1 }),
            new(1, 0, [entry], [])));
        Assert.Contains("a+b/c=", File.ReadAllText(status));
        var (code, output, _) = Run("status", "--file", status, "--json");
        Assert.Equal(0, code);
        Assert.Contains("a+b/c=", output);
        Assert.DoesNotContain("\\u002B", output);
        var dir = Run("status", "--file", Path.Combine(_dir, "a-dir"), "--json");
        Assert.Equal("", dir.Err);
        Assert.Contains("a-dir is a directory", dir.Out);
        Assert.Equal(ExitCodes.BadInput, Run("status", "--file", "/dev/zero").Code); // not read: it never ends
    }

    [Fact]
    public void Every_verb_lists_the_exit_codes_in_its_help()
    {
        var root = CommandLine.Build(new CliEnvironment("/x", () => _efivarfs, []));
        var leaves = new List<string[]>();
        void Walk(System.CommandLine.Command c, string[] path)
        {
            if (c.Subcommands.Count == 0) { if (!c.Hidden) leaves.Add(path); return; }
            foreach (var s in c.Subcommands) Walk(s, [.. path, s.Name]);
        }
        Walk(root, []);
        Assert.True(leaves.Count > 15);
        foreach (var path in leaves)
        {
            var (code, output, _) = Run([.. path, "--help"]);
            Assert.True(code == 0 && output.Contains("Exit codes:", StringComparison.Ordinal), $"ppn {string.Join(' ', path)} --help lists no exit codes");
        }
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _ppn_complete ppn")]
    [InlineData("zsh", "compdef _ppn_complete ppn")]
    [InlineData("fish", "complete -c ppn -f")]
    public void Completion_scripts_for_bash_zsh_and_fish(string shell, string expected)
    {
        var (code, output, _) = Run("completion", shell);
        Assert.Equal(0, code);
        Assert.Contains(expected, output);
        Assert.Contains("uefi", Run("__complete", "ppn u").Out.Split('\n'));
        Assert.Contains("--reveal-secret", Run("__complete", "ppn uefi get --rev").Out.Split('\n'));
    }
}
