namespace Ppn.Genesis.Entropy;

/// <summary>Which sources went into a key; stored in the identity record (docs/protocol/identity-record.md).</summary>
[Flags]
public enum EntropySources : ushort
{
    None = 0,
    KernelCsprng = 0x1,
    CpuRdseed = 0x2,
    CpuRdrand = 0x4,
    HardwareRng = 0x8,
}

/// <summary>One source of random bytes. Hardware sources may be absent; that is reported, not thrown.</summary>
public interface IEntropySource
{
    string Label { get; }

    /// <summary>Fills <paramref name="destination"/> and returns the flag it earned, or None with a reason.</summary>
    EntropySources TryFill(Span<byte> destination, out string? problem);
}
