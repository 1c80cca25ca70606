using System.Net;
using System.Text.Json;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Join;

namespace Ppn.Genesis.Tests;

/// <summary>
/// docs/protocol/vectors/genesis-beacon.json and genesis-grant.json: generated here (PPN_WRITE_VECTORS=1) from
/// fixed keys (Ed25519 signatures are deterministic), checked always; a second test reads the files alone and
/// reproduces every verdict, as the control-plane team's implementation must.
/// </summary>
public class GenesisVectorTests
{
    private static readonly string Dir = Path.Combine(Repository.Root, "docs", "protocol", "vectors");
    private static readonly byte[] SigningSeed = Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] NoisePrivate = Enumerable.Range(0x60, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] NodePublic = Convert.FromHexString("8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f"); // identity-record.json's key
    private static readonly byte[] NodePrivate = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e5f"); // and its private key
    private static readonly byte[] HelloNonce = Enumerable.Range(0xc0, GenesisWire.ClaimHelloNonceSize).Select(i => (byte)i).ToArray();

    private static AuthorityCredential Authority(byte[]? seed = null) => AuthorityCredential.Create(seed ?? SigningSeed, seed is null ? NoisePrivate : seed.Reverse().ToArray(),
        new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), Enumerable.Range(0xa0, 32).Select(i => (byte)i).ToArray(), 3);

    private static IEnumerable<(string Name, byte[] Datagram, BeaconVerdict Verdict)> BeaconCases()
    {
        using var authority = Authority();
        using var rogue = Authority(Enumerable.Repeat((byte)0x99, 32).ToArray());
        var registrar = IPAddress.Parse("fe80::5054:ff:fe00:1");
        byte[] Sign(AuthorityCredential by, IPAddress address, byte[] noiseKey, ulong sequence, ushort port = 7443)
        {
            var d = new byte[BeaconPacket.Size];
            new BeaconPacket(address, port, noiseKey, sequence).Sign(by.SigningPrivateKey, d);
            return d;
        }
        var valid = Sign(authority, registrar, authority.NoisePublicKey, 1);
        yield return ("valid-link-local-registrar", valid, BeaconVerdict.Accepted);
        yield return ("valid-global-registrar", Sign(authority, IPAddress.Parse("2001:db8::7"), authority.NoisePublicKey, 2), BeaconVerdict.Accepted);
        var tampered = valid.ToArray(); tampered[7] ^= 1;
        yield return ("tampered-port", tampered, BeaconVerdict.BadSignature);
        yield return ("signed-by-another-key", Sign(rogue, registrar, authority.NoisePublicKey, 1), BeaconVerdict.BadSignature);
        yield return ("unpinned-noise-key", Sign(authority, registrar, rogue.NoisePublicKey, 3), BeaconVerdict.UnknownAuthorityKey);
        var version = valid.ToArray(); version[4] = 2;
        yield return ("version-2", version, BeaconVerdict.Malformed);
        var flags = valid.ToArray(); flags[5] = 1;
        yield return ("unknown-flags", flags, BeaconVerdict.Malformed);
        yield return ("truncated", valid[..127], BeaconVerdict.Malformed);
        var mapped = valid.ToArray(); IPAddress.Parse("::ffff:192.0.2.1").TryWriteBytes(mapped.AsSpan(8, 16), out _);
        yield return ("ipv4-mapped-registrar", mapped, BeaconVerdict.Malformed);
        // Correctly signed, and still refused on the layout: nobody listens on port 0 or at ::.
        yield return ("signed-port-0", Sign(authority, registrar, authority.NoisePublicKey, 4, port: 0), BeaconVerdict.Malformed);
        yield return ("signed-unspecified-registrar", Sign(authority, IPAddress.IPv6Any, authority.NoisePublicKey, 5), BeaconVerdict.Malformed);
    }

    private static IEnumerable<(string Name, byte[] Grant, string Verdict)> GrantCases()
    {
        using var authority = Authority();
        using var rogue = Authority(Enumerable.Repeat((byte)0x99, 32).ToArray());
        byte[] Bytes(EnrolmentGrant g) { var d = new byte[EnrolmentGrant.Size]; g.WriteTo(d); return d; }
        var valid = Bytes(authority.Grant(NodePublic, 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000));
        yield return ("granted", valid, "granted");
        yield return ("refused", Bytes(authority.Refusal(NodePublic, 1_700_000_000)), "refused");
        yield return ("refused-address-pool-full", Bytes(authority.Refusal(NodePublic, 1_700_000_000, RefusalReason.AddressPoolFull)), "refused");
        yield return ("refused-node-ids-exhausted", Bytes(authority.Refusal(NodePublic, 1_700_000_000, RefusalReason.NodeIdsExhausted)), "refused");
        yield return ("refused-revoked", Bytes(authority.Refusal(NodePublic, 1_700_000_000, RefusalReason.Revoked)), "refused");
        // A reason this node does not know is still a refusal (forward compatibility): shown by its code.
        yield return ("refused-unknown-reason-200", Bytes(authority.Refusal(NodePublic, 1_700_000_000, (RefusalReason)200)), "refused");
        var reasonChanged = Bytes(authority.Refusal(NodePublic, 1_700_000_000, RefusalReason.AddressPoolFull)); reasonChanged[6] = (byte)RefusalReason.Revoked;
        yield return ("refusal-reason-tampered", reasonChanged, "bad-receipt"); // the receipt covers the reason
        yield return ("granted-with-a-refusal-reason", Bytes((authority.Grant(NodePublic, 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000) with { Reason = RefusalReason.AddressPoolFull }).SignedWith(authority.SigningPrivateKey)), "malformed");
        var tampered = valid.ToArray(); tampered[19] = 6; // 10.8.0.6: the receipt no longer verifies
        yield return ("tampered-address", tampered, "bad-receipt");
        yield return ("signed-by-another-key", Bytes(rogue.Grant(NodePublic, 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000)), "bad-receipt");
        yield return ("for-another-node", Bytes(authority.Grant(Enumerable.Repeat((byte)0x42, 32).ToArray(), 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000)), "bad-receipt");
        // Commands carry a 4-bit epoch: 16 is refused, never taken mod 16 (it would name epoch 0's key).
        yield return ("command-key-epoch-16", Bytes((authority.Grant(NodePublic, 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000) with { CommandKeyEpoch = 16 }).SignedWith(authority.SigningPrivateKey)), "malformed");
        yield return ("hub-address-granted", Bytes(authority.Grant(NodePublic, 5, IPAddress.Parse("10.8.0.1"), 1_700_000_000)), "malformed");
        var version = valid.ToArray(); version[4] = 2;
        yield return ("version-2", version, "malformed");
        yield return ("truncated", valid[..179], "malformed");
    }

    private static string GenerateBeacons()
    {
        using var authority = Authority();
        return Json(w =>
        {
            w.WriteString("spec", "docs/protocol/genesis.md#beacon-udp-8090-128-bytes");
            w.WriteString("signingSeedEd25519", Convert.ToHexStringLower(SigningSeed));
            w.WriteString("signingPublicKeyEd25519", Convert.ToHexStringLower(authority.SigningPublicKey));
            w.WriteString("noisePublicKeyX25519", Convert.ToHexStringLower(authority.NoisePublicKey));
            w.WriteString("signatureDomain", "PPN-BEACON-v1");
            w.WriteStartArray("cases");
            foreach (var (name, datagram, verdict) in BeaconCases())
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("datagram", Convert.ToHexStringLower(datagram));
                w.WriteString("verdict", verdict.ToString());
                if (verdict == BeaconVerdict.Accepted && BeaconPacket.TryParse(datagram, out var b))
                {
                    w.WriteString("registrar", b.RegistrarAddress.ToString());
                    w.WriteNumber("registrarPort", b.RegistrarPort);
                    w.WriteNumber("sequence", b.Sequence);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static string GenerateGrants()
    {
        using var authority = Authority();
        var grant = GrantCases().First().Grant;
        EnrolmentGrant.TryParse(grant, out var parsed, out _);
        var request = new byte[GenesisWire.RequestSize]; GenesisWire.WriteRequest(request, RequestKind.Join, 42);
        var ack = new byte[GenesisWire.AckSize]; GenesisWire.WriteAck(ack, AckStatus.Persisted);
        var hello = new byte[GenesisWire.ClaimHelloSize];
        Assert.True(GenesisWire.TryWriteClaimHello(hello, NoisePrivate, NodePublic, HelloNonce));
        var secret = new byte[32];
        Assert.True(GenesisWire.TryClaimHelloSecret(secret, NoisePrivate, NodePublic));
        var refusal = new byte[GenesisWire.ClaimRefusalSize]; GenesisWire.WriteClaimRefusal(refusal, ClaimRefusal.NotPinned);
        return Json(w =>
        {
            w.WriteString("spec", "docs/protocol/genesis.md#grant-180-bytes-and-registry-binding-receipt");
            w.WriteString("signingSeedEd25519", Convert.ToHexStringLower(SigningSeed));
            w.WriteString("signingPublicKeyEd25519", Convert.ToHexStringLower(authority.SigningPublicKey));
            w.WriteString("noisePublicKeyX25519", Convert.ToHexStringLower(authority.NoisePublicKey));
            w.WriteString("nodePublicKeyX25519", Convert.ToHexStringLower(NodePublic));
            w.WriteString("receiptDomain", "PPN-BINDING-v1");
            w.WriteStartArray("cases");
            foreach (var (name, bytes, verdict) in GrantCases())
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("grant", Convert.ToHexStringLower(bytes));
                w.WriteString("verdict", verdict);
                if (verdict == "refused") w.WriteString("refusalReason", ((RefusalReason)bytes[6]).Token());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("messages");
            w.WriteString("joinRequestSequence42", Convert.ToHexStringLower(request));
            w.WriteString("ackPersisted", Convert.ToHexStringLower(ack));
            w.WriteString("claimHelloNonce", Convert.ToHexStringLower(HelloNonce));
            w.WriteString("claimHelloSecret", Convert.ToHexStringLower(secret));
            w.WriteString("claimHelloTagInput", Convert.ToHexStringLower([.. GenesisWire.ClaimHelloDomain, .. NodePublic, .. hello.AsSpan(0, 56)]));
            w.WriteString("claimHello", Convert.ToHexStringLower(hello));
            w.WriteString("claimRefusalNotPinned", Convert.ToHexStringLower(refusal));
            w.WriteString("enrolledBanner", GenesisBanner.FormatEnrolled(NodePublic, authority.NoisePublicKey));
            w.WriteString("enrolmentRecordJoin", Convert.ToHexStringLower(EnrolmentRecord.Encode(parsed!, EnrolmentOrigin.Join)));
            w.WriteString("joinPrologue", Convert.ToHexStringLower(GenesisWire.Prologue(RequestKind.Join, default)));
            w.WriteString("claimPrologue", Convert.ToHexStringLower(GenesisWire.Prologue(RequestKind.Claim, NodePublic)));
            w.WriteEndObject();
        });
    }

    private static string Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    [Theory]
    [InlineData("genesis-beacon.json")]
    [InlineData("genesis-grant.json")]
    public void The_vector_file_is_what_the_generator_produces(string file)
    {
        var generated = file == "genesis-beacon.json" ? GenerateBeacons() : GenerateGrants();
        var path = Path.Combine(Dir, file);
        if (Environment.GetEnvironmentVariable("PPN_WRITE_VECTORS") == "1") File.WriteAllText(path, generated);
        Assert.Equal(generated, File.ReadAllText(path));
    }

    private static AuthorityTrust TrustFrom(JsonElement root) => new(
        [Convert.FromHexString(root.GetProperty("signingPublicKeyEd25519").GetString()!)],
        [Convert.FromHexString(root.GetProperty("noisePublicKeyX25519").GetString()!)]);

    [Fact]
    public void Every_beacon_vector_gets_its_verdict()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "genesis-beacon.json")));
        var verifier = new BeaconVerifier(TrustFrom(doc.RootElement));
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var verdict = verifier.Verify(Convert.FromHexString(c.GetProperty("datagram").GetString()!), 3, out var beacon);
            Assert.Equal(c.GetProperty("verdict").GetString(), verdict.ToString());
            if (verdict == BeaconVerdict.Accepted)
            {
                Assert.Equal(c.GetProperty("registrarPort").GetInt32(), beacon!.Registrar.Port);
                Assert.Equal(c.GetProperty("sequence").GetUInt64(), beacon.Sequence);
                Assert.Equal(IPAddress.Parse(c.GetProperty("registrar").GetString()!).GetAddressBytes(), beacon.Registrar.Address.GetAddressBytes());
            }
            count++;
        }
        Assert.Equal(11, count);
    }

    [Fact]
    public void Every_grant_vector_gets_its_verdict_and_the_messages_parse()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "genesis-grant.json")));
        var root = doc.RootElement;
        var trust = TrustFrom(root);
        var node = Convert.FromHexString(root.GetProperty("nodePublicKeyX25519").GetString()!);
        int count = 0;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            var bytes = Convert.FromHexString(c.GetProperty("grant").GetString()!);
            string verdict = !EnrolmentGrant.TryParse(bytes, out var grant, out _) ? "malformed"
                : !grant!.IsBoundTo(node, trust) ? "bad-receipt"
                : grant.Status == GrantStatus.Granted ? "granted" : "refused";
            Assert.True(c.GetProperty("verdict").GetString() == verdict, c.GetProperty("name").GetString());
            if (verdict == "refused") Assert.Equal(c.GetProperty("refusalReason").GetString(), grant!.Reason.Token());
            count++;
        }
        Assert.Equal(15, count);
        var m = root.GetProperty("messages");
        Assert.True(GenesisWire.TryParseRequest(Convert.FromHexString(m.GetProperty("joinRequestSequence42").GetString()!), out var kind, out var seq));
        Assert.Equal((RequestKind.Join, 42UL), (kind, seq));
        Assert.True(GenesisWire.TryParseAck(Convert.FromHexString(m.GetProperty("ackPersisted").GetString()!), out var ack));
        Assert.Equal(AckStatus.Persisted, ack);
        var hello = Convert.FromHexString(m.GetProperty("claimHello").GetString()!);
        Assert.True(GenesisWire.TryParseClaimHello(hello, out var named, out var nonce));
        Assert.Equal(Convert.FromHexString(root.GetProperty("noisePublicKeyX25519").GetString()!), named.ToArray());
        Assert.Equal(m.GetProperty("claimHelloNonce").GetString(), Convert.ToHexStringLower(nonce));
        // The node's side: the secret from its own private key and the named authority key, and the tag checks.
        var secret = new byte[32];
        Assert.True(GenesisWire.TryClaimHelloSecret(secret, NodePrivate, named));
        Assert.Equal(m.GetProperty("claimHelloSecret").GetString(), Convert.ToHexStringLower(secret));
        Assert.True(GenesisWire.ClaimHelloTagMatches(hello, secret, node));
        Assert.Equal(Convert.FromHexString(m.GetProperty("claimHelloTagInput").GetString()!), (byte[])[.. GenesisWire.ClaimHelloDomain, .. node, .. hello.AsSpan(0, 56)]);
        var tampered = hello.ToArray(); tampered[40] ^= 1; // another nonce, the same tag
        Assert.False(GenesisWire.ClaimHelloTagMatches(tampered, secret, node));
        var otherNode = node.ToArray(); otherNode[0] ^= 0x40; // the tag binds the banner's node key
        Assert.False(GenesisWire.ClaimHelloTagMatches(hello, secret, otherNode));
        Assert.True(GenesisWire.TryParseClaimRefusal(Convert.FromHexString(m.GetProperty("claimRefusalNotPinned").GetString()!), out var refusal));
        Assert.Equal(ClaimRefusal.NotPinned, refusal);
        Assert.True(GenesisBanner.TryParseEnrolled(m.GetProperty("enrolledBanner").GetString(), out var bannerNode, out var bannerAuthority));
        Assert.Equal(node, bannerNode);
        Assert.Equal(named.ToArray(), bannerAuthority);
        Assert.True(EnrolmentRecord.TryParse(Convert.FromHexString(m.GetProperty("enrolmentRecordJoin").GetString()!), out var stored, out var origin, out _));
        Assert.Equal((EnrolmentOrigin.Join, 5UL), (origin, stored.NodeId));
    }
}

