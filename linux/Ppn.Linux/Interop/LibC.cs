using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>
/// Source-generated (AOT-safe) libc bindings shared by all parts. Each part may add calls in its own
/// partial file (LibC.&lt;Area&gt;.cs). Every call sets errno for <see cref="SyscallException"/>.
/// </summary>
public static unsafe partial class LibC
{
    public const string Lib = "libc";

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint arg);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint getrandom(byte* buf, nuint count, uint flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getpid();
}
