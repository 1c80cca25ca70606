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
