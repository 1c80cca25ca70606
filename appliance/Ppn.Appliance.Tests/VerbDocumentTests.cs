using System.Text.Json;
using Ppn.Appliance.Cli;

namespace Ppn.Appliance.Tests;

/// <summary>The --json documents keep the shapes docs/operations.md shows: absent values null where a script expects the key, omitted where the text output omits them.</summary>
public sealed class VerbDocumentTests
{
    [Fact]
    public void Mesh_status_writes_null_for_an_unknown_key_endpoint_or_handshake_and_omits_a_missing_link()
    {
        var doc = new MeshStatusDocument("ppn0", "kernel", null, 51820, null, null, "not enrolled", null,
            [new MeshPeerPart("a+b/c=", null, ["10.8.0.0/24"], null, 1, 2, 25)]);
        var text = JsonSerializer.Serialize(doc, VerbJson.Greppable.MeshStatusDocument);
        Assert.Contains("\"publicKey\": null", text);
        Assert.Contains("\"endpoint\": null", text);
        Assert.Contains("\"latestHandshake\": null", text);
        Assert.Contains("\"a+b/c=\"", text);
        Assert.DoesNotContain("\"mtu\"", text);
        Assert.DoesNotContain("\"up\"", text);
        Assert.Contains("\"allowedIps\": [", text);
        Assert.DoesNotContain("\"sync\"", text); // no sync agent runs
    }

    [Fact]
    public void Mesh_status_carries_the_sync_agents_status_when_one_runs()
    {
        var sync = new Ppn.Mesh.Sync.SyncStatus("relay", 7, 3, "roster", new SortedDictionary<string, long>(StringComparer.Ordinal) { ["NotNewer"] = 0, ["RosterTorn"] = 1 });
        var doc = new MeshStatusDocument("ppn0", "kernel", null, 51820, null, null, "relay", sync, []);
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(doc, VerbJson.Greppable.MeshStatusDocument));
        var part = json.RootElement.GetProperty("sync");
        Assert.Equal(["role", "serial", "peers", "source", "refusals"], part.EnumerateObject().Select(p => p.Name));
        Assert.Equal(7UL, part.GetProperty("serial").GetUInt64());
        Assert.Equal(1, part.GetProperty("refusals").GetProperty("RosterTorn").GetInt64());
        Assert.Equal("relay, serial 7 (roster), 3 peer(s), refused: RosterTorn 1", MeshVerb.SyncLine(sync));
    }

    [Fact]
    public void A_claim_of_an_already_enrolled_node_names_who_enrolled_it_and_no_grant_fields()
    {
        var doc = new ClaimDocument("[fe80::1%eth0]:9443", "node", "authority", null, null, null, null, null, null, null, "already-enrolled");
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(doc, VerbJson.Greppable.ClaimDocument));
        Assert.Equal(["node", "nodePublicKey", "enrolledBy", "ack"], json.RootElement.EnumerateObject().Select(p => p.Name));
    }
}
