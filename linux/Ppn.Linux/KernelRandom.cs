using System.Runtime.InteropServices;
using Ppn.Linux.Interop;

namespace Ppn.Linux;

/// <summary>
/// The kernel CSPRNG through getrandom(2). The node binary uses this (or libsodium) for every random byte,
/// never System.Security.Cryptography.RandomNumberGenerator: on Linux that goes through OpenSSL, which the
/// node image does not ship, and the runtime aborts the process (PID 1: kernel panic) when libssl is missing.
/// </summary>
public static unsafe class KernelRandom
{
    /// <summary>Fills the buffer; blocks only until the kernel pool is initialised (flags 0). Retries EINTR.</summary>
    public static void Fill(Span<byte> destination)
    {
        fixed (byte* p = destination)
        {
            int done = 0;
            int interrupted = 0;
            while (done < destination.Length)
            {
                nint n = LibC.getrandom(p + done, (nuint)(destination.Length - done), 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == (int)Errno.EINTR && ++interrupted < 100)
                    {
                        continue;
                    }
                    throw new SyscallException("getrandom", $"{destination.Length} bytes", errno, "the kernel CSPRNG is unavailable");
                }
                done += (int)n;
            }
        }
    }
}
