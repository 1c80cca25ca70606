using System.Text;
using Ppn.Formats;

namespace Ppn.Genesis.Tests;

public class NodeConfigTests
{
    private static readonly string KeyA = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string KeyB = Convert.ToBase64String(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());
    private static readonly string KeyC = Convert.ToBase64String(Enumerable.Range(201, 32).Select(i => (byte)(i * 3)).ToArray());

    public static string Valid(string? replace = null, string? with = null)
    {
        var json = $$"""
            {
              "format": 2,
              "authority": { "beaconSigningKeysEd25519": ["{{KeyA}}"], "noiseStaticKeysX25519": ["{{KeyB}}"] },
              "scanWindowSeconds": 30,
              "beaconPeriodSeconds": 5
            }
            """;
        return replace is null ? json : json.Replace(replace, with, StringComparison.Ordinal);
    }

    private static IReadOnlyList<NodeConfigError> Errors(string json)
    {
        Assert.False(NodeConfig.TryParse(Encoding.UTF8.GetBytes(json), out var config, out var errors));
        Assert.Null(config);
        Assert.NotEmpty(errors);
        return errors;
    }

    [Fact]
    public void A_valid_configuration_parses_into_every_field()
    {
        Assert.True(NodeConfig.TryParse(Encoding.UTF8.GetBytes(Valid()), out var config, out var errors), string.Join("\n", errors));
        Assert.Equal(Convert.FromBase64String(KeyA), config.AuthorityBeaconKeysEd25519.Single().ToArray());
        Assert.Equal(Convert.FromBase64String(KeyB), config.AuthorityNoiseKeysX25519.Single().ToArray());
        Assert.Equal(TimeSpan.FromSeconds(30), config.ScanWindow);
        Assert.Equal(TimeSpan.FromSeconds(5), config.BeaconPeriod);
        Assert.Empty(config.CommandGroups);
    }

    [Fact]
    public void Format_1_is_refused_naming_the_fields_the_node_never_used()
    {
        var old = $$"""
            { "format": 1, "authority": { "beaconSigningKeysEd25519": ["{{KeyA}}"], "noiseStaticKeysX25519": ["{{KeyB}}"] },
              "scanWindowSeconds": 30, "beaconPeriodSeconds": 5, "nicProfile": "bcm57765",
              "hub": { "endpoint": "198.51.100.7:51820", "wireGuardPublicKey": "{{KeyC}}" }, "commandKeyEpoch": 3 }
            """;
        var error = Assert.Single(Errors(old));
        Assert.Equal("format", error.Field);
        Assert.Contains("hub, commandKeyEpoch and nicProfile", error.Problem);
        Assert.Contains("\"format\": 2", error.Fix);
    }

    [Theory]
    [InlineData("hub", "{ \"endpoint\": \"198.51.100.7:51820\" }")]
    [InlineData("commandKeyEpoch", "3")]
    [InlineData("nicProfile", "\"bcm57765\"")]
    public void The_fields_the_grant_and_the_pci_id_decide_are_unknown_in_format_2(string field, string value)
    {
        var error = Assert.Single(Errors(Valid("\"beaconPeriodSeconds\": 5", $"\"beaconPeriodSeconds\": 5, \"{field}\": {value}")));
        Assert.Equal(field, error.Field);
        Assert.Equal("is not a field of format 2", error.Problem);
    }

    [Fact]
    public void The_canonical_json_round_trips_and_is_stable()
    {
        Assert.True(NodeConfig.TryParse(Encoding.UTF8.GetBytes(Valid()), out var config, out _));
        var canonical = config.ToJson();
        Assert.True(NodeConfig.TryParse(canonical, out var again, out _));
        Assert.Equal(canonical, again.ToJson());
        Assert.EndsWith("}\n", Encoding.UTF8.GetString(canonical), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"scanWindowSeconds\": 30", "\"scanWindowSeconds\": 0", "scanWindowSeconds")]
    [InlineData("\"scanWindowSeconds\": 30", "\"scanWindowSeconds\": \"30\"", "scanWindowSeconds")]
    [InlineData("\"beaconPeriodSeconds\": 5", "\"beaconPeriodSeconds\": 60", "beaconPeriodSeconds")]
    [InlineData("\"beaconPeriodSeconds\": 5", "\"beaconPeriodSeconds\": 5, \"comandGroups\": [4]", "comandGroups")]
    [InlineData("\"format\": 2", "\"format\": 3", "format")]
    public void A_bad_field_is_reported_by_name_with_what_to_do(string replace, string with, string field)
    {
        var error = Assert.Single(Errors(Valid(replace, with)));
        Assert.Equal(field, error.Field);
        Assert.False(string.IsNullOrWhiteSpace(error.Problem));
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }

