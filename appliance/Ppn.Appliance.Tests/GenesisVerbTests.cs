using System.CommandLine;
using System.Net;
using Ppn.Appliance.Cli;
using Ppn.Genesis;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>Fixed keys so the CLI's output is the same every run (golden files).</summary>
internal static class Fixed
{
    public static readonly byte[] NodeSeed = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    public static AuthorityCredential Authority(byte salt = 0) => AuthorityCredential.Create(
        Enumerable.Range(50 + salt, 32).Select(i => (byte)i).ToArray(), Enumerable.Range(150 + salt, 32).Select(i => (byte)i).ToArray(),
        new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), Enumerable.Repeat((byte)7, 32).ToArray(), 3);

    /// <summary>Stores the identity made from <see cref="NodeSeed"/> as genesis would have.</summary>
    public static NodeKeyPair StoreIdentity(IVariableStore store)
    {
        var keys = NodeKeyPair.FromSeed(NodeSeed);
        var record = new byte[IdentityRecord.Size];
        new IdentityRecord(IdentityRecord.CurrentVersion, EntropySources.KernelCsprng, keys.PrivateKey.ToArray(), keys.PublicKey).WriteTo(record);
        store.Write(IdentityStore.Variable, IdentityStore.Attributes, record, WriteMode.CreateOrReplace);
        return keys;
    }

    public static (int Code, string Out, string Err) Invoke(Command verb, params string[] args)
    {
        var root = new RootCommand();
        root.Options.Add(Verb.Verbose);
        root.Subcommands.Add(verb);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }
}

public sealed class GenesisVerbTests : IDisposable
{
    private readonly TempDirEfivarfs _nvram = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-genesis-cli-").FullName;
    private readonly AuthorityCredential _authority = Fixed.Authority();
    private bool _holding;

    public GenesisVerbTests()
    {
        File.WriteAllBytes(ConfigPath, _authority.NodeConfigFor(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5)).ToJson());
    }

    private string ConfigPath => Path.Combine(_dir, "node.json");

    public void Dispose()
    {
        _authority.Dispose();
        _nvram.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (int Code, string Out, string Err) Status(params string[] extra)
    {
        var (code, output, err) = Fixed.Invoke(GenesisVerb.Build(new CliEnvironment("/x", () => _nvram, []), ConfigPath, () => _holding), ["genesis", "status", .. extra]);
        return (code, output.Replace(ConfigPath, "<node.json>"), err);
    }

    private void Enrol(byte[] nodeKey, AuthorityCredential by, EnrolmentOrigin origin = EnrolmentOrigin.Join) =>
        new EnrolmentStore(_nvram).Save(by.Grant(nodeKey, 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000), origin);

    [Fact]
    public void A_node_that_never_ran_genesis_is_unenrolled_without_identity()
    {
        var (code, output, _) = Status();
        Assert.Equal(ExitCodes.Ok, code);
        Golden.Match("genesis-status-empty", output);
    }

    [Fact]
    public void A_self_genesis_node_waiting_for_its_claim_is_holding()
    {
        using var keys = Fixed.StoreIdentity(_nvram);
        _holding = true;
        Golden.Match("genesis-status-holding", Status().Out);
    }

    [Fact]
    public void An_enrolled_node_shows_its_assignment_and_the_verified_receipt()
    {
        using var keys = Fixed.StoreIdentity(_nvram);
        Enrol(keys.PublicKey, _authority);
        var (code, output, _) = Status();
        Assert.Equal(ExitCodes.Ok, code);
        Golden.Match("genesis-status-enrolled", output);
        Golden.Match("genesis-status-enrolled-json", Status("--json").Out);
    }

    [Fact]
    public void An_enrolment_signed_by_another_authority_is_shown_invalid_and_the_node_is_not_enrolled()
    {
        using var keys = Fixed.StoreIdentity(_nvram);
        using var other = Fixed.Authority(salt: 1);
        Enrol(keys.PublicKey, other);
        var (code, output, _) = Status();
        Assert.Equal(ExitCodes.Ok, code);
        Golden.Match("genesis-status-foreign-receipt", output);
    }

    [Fact]
    public void Without_a_node_configuration_the_receipt_is_unchecked_and_says_why()
    {
        using var keys = Fixed.StoreIdentity(_nvram);
        Enrol(keys.PublicKey, _authority, EnrolmentOrigin.Claim);
        File.Delete(ConfigPath);
        var (_, output, _) = Status();
        Assert.Contains("state:        unenrolled", output);
        Assert.Contains("receipt:      not checked: no pinned authority", output);
        Assert.Contains("present (by claim)", output);
    }

    [Fact]
    public void The_holding_listener_is_found_in_proc_net_tcp6()
    {
        const string table = """
              sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 000080FE00000000FF005452563412FE_00000000:24E3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
            """;
        Assert.True(ProcNetTcp.IsListeningIn(table, 9443));
        Assert.False(ProcNetTcp.IsListeningIn(table, 9444));
        Assert.False(ProcNetTcp.IsListeningIn(table.Replace(" 0A ", " 01 "), 9443)); // established, not listening
    }
}
