using System.Text.Json;
using Ppn.Appliance.Cli;

namespace Ppn.Appliance.Tests;

/// <summary>`ppn packet seal|decode` against docs/protocol/vectors/commands.json.</summary>
public sealed class PacketVerbTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-packet-").FullName;
    private readonly JsonElement _keys;
    private readonly string _authorityKeyFile;
    private readonly string _nodeKeyFile;

    public PacketVerbTests()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Repository.PathOf("docs/protocol/vectors/commands.json")));
        _keys = doc.RootElement.GetProperty("keys").Clone();
        _authorityKeyFile = Path.Combine(_dir, "authority.key");
        _nodeKeyFile = Path.Combine(_dir, "node.key");
        File.WriteAllText(_authorityKeyFile, B64("authorityPrivate") + "\n");
        File.WriteAllText(_nodeKeyFile, B64("nodePrivate") + "\n");
        File.SetUnixFileMode(_authorityKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(_nodeKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string B64(string name) => Convert.ToBase64String(Convert.FromHexString(_keys.GetProperty(name).GetString()!));

    [Fact]
    public void Seal_reproduces_the_spec_vector_packet()
    {
        var (code, output, err) = CliTests.Run("packet", "seal", "--authority-key", _authorityKeyFile, "--node-public-key", B64("nodePublic"),
            "--intent", "identify", "--argument", "3", "--target", "group:7", "--counter", "2", "--epoch", "0");
        Assert.True(code == 0, err);
        Assert.Equal("101340070000000258a32401f9bfbfd6\n", output);
    }

    /// <summary>An authority credential holding the vectors' authority key, saved under the test's directory.</summary>
    private string SaveCredential(string name, uint commandKeyEpoch)
    {
        var path = Path.Combine(_dir, name);
        using var credential = Ppn.Genesis.AuthorityCredential.Create(new byte[32].Select((_, i) => (byte)(i + 1)).ToArray(),
            Convert.FromHexString(_keys.GetProperty("authorityPrivate").GetString()!), System.Net.IPEndPoint.Parse("192.0.2.1:51820"), new byte[32].Select(_ => (byte)9).ToArray(), commandKeyEpoch);
        credential.Save(path);
        return path;
    }

    [Fact]
    public void Seal_with_the_authority_credential_file_gives_the_same_packet()
    {
        var path = SaveCredential("authority.json", commandKeyEpoch: 0);
        var (code, output, err) = CliTests.Run("packet", "seal", "--credential", path, "--node-public-key", B64("nodePublic"),
            "--intent", "identify", "--argument", "3", "--target", "group:7", "--counter", "2");
        Assert.True(code == 0, err);
        Assert.Equal("101340070000000258a32401f9bfbfd6\n", output);
        var both = CliTests.Run("packet", "seal", "--credential", path, "--authority-key", _authorityKeyFile, "--node-public-key", B64("nodePublic"),
            "--intent", "noop", "--target", "all", "--counter", "1");
        Assert.Equal(ExitCodes.BadInput, both.Code);
        Assert.Contains("not both", both.Err);
    }

    [Fact]
    public void Seal_takes_the_epoch_from_the_credential_and_needs_it_given_with_a_bare_key_file()
    {
        var path = SaveCredential("authority-epoch5.json", commandKeyEpoch: 5);
        string[] common = ["--node-public-key", B64("nodePublic"), "--intent", "noop", "--target", "node:42", "--counter", "1"];
        // Byte 0 is version (7-4) and epoch (3-0): commands.md §Layout.
        var fromCredential = CliTests.Run(["packet", "seal", "--credential", path, .. common]);
        Assert.True(fromCredential.Code == 0, fromCredential.Err);
        Assert.StartsWith("15", fromCredential.Out);
        var explicitEpoch = CliTests.Run(["packet", "seal", "--authority-key", _authorityKeyFile, .. common, "--epoch", "5"]);
        Assert.Equal(fromCredential.Out, explicitEpoch.Out);
        var overridden = CliTests.Run(["packet", "seal", "--credential", path, .. common, "--epoch", "6"]);
        Assert.StartsWith("16", overridden.Out);
        var bare = CliTests.Run(["packet", "seal", "--authority-key", _authorityKeyFile, .. common]);
        Assert.Equal(ExitCodes.BadInput, bare.Code);
        Assert.Equal("", bare.Out);
        Assert.Contains("--authority-key carries no command epoch: give --epoch E", bare.Err);
    }

    [Fact]
    public void Decode_with_the_node_key_shows_every_field_and_the_verdict()
    {
        var (code, output, err) = CliTests.Run("packet", "decode", "10 13 40 07 00 00 00 02 58 a3 24 01 f9 bf bf d6",
            "--node-key", _nodeKeyFile, "--authority-public-key", B64("authorityPublic"), "--node-id", "42", "--groups", "7,300");
        Assert.True(code == 0, err);
        Golden.Match("packet-decode-valid", output);
    }

    [Fact]
    public void Decode_with_the_authority_key_agrees_with_the_node_key()
    {
        var packet = "1000002a0000000161dbe5fe35e031bf";
        var viaAuthority = CliTests.Run("packet", "decode", packet, "--authority-key", _authorityKeyFile, "--node-public-key", B64("nodePublic"), "--json");
        var viaNode = CliTests.Run("packet", "decode", packet, "--node-key", _nodeKeyFile, "--authority-public-key", B64("authorityPublic"), "--json");
        Assert.Equal(0, viaAuthority.Code);
        Assert.Equal(viaAuthority.Out, viaNode.Out);
        using var doc = JsonDocument.Parse(viaNode.Out);
        Assert.Equal("valid", doc.RootElement.GetProperty("tagCheck").GetString());
        Assert.Equal("noop", doc.RootElement.GetProperty("intent").GetString());
    }

    [Fact]
    public void A_flipped_tag_bit_is_reported_bad_tag_with_the_integrity_exit_code()
    {
        var (code, output, _) = CliTests.Run("packet", "decode", "1000002a0000000161dbe5fe35e031be", "--command-key", _keys.GetProperty("commandKeys").GetProperty("0").GetString()!);
        Assert.Equal(ExitCodes.Integrity, code);
        Assert.Contains("(INVALID)", output);
        Assert.Contains("verdict  bad-tag", output);
    }

    [Fact]
    public void A_packet_for_another_node_is_wrong_target()
    {
        var (code, output, _) = CliTests.Run("packet", "decode", "1000002a0000000161dbe5fe35e031bf", "--node-id", "43");
        Assert.Equal(ExitCodes.Integrity, code);
        Assert.Contains("verdict  wrong-target", output);
    }

    [Fact]
    public void Decode_without_a_key_shows_structure_only()
    {
        var (code, output, _) = CliTests.Run("packet", "decode", "0x1000002a0000000161dbe5fe35e031bf");
        Assert.Equal(0, code);
        Golden.Match("packet-decode-nokey", output);
    }

    [Theory]
    [InlineData(new[] { "packet", "decode", "zz" }, "is not hex")]
    [InlineData(new[] { "packet", "decode", "1000", "--node-public-key", "AAAA" }, "a public key alone cannot check a tag")]
    [InlineData(new[] { "packet", "decode", "1000002a0000000161dbe5fe35e031bf", "--groups", "7" }, "--groups needs --node-id")]
    [InlineData(new[] { "packet", "decode", "1000002a0000000161dbe5fe35e031bf", "--command-key", "abcd" }, "is not a 32-byte key")]
    public void Bad_decode_input_gets_one_clear_line(string[] args, string expected)
    {
        var (code, _, err) = CliTests.Run(args);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(expected, err);
    }

    [Theory]
    [InlineData("--intent", "explode", "is not an intent")]
    [InlineData("--argument", "3", "is not valid for noop")]
    [InlineData("--counter", "0", "0 is never valid")]
    [InlineData("--target", "rack:1", "is not a target")]
    [InlineData("--epoch", "16", "epochs are 0..15")]
    public void Bad_seal_input_gets_one_clear_line(string option, string value, string expected)
    {
        var args = new Dictionary<string, string>
        {
            ["--authority-key"] = _authorityKeyFile, ["--node-public-key"] = B64("nodePublic"), ["--intent"] = "noop",
            ["--target"] = "node:42", ["--counter"] = "1", ["--epoch"] = "0",
        };
        args[option] = value;
        var (code, _, err) = CliTests.Run(["packet", "seal", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void A_key_file_that_is_not_a_key_is_refused_without_echoing_it()
    {
        var bad = Path.Combine(_dir, "bad.key");
        File.WriteAllText(bad, "secret-looking-text");
        File.SetUnixFileMode(bad, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (code, _, err) = CliTests.Run("packet", "seal", "--authority-key", bad, "--node-public-key", B64("nodePublic"), "--intent", "noop", "--target", "all", "--counter", "1");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("does not hold a key", err);
        Assert.DoesNotContain("secret-looking-text", err);
    }
}
