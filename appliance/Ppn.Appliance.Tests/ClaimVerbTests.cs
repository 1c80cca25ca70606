using System.Net;
using System.Text.RegularExpressions;
using Ppn.Appliance.Cli;
using Ppn.Genesis;
using Ppn.Genesis.Claim;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;
using Ppn.Genesis.Testing;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>`ppn claim` against a real holding listener and claim handler (the node side) on loopback.</summary>
public sealed class ClaimVerbTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private readonly TempDirEfivarfs _nodeNvram = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-claim-cli-").FullName;
    private readonly AuthorityCredential _authority = Fixed.Authority();
    private readonly NodeKeyPair _node = NodeKeyPair.FromSeed(Fixed.NodeSeed);

    public ClaimVerbTests() => _authority.Save(CredentialPath);

    private string CredentialPath => Path.Combine(_dir, "authority.json");

    public void Dispose()
    {
        _node.Dispose();
        _authority.Dispose();
        _nodeNvram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A holding node on [::1]: banner with its key, claims checked against <paramref name="pinned"/>.</summary>
    private (HoldingListener Listener, ClaimHandler Claims) HoldingNode(AuthorityTrust pinned)
    {
        var claims = new ClaimHandler(_node, pinned, new EnrolmentStore(_nodeNvram), _ => { });
        var listener = LoopbackHolding.Start(() => GenesisBanner.Format(_node.PublicKeyBase64), claims);
        return (listener, claims);
    }

    private static (int Code, string Out, string Err) Claim(params string[] args) => Fixed.Invoke(ClaimVerb.Build(() => Now), ["claim", .. args]);

    private static string WithoutPort(string text) => Regex.Replace(text, @"\]:\d+", "]:PORT");

    [Fact]
    public void A_claim_grants_the_address_and_the_node_stores_the_enrolment()
    {
        var (listener, claims) = HoldingNode(_authority.Trust);
        using (listener)
        {
            var port = listener.LocalEndPoints[0].Port.ToString();
            var (code, output, err) = Claim("::1", "--port", port, "--credential", CredentialPath, "--mesh-address", "10.8.0.5");
            Assert.True(code == ExitCodes.Ok, err);
            Golden.Match("claim", WithoutPort(output));
            var stored = new EnrolmentStore(_nodeNvram).TryLoad(_node.PublicKey, _authority.Trust, out var origin, out _);
            Assert.Equal(EnrolmentOrigin.Claim, origin);
            Assert.Equal(5UL, stored!.NodeId);
            Assert.True(claims.Claimed.IsCompletedSuccessfully);
        }
    }

    [Fact]
    public void The_json_output_carries_the_grant()
    {
        var (listener, _) = HoldingNode(_authority.Trust);
        using (listener)
        {
            var (code, output, err) = Claim($"[::1]:{listener.LocalEndPoints[0].Port}", "--credential", CredentialPath, "--mesh-address", "10.8.0.9", "--node-id", "77", "--json");
            Assert.True(code == ExitCodes.Ok, err);
            Golden.Match("claim-json", WithoutPort(output));
        }
    }

    [Fact]
    public void A_node_that_pins_another_authority_refuses_and_nothing_is_stored()
    {
        using var other = Fixed.Authority(salt: 1);
        var (listener, _) = HoldingNode(other.Trust);
        using (listener)
        {
            var (code, _, err) = Claim("::1", "--port", listener.LocalEndPoints[0].Port.ToString(), "--credential", CredentialPath, "--mesh-address", "10.8.0.5", "--timeout", "3");
            Assert.Equal(ExitCodes.Integrity, code);
            Assert.Contains("claim of [::1]:", err);
            Assert.Null(_nodeNvram.Store.TryRead(EnrolmentStore.Variable));
        }
    }

    [Theory]
    [InlineData("fe80::1", "10.8.0.5", "say which interface")]
    [InlineData("fe80::1%nosuchif0", "10.8.0.5", "no network interface")]
    [InlineData("node-17.local", "10.8.0.5", "not an IP address")]
    [InlineData("::1", "10.8.0.1", "not a node address")]
    [InlineData("::1", "10.9.0.5", "not a node address")]
    public void Bad_input_is_refused_before_any_connection(string target, string meshAddress, string expected)
    {
        var (code, _, err) = Claim(target, "--credential", CredentialPath, "--mesh-address", meshAddress);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(expected, err);
    }

    [Theory]
    [InlineData("16384")]
    [InlineData("99999")]
    [InlineData("18446744073709551615")]
    public void A_node_id_beyond_the_14_bit_command_target_is_refused_before_any_connection(string nodeId)
    {
        var (code, _, err) = Claim("::1", "--credential", CredentialPath, "--mesh-address", "10.8.0.5", "--node-id", nodeId, "--port", "1");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"--node-id {nodeId} is out of range: node ids are 0..16383", err);
    }

    [Fact]
    public void A_credential_others_can_read_is_refused()
    {
        File.SetUnixFileMode(CredentialPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var (code, _, err) = Claim("::1", "--credential", CredentialPath, "--mesh-address", "10.8.0.5");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("chmod 600", err);
    }

    [Fact]
    public void Targets_parse_as_a_technician_types_them()
    {
        Assert.True(ClaimTarget.TryParse("[fe80::5054:ff:fe12:3456%eth0]:9000", 9443, out var ep, out _, _ => 4));
        Assert.Equal(4, ep!.Address.ScopeId);
        Assert.Equal(9000, ep.Port);
        Assert.True(ClaimTarget.TryParse("fe80::1%eth0", 9443, out ep, out _, _ => 2));
        Assert.Equal(9443, ep!.Port);
        Assert.True(ClaimTarget.TryParse("192.0.2.5:9444", 9443, out ep, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.5"), 9444), ep);
        Assert.False(ClaimTarget.TryParse("192.0.2.5%eth0", 9443, out _, out _));
        Assert.False(ClaimTarget.TryParse("[::1]:99999", 9443, out _, out _));
    }

    [Fact]
    public void A_node_enrolled_by_this_authority_is_reported_as_already_claimed_with_exit_0()
    {
        using var listener = LoopbackHolding.Start(() => GenesisBanner.FormatEnrolled(_node.PublicKey, _authority.NoisePublicKey), new NoClaimYet());
        var (code, output, err) = Claim("::1", "--port", listener.LocalEndPoints[0].Port.ToString(), "--credential", CredentialPath, "--mesh-address", "10.8.0.5");
        Assert.True(code == ExitCodes.Ok, err);
        Assert.Contains("already claimed [::1]:", output);
        Assert.Contains("node ack:     already enrolled", output);
    }

    [Fact]
    public void A_node_enrolled_by_another_authority_is_a_conflict_naming_its_key()
    {
        using var other = Fixed.Authority(salt: 1);
        using var listener = LoopbackHolding.Start(() => GenesisBanner.FormatEnrolled(_node.PublicKey, other.NoisePublicKey), new NoClaimYet());
        var (code, _, err) = Claim("::1", "--port", listener.LocalEndPoints[0].Port.ToString(), "--credential", CredentialPath, "--mesh-address", "10.8.0.5");
        Assert.Equal(ExitCodes.Conflict, code);
        Assert.Contains($"already enrolled by another authority (Noise key {Convert.ToBase64String(other.NoisePublicKey)})", err);
    }

    [Fact]
    public void A_lost_ack_is_exit_9_outcome_unknown_and_says_how_to_check()
    {
        using var listener = LoopbackHolding.Start(() => GenesisBanner.Format(_node.PublicKeyBase64), new AckLosingNode(_node, _authority.NoisePublicKey, TimeSpan.FromSeconds(10)));
        var (code, _, err) = Claim("::1", "--port", listener.LocalEndPoints[0].Port.ToString(), "--credential", CredentialPath, "--mesh-address", "10.8.0.5", "--timeout", "3");
        Assert.Equal(ExitCodes.OutcomeUnknown, code);
        Assert.Contains("outcome unknown", err);
        Assert.Contains("ppn genesis status", err);
        Assert.DoesNotContain("   at ", err); // one line, no stack trace
    }
}
