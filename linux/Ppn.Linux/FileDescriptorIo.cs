using Ppn.Linux.Interop;

namespace Ppn.Linux;

/// <summary>read/write loops over a <see cref="SafeFd"/> that retry EINTR and report the path on failure.</summary>
public static unsafe class FileDescriptorIo
{
    /// <summary>Reads until <paramref name="buffer"/> is full or end of file; returns the bytes read.</summary>
    public static int ReadAll(SafeFd fd, Span<byte> buffer, string path)
    {
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                nint n = LibC.read(fd.Fd, p + total, (nuint)(buffer.Length - total));
                if (n < 0)
                {
                    var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno == (int)Errno.EINTR) continue;
                    throw new SyscallException("read", path, errno);
                }
                if (n == 0) break;
                total += (int)n;
            }
        }
        return total;
    }

    /// <summary>One write(2) call for the whole buffer (efivarfs and sysfs need the record in one call).</summary>
    public static void WriteOnce(SafeFd fd, ReadOnlySpan<byte> buffer, string path, string? advice = null)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.write(fd.Fd, p, (nuint)buffer.Length);
                if (n < 0)
                {
                    var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno == (int)Errno.EINTR) continue;
                    throw new SyscallException("write", path, errno, advice);
                }
                if (n != buffer.Length)
                {
                    throw new IOException($"write({path}) wrote {n} of {buffer.Length} bytes; the record was not stored whole");
                }
                return;
            }
        }
    }
}
