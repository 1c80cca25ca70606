using System.Runtime.InteropServices;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Genesis.Entropy;

/// <summary>
/// getrandom(2) with flags 0: blocks until the kernel's CSPRNG is initialised (it is, long before genesis,
/// on any machine with RDRAND or a hardware RNG), then never blocks. Mandatory: without it there is no key.
/// </summary>
public sealed unsafe class KernelRandomSource : IEntropySource
{
    public string Label => "getrandom";

    public EntropySources TryFill(Span<byte> destination, out string? problem)
    {
        Fill(destination);
        problem = null;
        return EntropySources.KernelCsprng;
    }

    public static void Fill(Span<byte> destination)
    {
        fixed (byte* p = destination)
        {
            int done = 0;
            int attempts = 0;
            while (done < destination.Length)
            {
                nint n = LibC.getrandom(p + done, (nuint)(destination.Length - done), 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == (int)Errno.EINTR && ++attempts < 100)
                    {
                        continue;
                    }
                    throw new SyscallException("getrandom", $"{destination.Length} bytes", errno, "the kernel CSPRNG is unavailable: genesis cannot make a key");
                }
                done += (int)n;
            }
        }
    }
}
