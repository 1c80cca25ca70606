using System.Net;
using System.Text.Json;
using Ppn.Genesis;
using Ppn.Genesis.Enrolment;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>
/// docs/protocol/vectors/mesh-sync.json: generated here (PPN_WRITE_VECTORS=1) from fixed keys (Ed25519 is
/// deterministic), checked always; a second test reads the file alone and reproduces every verdict, as the
/// control plane's implementation (and a relay written by anyone) must.
/// </summary>
public class SyncVectorTests
{
    internal static readonly string Root = FindRoot();
    private static readonly string Dir = Path.Combine(Root, "docs", "protocol", "vectors");
    private static readonly byte[] SigningSeed = Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray(); // genesis-grant.json's authority
    private static readonly byte[] HubKey = Enumerable.Range(0xa0, 32).Select(i => (byte)i).ToArray();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("no ppn.slnx above the test binaries");
    }

    internal static AuthorityCredential Authority(byte[]? seed = null, byte[]? hub = null) => AuthorityCredential.Create(seed ?? SigningSeed,
        Enumerable.Range(0x60, 32).Select(i => (byte)i).ToArray(), new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), hub ?? HubKey, 3);

    internal static byte[] NodeKey(int n) => Enumerable.Range(0, 32).Select(i => (byte)(n * 16 + i)).ToArray();

    private static IEnumerable<(string Name, byte[] Set, ulong HighestAccepted, ulong Floor, SetVerdict Verdict)> Cases()
    {
        using var authority = Authority();
        using var rogue = Authority(Enumerable.Repeat((byte)0x99, 32).ToArray());
        using var otherHub = Authority(hub: Enumerable.Repeat((byte)0x55, 32).ToArray());
        var grants = Enumerable.Range(2, 3).Select(i => authority.Grant(NodeKey(i), (ulong)i, IPAddress.Parse($"10.8.0.{i}"), 1_700_000_000)).ToList();
        var revocation = Revocation.Sign(9, NodeKey(9), 1_700_000_100, authority.SigningPrivateKey);
        byte[] Sign(ulong serial, IEnumerable<EnrolmentGrant> g, IEnumerable<Revocation> r, AuthorityCredential? by = null, byte[]? hub = null) =>
            PeerSet.Sign(serial, 1_700_000_200, hub ?? HubKey, g, r, (by ?? authority).SigningPrivateKey).Bytes;

        var valid = Sign(7, grants, [revocation]);
        yield return ("valid-three-grants-one-revocation", valid, 6, 0, SetVerdict.Accepted);
        yield return ("valid-empty", Sign(1, [], []), 0, 0, SetVerdict.Accepted);
        yield return ("replayed-older-serial", Sign(5, grants, []), 6, 0, SetVerdict.NotNewer);
        yield return ("same-serial-again", valid, 7, 0, SetVerdict.NotNewer);
        var flipped = valid.ToArray(); flipped[^1] ^= 1;
        yield return ("set-signature-flipped", flipped, 6, 0, SetVerdict.BadSetSignature);
        var altered = valid.ToArray(); altered[PeerSet.HeaderSize + 19] = 99; // first grant's address 10.8.0.2 -> 10.8.0.99
        yield return ("grant-address-altered-after-signing", altered, 6, 0, SetVerdict.BadSetSignature);
        yield return ("set-signed-by-another-key", Sign(7, grants, [], rogue), 6, 0, SetVerdict.BadSetSignature);
        // The authority's signature over a set whose entry is forged: each entry is verified on its own too.
        var forgedGrant = grants[1] with { Address = IPAddress.Parse("10.8.0.77") };
        yield return ("forged-grant-inside-a-signed-set", Sign(7, [grants[0], forgedGrant], []), 6, 0, SetVerdict.BadGrant);
        var forgedRevocation = revocation with { NodeId = 10 };
        yield return ("forged-revocation-inside-a-signed-set", Sign(7, grants, [forgedRevocation]), 6, 0, SetVerdict.BadRevocation);
        yield return ("set-for-another-hub", Sign(7, [], [], hub: Enumerable.Repeat((byte)0x55, 32).ToArray()), 6, 0, SetVerdict.WrongHub);
        yield return ("grant-for-another-hub", Sign(7, [otherHub.Grant(NodeKey(6), 6, IPAddress.Parse("10.8.0.6"), 1_700_000_000)], []), 6, 0, SetVerdict.WrongHub);
        yield return ("two-grants-one-address", Sign(7, [grants[0], authority.Grant(NodeKey(7), 7, IPAddress.Parse("10.8.0.2"), 1_700_000_000)], []), 6, 0, SetVerdict.Inconsistent);
        yield return ("revoked-key-also-granted", Sign(7, grants, [Revocation.Sign(2, NodeKey(2), 1_700_000_100, authority.SigningPrivateKey)]), 6, 0, SetVerdict.Inconsistent);
        yield return ("refusal-as-a-grant", Sign(7, [authority.Refusal(NodeKey(8), 1_700_000_000)], []), 6, 0, SetVerdict.BadGrant);
        yield return ("truncated", valid[..^1], 6, 0, SetVerdict.Malformed);
        var counts = valid.ToArray(); counts[57] = 4;
        yield return ("grant-count-lies", counts, 6, 0, SetVerdict.Malformed);
        var version = valid.ToArray(); version[4] = 2;
        yield return ("version-2", version, 6, 0, SetVerdict.Malformed);
        // After a reboot that lost the set's file: nothing held, the floor says 7 (sync.md §Node state, catching up).
        yield return ("after-a-reboot-the-set-at-the-floor-is-taken-again", valid, 0, 7, SetVerdict.Accepted);
        yield return ("after-a-reboot-a-set-below-the-floor-is-refused", Sign(5, grants, []), 0, 7, SetVerdict.NotNewer);
    }

    internal static string Generate()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            using var authority = Authority();
            w.WriteStartObject();
            w.WriteString("description", "Mesh sync (docs/protocol/sync.md): peer sets with the verdict a node must reach that holds a set of serial highestAccepted (0: none) and whose serial floor is floor (0: none; a held set raises it to its serial), and the since its next request carries; the revocation record; the sync port: request, reply header and endpoint hint, and hints a receiver drops; PpnPeerSetSerial values (serialFloorRecords: ok with the serial, or none).");
            w.WriteString("signingSeedEd25519", Convert.ToHexStringLower(SigningSeed));
            w.WriteString("signingPublicKeyEd25519", Convert.ToHexStringLower(authority.SigningPublicKey));
            w.WriteString("hubPublicKey", Convert.ToHexStringLower(HubKey));
            w.WriteStartArray("sets");
            foreach (var (name, set, highest, floor, verdict) in Cases())
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteNumber("highestAccepted", highest);
                w.WriteNumber("floor", floor);
                ulong effectiveFloor = Math.Max(floor, highest); // accepting the held set raised the floor to its serial
                w.WriteNumber("since", Math.Max(highest, effectiveFloor > 0 ? effectiveFloor - 1 : 0));
                w.WriteString("verdict", verdict.ToString());
                w.WriteString("set", Convert.ToHexStringLower(set));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            var revocation = Revocation.Sign(9, NodeKey(9), 1_700_000_100, authority.SigningPrivateKey);
            w.WriteStartObject("revocation");
            w.WriteNumber("nodeId", 9);
            w.WriteString("nodePublicKey", Convert.ToHexStringLower(NodeKey(9)));
            w.WriteNumber("revokedAt", 1_700_000_100);
            w.WriteString("record", Convert.ToHexStringLower(revocation.ToBytes()));
            w.WriteEndObject();
            var request = new byte[SyncWire.RequestSize];
            SyncWire.WriteRequest(request, 6);
            w.WriteString("requestSince6", Convert.ToHexStringLower(request));
            var header = new byte[SyncWire.ReplyHeaderSize];
            SyncWire.WriteReplyHeader(header, ReplyStatus.NotModified, 0, 1);
            w.WriteString("replyHeaderNotModifiedOneHint", Convert.ToHexStringLower(header));
            var hint = new byte[EndpointHint.Size];
            SyncWire.WriteHint(hint, new EndpointHint(new Ppn.Mesh.WireGuard.WireGuardKey(NodeKey(2)), IPEndPoint.Parse("192.168.79.2:51820"), 12));
            w.WriteString("hint10802At192.168.79.2:51820Age12", Convert.ToHexStringLower(hint));
            w.WriteStartArray("droppedHints");
            foreach (var (name, dropped) in DroppedHints())
            {
                var bytes = new byte[EndpointHint.Size];
                SyncWire.WriteHint(bytes, dropped);
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("hint", Convert.ToHexStringLower(bytes));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteSerialFloorRecords(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    // Hints a receiver skips (sync.md §Sync port, "Dropped hints"): never an error, the rest of the reply is used.
    private static IEnumerable<(string Name, EndpointHint Hint)> DroppedHints()
    {
        var key = new Ppn.Mesh.WireGuard.WireGuardKey(NodeKey(2));
        yield return ("zero-key", new EndpointHint(new Ppn.Mesh.WireGuard.WireGuardKey(new byte[32]), IPEndPoint.Parse("192.168.79.2:51820"), 12));
        yield return ("port-0", new EndpointHint(key, new IPEndPoint(IPAddress.Parse("192.168.79.2"), 0), 12));
        yield return ("unspecified-ipv6", new EndpointHint(key, new IPEndPoint(IPAddress.IPv6Any, 51820), 12));
        yield return ("unspecified-ipv4-mapped", new EndpointHint(key, new IPEndPoint(IPAddress.Any, 51820), 12));
    }

    /// <summary>
    /// PpnPeerSetSerial values (sync.md §Node state): serial BE | ~serial BE. The codec lives in the appliance
    /// (UefiSerialFloor), whose tests read these cases back through it; written here from the rule.
    /// </summary>
    private static void WriteSerialFloorRecords(Utf8JsonWriter w)
    {
        static byte[] Record(ulong serial, ulong complement)
        {
            var r = new byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(r, serial);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(r.AsSpan(8), complement);
            return r;
        }
        var cases = new (string Name, byte[] Value, ulong? Serial)[]
        {
            ("serial-1", Record(1, ~1UL), 1),
            ("serial-7", Record(7, ~7UL), 7),
            ("serial-max", Record(ulong.MaxValue, 0), ulong.MaxValue),
            ("complement-wrong", Record(7, ~6UL), null),
            ("all-zero", Record(0, 0), null),
            ("fifteen-bytes", Record(7, ~7UL)[..15], null),
            ("seventeen-bytes", [.. Record(7, ~7UL), 0], null),
        };
        w.WriteStartArray("serialFloorRecords");
        foreach (var (name, value, serial) in cases)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("value", Convert.ToHexStringLower(value));
            w.WriteString("verdict", serial is null ? "none" : "ok");
            if (serial is { } v) w.WriteNumber("serial", v);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    [Fact]
    public void The_sync_port_vectors_parse_from_the_file_and_are_what_the_writer_writes()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "mesh-sync.json")));
        var root = doc.RootElement;
        var header = Convert.FromHexString(root.GetProperty("replyHeaderNotModifiedOneHint").GetString()!);
        Assert.True(SyncWire.TryParseReplyHeader(header, out var status, out int setLength, out int hintCount, out var error), error);
        Assert.Equal((ReplyStatus.NotModified, 0, 1), (status, setLength, hintCount));
        var written = new byte[SyncWire.ReplyHeaderSize];
        SyncWire.WriteReplyHeader(written, status, setLength, hintCount);
        Assert.Equal(header, written);

        var request = Convert.FromHexString(root.GetProperty("requestSince6").GetString()!);
        var writtenRequest = new byte[SyncWire.RequestSize];
        SyncWire.WriteRequest(writtenRequest, 6);
        Assert.Equal(request, writtenRequest);

        var hintBytes = Convert.FromHexString(root.GetProperty("hint10802At192.168.79.2:51820Age12").GetString()!);
        Assert.True(SyncWire.TryParseHint(hintBytes, out var hint));
        Assert.Equal(NodeKey(2), hint!.PublicKey.Bytes.ToArray());
        Assert.Equal(IPEndPoint.Parse("192.168.79.2:51820"), hint.Endpoint);
        Assert.Equal(12U, hint.AgeSeconds);
        var writtenHint = new byte[EndpointHint.Size];
        SyncWire.WriteHint(writtenHint, hint);
        Assert.Equal(hintBytes, writtenHint);

        int dropped = 0;
        foreach (var c in root.GetProperty("droppedHints").EnumerateArray())
        {
            Assert.False(SyncWire.TryParseHint(Convert.FromHexString(c.GetProperty("hint").GetString()!), out _), c.GetProperty("name").GetString());
            dropped++;
        }
        Assert.Equal(4, dropped);
    }

    [Fact]
    public void The_vector_file_is_what_the_generator_produces()
    {
        var generated = Generate();
        var path = Path.Combine(Dir, "mesh-sync.json");
        if (Environment.GetEnvironmentVariable("PPN_WRITE_VECTORS") == "1") File.WriteAllText(path, generated);
        Assert.Equal(generated, File.ReadAllText(path));
    }

    [Fact]
    public void Every_set_vector_gets_its_verdict_from_the_file_alone()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "mesh-sync.json")));
        var root = doc.RootElement;
        var trust = new AuthorityTrust([Convert.FromHexString(root.GetProperty("signingPublicKeyEd25519").GetString()!)], [new byte[32]]);
        var hub = Convert.FromHexString(root.GetProperty("hubPublicKey").GetString()!);
        int n = 0;
        foreach (var v in root.GetProperty("sets").EnumerateArray())
        {
            var state = new PeerSetState(trust, hub, new MemoryPeerSetStore(), floor: new MemorySerialFloor(v.GetProperty("floor").GetUInt64()));
            ulong highest = v.GetProperty("highestAccepted").GetUInt64();
            if (highest > 0) Assert.Equal(SetVerdict.Accepted, state.Offer(PeerSet.Sign(highest, 0, hub, [], [], TestAuthority.SigningPrivateKey).Bytes, out _));
            Assert.Equal(v.GetProperty("since").GetUInt64(), state.RequestSince);
            var verdict = state.Offer(Convert.FromHexString(v.GetProperty("set").GetString()!), out var detail);
            Assert.True(verdict.ToString() == v.GetProperty("verdict").GetString(), $"{v.GetProperty("name").GetString()}: {verdict} ({detail})");
            if (verdict != SetVerdict.Accepted) Assert.Equal(highest, state.HeldSerial); // refused: nothing applied
            n++;
        }
        Assert.Equal(19, n);
        var rev = root.GetProperty("revocation");
        Assert.True(Revocation.TryParse(Convert.FromHexString(rev.GetProperty("record").GetString()!), out var parsed, out _));
        Assert.True(parsed!.IsSignedBy(trust));
        Assert.Equal(9UL, parsed.NodeId);
        Assert.True(SyncWire.TryParseRequest(Convert.FromHexString(root.GetProperty("requestSince6").GetString()!), out var since));
        Assert.Equal(6UL, since);
    }

    private static readonly AuthorityCredential TestAuthority = Authority();
}