    [Fact]
    public void Command_groups_are_optional_and_round_trip()
    {
        Assert.True(NodeConfig.TryParse(Encoding.UTF8.GetBytes(Valid()), out var none, out _));
        Assert.Empty(none.CommandGroups);
        Assert.True(NodeConfig.TryParse(Encoding.UTF8.GetBytes(Valid("\"beaconPeriodSeconds\": 5", "\"beaconPeriodSeconds\": 5, \"commandGroups\": [7, 300]")), out var config, out var errors), string.Join("\n", errors));
        Assert.Equal([(ushort)7, (ushort)300], config.CommandGroups);
        Assert.True(NodeConfig.TryParse(config.ToJson(), out var again, out _));
        Assert.Equal(config.CommandGroups, again.CommandGroups);
    }

    [Theory]
    [InlineData("[16384]", "commandGroups[0]")]
    [InlineData("[7, 7]", "commandGroups[1]")]
    [InlineData("[\"7\"]", "commandGroups[0]")]
    [InlineData("7", "commandGroups")]
    [InlineData("[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]", "commandGroups")]
    public void Bad_command_groups_are_named(string groups, string field)
    {
        var error = Assert.Single(Errors(Valid("\"beaconPeriodSeconds\": 5", $"\"beaconPeriodSeconds\": 5, \"commandGroups\": {groups}")));
        Assert.Equal(field, error.Field);
        Assert.Contains("0 to 16383", error.Fix);
    }

    [Fact]
    public void Keys_must_be_32_bytes_nonzero_and_distinct_and_each_bad_key_is_named()
    {
        var shortKey = Convert.ToBase64String(new byte[31]);
        var zero = Convert.ToBase64String(new byte[32]);
        var errors = Errors(Valid($"[\"{KeyA}\"]", $"[\"{KeyA}\", \"{shortKey}\", \"{zero}\", \"{KeyA}\"]"));
        Assert.Equal(["authority.beaconSigningKeysEd25519[1]", "authority.beaconSigningKeysEd25519[2]", "authority.beaconSigningKeysEd25519[3]"],
            errors.Select(e => e.Field));
        Assert.Contains("Ed25519", errors[0].Fix);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var json = Valid("\"scanWindowSeconds\": 30,", "").Replace("\"beaconPeriodSeconds\": 5", "\"beaconPeriodSeconds\": 1.5", StringComparison.Ordinal);
        var errors = Errors(json);
        Assert.Contains(errors, e => e.Field == "scanWindowSeconds" && e.Problem == "is missing");
        Assert.Contains(errors, e => e.Field == "beaconPeriodSeconds");
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{")]
    [InlineData("{\"format\": 1} trailing")]
    [InlineData("\"just a string\"")]
    [InlineData("{\"format\": {\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}}")]
    public void Hostile_documents_fail_without_throwing(string json) => Errors(json);

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(7);
        var valid = Encoding.UTF8.GetBytes(Valid());
        for (int i = 0; i < 2000; i++)
        {
            var mutated = (byte[])valid.Clone();
            for (int j = 0; j < 1 + (i % 5); j++)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }
            NodeConfig.TryParse(mutated, out _, out _);
        }
    }

    [Fact]
    public void Loading_a_missing_file_says_how_to_bake_a_configuration_in()
    {
        Assert.False(NodeConfig.TryLoad("/nonexistent/node.json", out _, out var errors));
        Assert.Contains("--config", Assert.Single(errors).Fix);
    }

    [Fact]
    public void Describe_names_both_authority_key_kinds()
    {
        Assert.True(NodeConfig.TryParse(Encoding.UTF8.GetBytes(Valid()), out var config, out _));
        var text = string.Join("\n", config.Describe());
        Assert.Contains($"(Ed25519): {KeyA}", text);
        Assert.Contains($"(X25519):    {KeyB}", text);
        Assert.Contains("scan window:       30 s", text);
    }
}
