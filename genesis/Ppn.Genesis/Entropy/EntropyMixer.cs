using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Geralt;

namespace Ppn.Genesis.Entropy;

/// <summary>A 32-byte seed and the sources that went into it.</summary>
public readonly record struct MixedSeed(EntropySources Sources, IReadOnlyList<string> Problems);

/// <summary>
/// seed = BLAKE2b-256(key = 32 bytes of getrandom,
///                    msg = "PPN-GENESIS-ENTROPY-v1" || for each source: len(label) label len16(bytes) bytes)
/// The key alone already makes the seed as strong as getrandom; every further source can only add
/// (a keyed hash of attacker-chosen input stays unpredictable without the key). So a backdoored or
/// broken hardware generator cannot weaken the seed, and a weak early-boot kernel pool is strengthened
/// by RDSEED/hwrng. Construction and rationale: docs/genesis-identity.md.
/// </summary>
public sealed class EntropyMixer
{
    public const string Domain = "PPN-GENESIS-ENTROPY-v1";
    public const int SeedSize = 32;
    private const int PerSourceBytes = 64;
    private readonly IReadOnlyList<IEntropySource> _sources;

    /// <param name="sources">Additional sources, mixed after the mandatory kernel CSPRNG key.</param>
    public EntropyMixer(IReadOnlyList<IEntropySource> sources) => _sources = sources;

    public static EntropyMixer ForThisMachine() =>
        new([new KernelRandomSource(), new CpuRngSource(preferSeed: true), new HardwareRngSource()]);

    public MixedSeed Mix(Span<byte> seed)
    {
        if (seed.Length != SeedSize)
        {
            throw new ArgumentException($"seed must be {SeedSize} bytes", nameof(seed));
        }
        var problems = new List<string>();
        var sources = EntropySources.KernelCsprng;
        byte[] key = new byte[BLAKE2b.MaxKeySize >= 32 ? 32 : BLAKE2b.MaxKeySize];
        byte[] message = new byte[Domain.Length + _sources.Count * (1 + 32 + 2 + PerSourceBytes)];
        byte[] sample = new byte[PerSourceBytes];
        try
        {
            KernelRandomSource.Fill(key);
            int at = Encoding.ASCII.GetBytes(Domain, message);
            foreach (var source in _sources)
            {
                var label = Encoding.ASCII.GetBytes(source.Label.Length > 32 ? source.Label[..32] : source.Label);
                var got = source.TryFill(sample, out var problem);
                if (got == EntropySources.None)
                {
                    problems.Add($"{source.Label}: {problem}");
                    continue;
                }
                sources |= got;
                message[at++] = (byte)label.Length;
                label.CopyTo(message, at);
                at += label.Length;
                BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(at), PerSourceBytes);
                at += 2;
                sample.CopyTo(message, at);
                at += PerSourceBytes;
            }
            BLAKE2b.ComputeTag(seed, message.AsSpan(0, at), key);
            return new MixedSeed(sources, problems);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(message);
            CryptographicOperations.ZeroMemory(sample);
        }
    }
}
