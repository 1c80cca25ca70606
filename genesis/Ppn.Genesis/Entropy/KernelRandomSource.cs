using Ppn.Linux;

namespace Ppn.Genesis.Entropy;

/// <summary>
/// getrandom(2) with flags 0: blocks until the kernel's CSPRNG is initialised (it is, long before genesis,
/// on any machine with RDRAND or a hardware RNG), then never blocks. Mandatory: without it there is no key.
/// </summary>
public sealed class KernelRandomSource : IEntropySource
{
    public string Label => "getrandom";

    public EntropySources TryFill(Span<byte> destination, out string? problem)
    {
        Fill(destination);
        problem = null;
        return EntropySources.KernelCsprng;
    }

    public static void Fill(Span<byte> destination) => KernelRandom.Fill(destination);
}
