using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

public static unsafe partial class LibC
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_SIZE = 0x200;

    /// <summary>sizeof(struct statx) (include/uapi/linux/stat.h): one layout on every architecture, unlike struct stat.</summary>
    public const int StatxSize = 256;
    public const int StatxModeOffset = 28, StatxSizeOffset = 40, StatxRdevMajorOffset = 128, StatxRdevMinorOffset = 132;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    /// <summary>realpath(3) with a NULL buffer: the result is malloc'd; the caller frees it.</summary>
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint realpath(string path, nint resolved);

    [LibraryImport(Lib)]
    public static partial void free(nint pointer);
}
