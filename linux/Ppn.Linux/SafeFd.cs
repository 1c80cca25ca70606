using System.Runtime.InteropServices;
using Ppn.Linux.Interop;

namespace Ppn.Linux;

/// <summary>An owned file descriptor; closed exactly once.</summary>
public sealed class SafeFd : SafeHandle
{
    public SafeFd() : base(new IntPtr(-1), ownsHandle: true) { }

    public SafeFd(int fd, bool ownsHandle = true) : base(new IntPtr(-1), ownsHandle) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle.ToInt64() < 0;

    public int Fd => (int)handle.ToInt64();

    protected override bool ReleaseHandle() => LibC.close(Fd) == 0;

    /// <summary>open(2) with O_CLOEXEC added; throws <see cref="SyscallException"/> naming the path.</summary>
    public static SafeFd Open(string path, int flags, uint mode = 0, string? advice = null)
    {
        int fd = LibC.open(path, flags | OpenFlags.O_CLOEXEC, mode);
        SyscallException.ThrowIfFailed(fd, "open", path, advice);
        return new SafeFd(fd);
    }

    /// <summary>open(2) that reports failure as an errno instead of throwing (for probing).</summary>
    public static SafeFd? TryOpen(string path, int flags, out int errno, uint mode = 0)
    {
        int fd = LibC.open(path, flags | OpenFlags.O_CLOEXEC, mode);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        errno = 0;
        return new SafeFd(fd);
    }
}

/// <summary>open(2) flags for x86-64 and arm64 (asm-generic/fcntl.h).</summary>
public static class OpenFlags
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOCTTY = 0x100;
    public const int O_TRUNC = 0x200;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
}
