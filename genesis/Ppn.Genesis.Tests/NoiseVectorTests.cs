using System.Text.Json;
using Ppn.Genesis.Noise;

namespace Ppn.Genesis.Tests;

public class NoiseVectorTests
{
    private static JsonElement Vector()
    {
        var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Root, "docs/protocol/vectors/genesis-noise-ik.json")));
        return doc.RootElement.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "Noise_IK_25519_ChaChaPoly_BLAKE2b");
    }

    private static byte[] Hex(JsonElement e, string name) => Convert.FromHexString(e.GetProperty(name).GetString()!);

    [Fact]
    public void Handshake_and_transport_reproduce_the_public_noise_c_vector_byte_for_byte()
    {
        var v = Vector();
        var messages = v.GetProperty("messages").EnumerateArray().Select(m => (Payload: Hex(m, "payload"), Cipher: Hex(m, "ciphertext"))).ToList();
        using var init = NoiseIK.WithFixedEphemeral(NoiseRole.Initiator, Hex(v, "init_static"), Hex(v, "init_remote_static"), Hex(v, "init_prologue"), Hex(v, "init_ephemeral"));
        using var resp = NoiseIK.WithFixedEphemeral(NoiseRole.Responder, Hex(v, "resp_static"), default, Hex(v, "resp_prologue"), Hex(v, "resp_ephemeral"));

        var buffer = new byte[1024];
        var plain = new byte[1024];
        int n = init.WriteMessage1(messages[0].Payload, buffer);
        Assert.Equal(Convert.ToHexString(messages[0].Cipher), Convert.ToHexString(buffer, 0, n));
        Assert.True(resp.TryReadMessage1(buffer.AsSpan(0, n), plain, out int p));
        Assert.Equal(messages[0].Payload, plain[..p]);
        Assert.Equal(init.LocalStaticPublicKey.ToArray(), resp.RemoteStaticPublicKey.ToArray());

        n = resp.WriteMessage2(messages[1].Payload, buffer);
        Assert.Equal(Convert.ToHexString(messages[1].Cipher), Convert.ToHexString(buffer, 0, n));
        Assert.True(init.TryReadMessage2(buffer.AsSpan(0, n), plain, out p));
        Assert.Equal(messages[1].Payload, plain[..p]);

        Assert.Equal(v.GetProperty("handshake_hash").GetString(), Convert.ToHexString(init.HandshakeHash).ToLowerInvariant());
        Assert.Equal(init.HandshakeHash.ToArray(), resp.HandshakeHash.ToArray());

        using var ti = init.Split();
        using var tr = resp.Split();
        for (int i = 2; i < messages.Count; i++)
        {
            var (sender, receiver) = i % 2 == 0 ? (ti, tr) : (tr, ti);
            n = sender.Encrypt(messages[i].Payload, buffer);
            Assert.Equal(Convert.ToHexString(messages[i].Cipher), Convert.ToHexString(buffer, 0, n));
            Assert.True(receiver.TryDecrypt(buffer.AsSpan(0, n), plain, out p));
            Assert.Equal(messages[i].Payload, plain[..p]);
        }
    }

    [Fact]
    public void Responder_static_key_in_the_vector_matches_the_initiators_pinned_key()
    {
        var v = Vector();
        var pub = new byte[32];
        Geralt.X25519.ComputePublicKey(pub, Hex(v, "resp_static"));
        Assert.Equal(Hex(v, "init_remote_static"), pub);
    }

    [Fact]
    public void Initiator_refuses_a_reply_from_anyone_but_the_pinned_responder()
    {
        var authority = new byte[32]; var authorityPub = new byte[32];
        Geralt.X25519.GenerateKeyPair(authorityPub, authority);
        var rogue = new byte[32]; var roguePub = new byte[32];
        Geralt.X25519.GenerateKeyPair(roguePub, rogue);
        var node = new byte[32]; var nodePub = new byte[32];
        Geralt.X25519.GenerateKeyPair(nodePub, node);

        using var init = NoiseIK.Initiator(node, authorityPub, "p"u8);
        using var impostor = NoiseIK.Responder(rogue, "p"u8);
        var m1 = new byte[256]; var m2 = new byte[256]; var plain = new byte[256];
        int n1 = init.WriteMessage1("hello"u8, m1);
        // The impostor cannot even read message 1: it was encrypted to the authority's key.
        Assert.False(impostor.TryReadMessage1(m1.AsSpan(0, n1), plain, out _));

        // A replayed genuine message 2 from another session does not authenticate either.
        using var init2 = NoiseIK.Initiator(node, authorityPub, "p"u8);
        using var real = NoiseIK.Responder(authority, "p"u8);
        int a = init2.WriteMessage1("x"u8, m1);
        Assert.True(real.TryReadMessage1(m1.AsSpan(0, a), plain, out _));
        int b = real.WriteMessage2("grant"u8, m2);
        Assert.True(init2.TryReadMessage2(m2.AsSpan(0, b), plain, out _));
        Assert.False(init.TryReadMessage2(m2.AsSpan(0, b), plain, out _));
        Assert.False(init.IsComplete);
    }

    [Fact]
    public void Flipped_bits_anywhere_in_message_one_are_rejected()
    {
        var authority = new byte[32]; var authorityPub = new byte[32];
        Geralt.X25519.GenerateKeyPair(authorityPub, authority);
        var node = new byte[32]; var nodePub = new byte[32];
        Geralt.X25519.GenerateKeyPair(nodePub, node);
        using var init = NoiseIK.Initiator(node, authorityPub, default);
        var m1 = new byte[256];
        int n = init.WriteMessage1("payload"u8, m1);
        for (int i = 32; i < n; i += 7)
        {
            var copy = m1.AsSpan(0, n).ToArray();
            copy[i] ^= 0x01;
            using var resp = NoiseIK.Responder(authority, default);
            Assert.False(resp.TryReadMessage1(copy, new byte[256], out _));
        }
    }
}
