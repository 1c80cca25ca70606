using System.Net;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>Hostile bytes: mutated sets, revocations and sync-port frames never throw and are never accepted.</summary>
public class MutationTests
{
    [Fact]
    public void Twenty_thousand_mutated_sets_never_throw_and_none_verifies()
    {
        using var authority = SyncVectorTests.Authority();
        var grants = Enumerable.Range(2, 4).Select(i => authority.Grant(SyncVectorTests.NodeKey(i), (ulong)i, IPAddress.Parse($"10.8.0.{i}"), 1)).ToList();
        var valid = PeerSet.Sign(3, 1, authority.HubPublicKey, grants, [Revocation.Sign(9, SyncVectorTests.NodeKey(9), 2, authority.SigningPrivateKey)], authority.SigningPrivateKey).Bytes;
        var trust = authority.Trust;
        var random = new Random(15);
        for (int i = 0; i < 20_000; i++)
        {
            var bytes = valid.ToArray();
            int flips = 1 + random.Next(4);
            for (int f = 0; f < flips; f++) bytes[random.Next(bytes.Length)] ^= (byte)(1 + random.Next(255));
            if (random.Next(10) == 0) bytes = bytes[..random.Next(bytes.Length)];
            var verdict = PeerSet.Verify(bytes, trust, authority.HubPublicKey, out _, out _);
            Assert.True(verdict != SetVerdict.Accepted || bytes.AsSpan().SequenceEqual(valid), $"mutation {i} was accepted");
        }
    }

    [Fact]
    public void Random_frames_never_throw()
    {
        var random = new Random(16);
        var buffer = new byte[EndpointHint.Size];
        for (int i = 0; i < 50_000; i++)
        {
            random.NextBytes(buffer);
            if (i % 3 == 0) { "PPNA"u8.CopyTo(buffer); buffer[4] = 1; }
            SyncWire.TryParseRequest(buffer.AsSpan(0, SyncWire.RequestSize), out _);
            SyncWire.TryParseReplyHeader(buffer.AsSpan(0, SyncWire.ReplyHeaderSize), out _, out _, out _, out _);
            SyncWire.TryParseHint(buffer, out _);
            Revocation.TryParse(buffer, out _, out _);
        }
    }
}
