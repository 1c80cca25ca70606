using System.Diagnostics;
using System.Runtime.InteropServices;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Genesis.Entropy;

/// <summary>
/// /dev/hwrng (TPM, virtio-rng, chipset RNG) read without blocking, within a deadline. Absent, empty or slow
/// is normal on many machines and only means this source is not counted.
/// </summary>
public sealed unsafe class HardwareRngSource : IEntropySource
{
    private readonly string _path;
    private readonly TimeSpan _deadline;

    public HardwareRngSource(string path = "/dev/hwrng", TimeSpan? deadline = null)
    {
        _path = path;
        _deadline = deadline ?? TimeSpan.FromMilliseconds(500);
    }

    public string Label => "hwrng";

    public EntropySources TryFill(Span<byte> destination, out string? problem)
    {
        using var fd = SafeFd.TryOpen(_path, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK, out int openErrno);
        if (fd is null)
        {
            problem = $"{_path}: {SyscallException.Describe(openErrno)}";
            return EntropySources.None;
        }
        var clock = Stopwatch.StartNew();
        int done = 0;
        fixed (byte* p = destination)
        {
            while (done < destination.Length)
            {
                nint n = LibC.read(fd.Fd, p + done, (nuint)(destination.Length - done));
                if (n > 0)
                {
                    done += (int)n;
                    continue;
                }
                int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                if ((n == 0 || errno == (int)Errno.EAGAIN || errno == (int)Errno.EINTR) && clock.Elapsed < _deadline)
                {
                    Thread.Sleep(10); // the device has no poll(2) support: retry within the deadline
                    continue;
                }
                destination.Clear();
                problem = n == 0 || errno == (int)Errno.EAGAIN
                    ? $"{_path}: no data within {_deadline.TotalMilliseconds:0} ms"
                    : $"{_path}: {SyscallException.Describe(errno)}";
                return EntropySources.None;
            }
        }
        problem = null;
        return EntropySources.HardwareRng;
    }
}