/// <summary>Inputs make fuzz found: non-canonical encodings the parsers once accepted.</summary>
public class GenesisParserRegressionTests
{
    [Fact]
    public void An_ack_with_nonzero_reserved_bytes_does_not_parse()
    {
        Assert.True(GenesisWire.TryParseAck("PPNK\x01\x00\x00\x00"u8, out _));
        Assert.False(GenesisWire.TryParseAck(Convert.FromHexString("50504e4b0100bc00"), out _));
    }

    [Fact]
    public void A_grant_whose_prefix_length_is_not_24_does_not_parse_even_as_a_refusal()
    {
        var refusal = new EnrolmentGrant(GrantStatus.Refused, 0, IPAddress.Any, new IPEndPoint(IPAddress.Loopback, 1), new byte[32], 0, new byte[32], 0, new byte[64]);
        var bytes = new byte[EnrolmentGrant.Size];
        refusal.WriteTo(bytes);
        Assert.True(EnrolmentGrant.TryParse(bytes, out _, out _));
        bytes[20] = 26;
        Assert.False(EnrolmentGrant.TryParse(bytes, out _, out var error));
        Assert.Contains("prefix length", error);
    }

    [Theory]
    [InlineData(16383UL, true)]
    [InlineData(16384UL, false)]
    [InlineData(99999UL, false)]
    [InlineData(ulong.MaxValue, false)]
    public void A_granted_node_id_must_fit_the_14_bit_command_target(ulong nodeId, bool parses)
    {
        var grant = new EnrolmentGrant(GrantStatus.Granted, nodeId, IPAddress.Parse("10.8.0.2"), new IPEndPoint(IPAddress.Loopback, 1), new byte[32], 0, new byte[32], 0, new byte[64]);
        var bytes = new byte[EnrolmentGrant.Size];
        grant.WriteTo(bytes);
        Assert.Equal(parses, EnrolmentGrant.TryParse(bytes, out _, out var error));
        if (!parses)
        {
            Assert.Contains("node ID", error);
        }
    }
}
