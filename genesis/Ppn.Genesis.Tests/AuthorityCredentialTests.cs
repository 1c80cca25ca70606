using System.Net;

namespace Ppn.Genesis.Tests;

public sealed class AuthorityCredentialTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-credential-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AuthorityCredential Fixed() => AuthorityCredential.Create(
        Enumerable.Range(1, 32).Select(i => (byte)i).ToArray(), Enumerable.Range(101, 32).Select(i => (byte)i).ToArray(),
        new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), Enumerable.Repeat((byte)7, 32).ToArray(), 3);

    [Fact]
    public void A_saved_credential_loads_with_the_same_keys_and_is_written_mode_0600()
    {
        using var credential = Fixed();
        var path = Path.Combine(_dir, "authority.json");
        credential.Save(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.True(AuthorityCredential.TryLoad(path, out var loaded, out var error), error);
        using (loaded)
        {
            Assert.Equal(credential.SigningPublicKey, loaded.SigningPublicKey);
            Assert.Equal(credential.NoisePublicKey, loaded.NoisePublicKey);
            Assert.Equal(credential.HubEndpoint, loaded.HubEndpoint);
            Assert.Equal(3u, loaded.CommandKeyEpoch);
            // What it signs verifies under what a node built for it pins.
            var node = Enumerable.Repeat((byte)9, 32).ToArray();
            var pinned = credential.NodeConfigFor(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1));
            var trust = new AuthorityTrust(pinned.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()), pinned.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
            Assert.True(loaded.Grant(node, 5, IPAddress.Parse("10.8.0.5"), 1).IsBoundTo(node, trust));
        }
    }

    [Fact]
    public void Saving_over_a_credential_replaces_it_whole_and_never_rewrites_the_old_file_in_place()
    {
        using var first = Fixed();
        var path = Path.Combine(_dir, "authority.json");
        first.Save(path);
        using var moved = first.WithHub(new IPEndPoint(IPAddress.Parse("198.51.100.9"), 51820));
        // A handle on the old file sees what a crash in the middle of the save would leave: rewritten in place
        // (truncate, then write), it would change under the handle; written beside and renamed over, it stays whole.
        using (var old = new FileStream(path, FileMode.Open, FileAccess.Read))
        {
            moved.Save(path);
            var bytes = new byte[old.Length];
            old.ReadExactly(bytes);
            Assert.True(AuthorityCredential.TryParse(bytes, out var was, out var error), error);
            using (was) Assert.Equal(first.HubEndpoint, was.HubEndpoint);
        }
        Assert.True(AuthorityCredential.TryLoad(path, out var now, out var loadError), loadError);
        using (now) Assert.Equal(moved.HubEndpoint, now.HubEndpoint);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.False(File.Exists(path + ".new"));
    }

    [Fact]
    public void A_temporary_file_left_by_a_cut_save_does_not_stop_the_next_one()
    {
        using var credential = Fixed();
        var path = Path.Combine(_dir, "authority.json");
        File.WriteAllText(path + ".new", "{\"format\": 1, \"kind\"");
        File.SetUnixFileMode(path + ".new", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        credential.Save(path);
        Assert.True(AuthorityCredential.TryLoad(path, out var loaded, out var error), error);
        loaded.Dispose();
        Assert.False(File.Exists(path + ".new"));
    }

    [Fact]
    public void The_credential_file_is_the_documented_format_one_line_per_field_and_a_trailing_newline()
    {
        using var credential = Fixed();
        var json = credential.ToJson();
        try
        {
            var text = System.Text.Encoding.UTF8.GetString(json);
            Assert.EndsWith("}\n", text);
            Assert.Contains("\"signingKeyEd25519\": \"" + Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()) + "\"", text);
            Assert.Contains("\"commandKeyEpoch\": 3", text);
            Assert.True(AuthorityCredential.TryParse(json, out var again, out var error), error);
            again.Dispose();
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(json);
        }
    }

    [Fact]
    public void A_credential_readable_by_others_is_refused_with_the_fix()
    {
        using var credential = Fixed();
        var path = Path.Combine(_dir, "authority.json");
        credential.Save(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.False(AuthorityCredential.TryLoad(path, out _, out var error));
        Assert.Contains("chmod 600", error);
    }

    [Fact]
    public void An_unknown_field_inside_hub_is_refused_by_name()
    {
        using var credential = Fixed();
        var path = Path.Combine(_dir, "authority.json");
        credential.Save(path);
        var json = File.ReadAllText(path);
        Assert.True(AuthorityCredential.TryParse(System.Text.Encoding.UTF8.GetBytes(json), out var valid, out _));
        valid!.Dispose();
        var edited = json.Replace("\"endpoint\"", "\"endpiont\": \"x\", \"endpoint\"", StringComparison.Ordinal);
        Assert.NotEqual(json, edited);
        Assert.False(AuthorityCredential.TryParse(System.Text.Encoding.UTF8.GetBytes(edited), out _, out var error));
        Assert.Equal("unknown field \"hub.endpiont\" in the credential", error);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "one JSON object")]
    [InlineData("{\"format\":2}", "\"format\" must be 1")]
    [InlineData("{\"format\":1,\"kind\":\"node\"}", "\"kind\" must be")]
    [InlineData("{\"format\":1,\"kind\":\"ppn-authority-credential\",\"signingKeyEd25519\":\"AAAA\"}", "signingKeyEd25519")]
    [InlineData("{\"format\":1,\"extra\":1}", "unknown field")]
    public void Bad_credentials_say_what_is_wrong(string json, string expected)
    {
        Assert.False(AuthorityCredential.TryParse(System.Text.Encoding.UTF8.GetBytes(json), out _, out var error));
        Assert.Contains(expected, error);
    }
}
