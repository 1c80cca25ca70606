using System.Text.Json;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;

namespace Ppn.Genesis.Tests;

/// <summary>docs/protocol/vectors/identity-record.json: generated here (PPN_WRITE_VECTORS=1), checked always.</summary>
public class IdentityRecordVectorTests
{
    private static readonly string VectorFile = Path.Combine(Repository.Root, "docs", "protocol", "vectors", "identity-record.json");

    private static byte[] ValidRecord()
    {
        var seed = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        using var keys = NodeKeyPair.FromSeed(seed);
        var bytes = new byte[IdentityRecord.Size];
        new IdentityRecord(1, EntropySources.KernelCsprng | EntropySources.CpuRdrand, keys.PrivateKey.ToArray(), keys.PublicKey).WriteTo(bytes);
        return bytes;
    }

    private static IEnumerable<(string Name, byte[] Record, string? Error)> Cases()
    {
        var valid = ValidRecord();
        yield return ("valid", valid, null);
        var badMagic = valid.ToArray(); badMagic[0] = (byte)'X';
        yield return ("bad-magic", badMagic, "bad magic");
        var badVersion = valid.ToArray(); badVersion[4] = 2;
        yield return ("unsupported-version", badVersion, "version 2 is not supported");
        var badChecksum = valid.ToArray(); badChecksum[20] ^= 0x01;
        yield return ("bad-checksum", badChecksum, "checksum mismatch");
        yield return ("truncated", valid[..100], "is 100 bytes, expected 104");
        // Key mismatch with a valid checksum: the public key of another private key, checksum recomputed.
        var otherSeed = Enumerable.Repeat((byte)0x42, 32).ToArray();
        using var other = NodeKeyPair.FromSeed(otherSeed);
        using var mine = NodeKeyPair.FromSeed(Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
        var mismatch = new byte[IdentityRecord.Size];
        new IdentityRecord(1, EntropySources.KernelCsprng, mine.PrivateKey.ToArray(), other.PublicKey).WriteTo(mismatch);
        yield return ("key-mismatch", mismatch, "does not belong to its private key");
    }

    [Fact]
    public void The_vector_file_is_what_the_generator_produces()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("spec", "docs/protocol/identity-record.md");
            w.WriteString("seed", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
            using (var keys = NodeKeyPair.FromSeed(Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")))
            {
                w.WriteString("privateKeyClamped", Convert.ToHexStringLower(keys.PrivateKey));
                w.WriteString("publicKey", Convert.ToHexStringLower(keys.PublicKey));
                w.WriteString("publicKeyBase64", keys.PublicKeyBase64);
            }
            w.WriteStartArray("cases");
            foreach (var (name, record, error) in Cases())
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("record", Convert.ToHexStringLower(record));
                w.WriteString("verdict", error is null ? "valid" : "invalid");
                if (error is not null) w.WriteString("errorContains", error);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        var generated = System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
        if (Environment.GetEnvironmentVariable("PPN_WRITE_VECTORS") == "1")
        {
            File.WriteAllText(VectorFile, generated);
        }
        Assert.Equal(generated, File.ReadAllText(VectorFile));
    }

    [Fact]
    public void Every_vector_gets_its_verdict()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(VectorFile));
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var bytes = Convert.FromHexString(c.GetProperty("record").GetString()!);
            bool ok = IdentityRecord.TryParse(bytes, out var record, out var error);
            if (c.GetProperty("verdict").GetString() == "valid")
            {
                Assert.True(ok, $"{c.GetProperty("name")}: {error}");
                Assert.Equal(doc.RootElement.GetProperty("publicKey").GetString(), Convert.ToHexStringLower(record.PublicKey));
                var again = new byte[IdentityRecord.Size];
                record.WriteTo(again);
                Assert.Equal(bytes, again);
            }
            else
            {
                Assert.False(ok, c.GetProperty("name").GetString());
                Assert.Contains(c.GetProperty("errorContains").GetString()!, error);
            }
            count++;
        }
        Assert.Equal(6, count);
    }

    [Fact]
    public void Hostile_bytes_never_throw()
    {
        var random = new Random(7);
        var valid = ValidRecord();
        for (int i = 0; i < 5000; i++)
        {
            var copy = (i % 3 == 0 ? new byte[random.Next(0, 200)] : valid.ToArray());
            if (i % 3 == 0) random.NextBytes(copy);
            else copy[random.Next(copy.Length)] ^= (byte)(1 + random.Next(255));
            Assert.False(IdentityRecord.TryParse(copy, out _, out var error));
            Assert.False(string.IsNullOrEmpty(error));
        }
    }
}
